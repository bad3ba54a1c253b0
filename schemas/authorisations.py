"""Collectors' authorisations (certificates) to be dispatched, per lender and jurisdiction."""

import marshmallow as ma

from api.extensions import Schema
from schemas.common import in_years, page_of

LENDER = ma.validate.Regexp(r"^(\*|[A-Za-z0-9_.-]{1,64})$", error="a lender code, or * for any")
JURISDICTION = ma.validate.Regexp(r"^[A-Z]{2}$", error="a two-letter jurisdiction such as CN")


class AuthorisationCreateSchema(Schema):
    """A certificate an administrator records for a collector."""

    certificate_no = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=64),
        metadata={"example": "CBA-2026-004211"})
    lender = ma.fields.String(
        load_default="*", validate=LENDER,
        metadata={"description": "the lender it covers; `*` (the default): every lender"})
    jurisdiction = ma.fields.String(
        load_default="CN", validate=JURISDICTION, metadata={"example": "CN"})
    valid_from = ma.fields.Date(required=True, validate=in_years)
    expires_on = ma.fields.Date(
        load_default=None, allow_none=True, validate=in_years,
        metadata={"description": "the last day it is valid (null: it does not expire)"})


class AuthorisationRevokeSchema(Schema):
    reason = ma.fields.String(
        required=True, validate=ma.validate.Length(min=3, max=400),
        metadata={"example": "certificate withdrawn by the association"})


class AuthorisationSchema(Schema):
    """An authorisation as the API answers it; a revoked one stays listed."""

    id = ma.fields.Integer(required=True)
    collector_id = ma.fields.Integer(required=True)
    certificate_no = ma.fields.String(required=True)
    lender = ma.fields.String(required=True)
    jurisdiction = ma.fields.String(required=True)
    valid_from = ma.fields.Date(required=True)
    expires_on = ma.fields.Date(allow_none=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True)
    revoked_by_id = ma.fields.Integer(allow_none=True)
    revoke_reason = ma.fields.String(allow_none=True)
    granted_by_id = ma.fields.Integer(allow_none=True)
    granted_at = ma.fields.AwareDateTime()


AuthorisationPageSchema = page_of(AuthorisationSchema, "AuthorisationPage")
