"""Who may see which case: the one rule every read path (API, sync, evidence) goes through."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.models import Case, Role
from api.services.exceptions import Forbidden, NotFound
from api.services.identity.accounts import Principal


def visible_cases(principal: Principal, stmt: Select | None = None) -> Select:
    """Restrict a select over Case to what the principal may read."""
    stmt = select(Case) if stmt is None else stmt
    if principal.role is Role.COLLECTOR:
        return stmt.where(Case.collector_id == principal.user_id)
    if principal.role is Role.SUPERVISOR:
        return stmt.where(Case.team_id == principal.team_id)
    return stmt  # legal staff and admins read every case


def get_visible_case(session: Session, principal: Principal, case_id: int, *options) -> Case:
    """The case, or NotFound whether it is missing or hidden: existence must not leak."""
    case = session.scalar(visible_cases(principal).where(Case.id == case_id).options(*options))
    if case is None:
        raise NotFound("No such case.")
    return case


def sees_full_personal_data(principal: Principal, case: Case) -> bool:
    """Full national ID and phones only for the collector the case is assigned to."""
    return principal.role is Role.COLLECTOR and case.collector_id == principal.user_id


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise Forbidden("Your role may not do this.")
