"""Granting and revoking collectors' authorisations (administrators). A collector created
through the API holds none: an administrator records the certificate they were actually
issued (`POST /admin/users/{id}/authorisations`) before they can be dispatched under a policy
that requires one. The demo seed and the test factories grant `STANDARD` to every collector."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import CollectorAuthorisation, Role, User
from api.models.compliance import ANY_LENDER
from api.services.exceptions import Conflict, InvalidInput, NotFound
from api.services.identity import audit
from api.services.identity.access import require_role
from api.services.identity.accounts import Principal

# What the demo seed and the test factories grant: every lender in China, no expiry.
STANDARD = {"lender": ANY_LENDER, "jurisdiction": "CN", "expires_on": None}


def collector(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def grant(
    session: Session,
    user: User,
    *,
    certificate_no: str,
    lender: str = ANY_LENDER,
    jurisdiction: str = "CN",
    valid_from: date,
    expires_on: date | None = None,
    granted_by_id: int | None = None,
) -> CollectorAuthorisation:
    """Record a certificate a collector holds (validity: `valid_from` through `expires_on`)."""
    if user.role is not Role.COLLECTOR:
        raise InvalidInput("Only collectors are authorised for cases.",
                           fields={"user_id": ["not a collector"]})
    if expires_on is not None and expires_on < valid_from:
        raise InvalidInput("A certificate cannot expire before it is valid.",
                           fields={"expires_on": [f"before valid_from ({valid_from})"]})
    row = CollectorAuthorisation(
        collector_id=user.id, lender=lender, jurisdiction=jurisdiction,
        certificate_no=certificate_no, valid_from=valid_from, expires_on=expires_on,
        granted_by_id=granted_by_id)
    session.add(row)
    session.flush()
    return row


def grant_by_admin(session: Session, principal: Principal, user_id: int, args: dict):
    require_role(principal, Role.ADMIN)
    row = grant(session, collector(session, user_id), granted_by_id=principal.user_id, **args)
    audit.record(session, principal, "authorisation.grant",
                 detail={"user_id": user_id, "authorisation_id": row.id})
    return row


def list_for(session: Session, principal: Principal, user_id: int):
    """A statement for the user's authorisations, newest first."""
    require_role(principal, Role.ADMIN)
    collector(session, user_id)
    return select(CollectorAuthorisation).where(CollectorAuthorisation.collector_id == user_id)


def revoke(
    session: Session, principal: Principal, user_id: int, authorisation_id: int, *,
    reason: str, now: datetime,
) -> CollectorAuthorisation:
    """Revoke at once: from now on the collector may not be dispatched under it."""
    require_role(principal, Role.ADMIN)
    row = session.get(CollectorAuthorisation, authorisation_id, with_for_update=True)
    if row is None or row.collector_id != user_id:
        raise NotFound("No such authorisation of this user.")
    if row.revoked_at is not None:
        raise Conflict(f"Authorisation {row.id} was already revoked on "
                       f"{row.revoked_at.date().isoformat()}.", code="already_revoked")
    row.revoked_at, row.revoked_by_id, row.revoke_reason = now, principal.user_id, reason
    session.flush()
    audit.record(session, principal, "authorisation.revoke",
                 detail={"user_id": user_id, "authorisation_id": row.id})
    return row
