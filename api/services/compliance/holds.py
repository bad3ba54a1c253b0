"""Legal holds: legal staff freeze a case's records for a lawsuit or a preservation order.
While a hold is active, retention skips the case and an erasure request touching it is refused
(rule `legal_hold`)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.models import Case, HoldKind, LegalHold, Role
from api.models.types import utcnow
from api.services.exceptions import Conflict, NotFound
from api.services.identity import audit
from api.services.identity.access import get_visible_case, require_role
from api.services.identity.accounts import Principal

HOLD_ROLES = (Role.LEGAL, Role.ADMIN)


def place_hold(session: Session, principal: Principal, case_id: int, *, kind: HoldKind,
               reference: str, note: str | None = None) -> LegalHold:
    require_role(principal, *HOLD_ROLES)
    case = get_visible_case(session, principal, case_id)
    # The row retention and erasure lock before purging: a hold waits for a purge running.
    session.scalars(select(Case.id).where(Case.id == case.id).with_for_update()).one()
    session.refresh(case, ["purged_at"])
    if case.purged_at is not None:
        raise Conflict(f"Case {case.contract_no} was purged on {case.purged_at:%Y-%m-%d}: its "
                       "field records and evidence are gone, there is nothing left to hold.",
                       fields={"case_id": ["already purged"]})
    hold = LegalHold(case_id=case.id, kind=kind, reference=reference, note=note,
                     placed_by_id=principal.user_id, placed_at=utcnow())
    session.add(hold)
    session.flush()
    audit.record(session, principal, "legal_hold.place", case_id=case.id,
                 detail={"hold_id": hold.id, "kind": kind.value})
    return hold


def release_hold(session: Session, principal: Principal, hold_id: int, *,
                 note: str | None = None) -> LegalHold:
    require_role(principal, *HOLD_ROLES)
    hold = session.get(LegalHold, hold_id, with_for_update={"of": LegalHold})
    if hold is None:
        raise NotFound("No such legal hold.")
    if hold.released_at is not None:
        raise Conflict(f"This hold was already released on {hold.released_at:%Y-%m-%d}.")
    hold.released_by_id, hold.released_at, hold.release_note = principal.user_id, utcnow(), note
    session.flush()
    audit.record(session, principal, "legal_hold.release", case_id=hold.case_id,
                 detail={"hold_id": hold.id})
    return hold


def holds_query(*, case_id: int | None = None, active: bool | None = None,
                kind: HoldKind | None = None) -> Select:
    stmt = select(LegalHold)
    if case_id is not None:
        stmt = stmt.where(LegalHold.case_id == case_id)
    if active is not None:
        stmt = stmt.where(LegalHold.released_at.is_(None) if active
                          else LegalHold.released_at.is_not(None))
    if kind is not None:
        stmt = stmt.where(LegalHold.kind == kind)
    return stmt


def active_holds(session: Session, case_ids: Iterable[int]) -> dict[int, LegalHold]:
    """The oldest active hold of each of `case_ids` that has one."""
    ids = list(case_ids)
    found: dict[int, LegalHold] = {}
    for start in range(0, len(ids), 500):
        for hold in session.scalars(
            holds_query(active=True).where(LegalHold.case_id.in_(ids[start:start + 500]))
            .order_by(LegalHold.placed_at, LegalHold.id)
        ):
            found.setdefault(hold.case_id, hold)
    return found


def hold_sentence(case: Case, hold: LegalHold) -> str:
    kind = "litigation" if hold.kind is HoldKind.LITIGATION else "asset preservation"
    return (f"Case {case.contract_no} is under a legal hold for {kind} "
            f"({hold.reference}) since {hold.placed_at:%Y-%m-%d}.")

