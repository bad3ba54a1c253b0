"""Imports from the lender (placeholder; filled in by the import work)."""

from api.extensions import Blueprint

blp = Blueprint("imports", __name__, url_prefix="/imports", description="Lender imports")
