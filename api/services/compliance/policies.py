"""Which policy version governs a case at a moment. (Being built: policies as data, per
lender and jurisdiction. Until then every case gets the CN defaults.)"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from api.config import Policy
from api.models import Case


def policy_for_case(session: Session, case: Case, at: datetime) -> Policy:
    """The policy version in effect for `case` at `at` (its rules, name, version, version_id)."""
    return Policy()
