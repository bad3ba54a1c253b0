"""Assigning cases to teams and collectors, keeping the history."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.models import Assignment, Case, Role, User
from api.models.cases import CLOSED_STATUSES
from api.models.types import utcnow
from api.services.exceptions import Forbidden, InvalidInput
from api.services.identity.access import get_visible_case
from api.services.identity.accounts import Principal


def assign_case(
    session: Session,
    principal: Principal,
    case_id: int,
    *,
    collector_id: int | None,
    team_id: int | None = None,
    reason: str | None = None,
) -> Case:
    """Give a case to a collector (or leave it with a team, unassigned).

    Supervisors assign within their own team; admins anywhere. The open assignment is closed
    and a new one opened in the same transaction."""
    if principal.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("Only supervisors and administrators assign cases.")
    case = get_visible_case(session, principal, case_id)
    if case.status in CLOSED_STATUSES and collector_id is not None:
        raise InvalidInput(
            "A settled or written-off case cannot be assigned.",
            fields={"collector_id": ["case is closed"]},
        )
    collector = None
    if collector_id is not None:
        collector = session.get(User, collector_id)
        if collector is None or collector.role is not Role.COLLECTOR or not collector.is_active:
            raise InvalidInput(
                "No such active collector.", fields={"collector_id": ["not an active collector"]}
            )
        team_id = collector.team_id if team_id is None else team_id
        if collector.team_id != team_id:
            raise InvalidInput(
                "The collector is not in that team.", fields={"collector_id": ["not in the team"]}
            )
    team_id = case.team_id if team_id is None else team_id
    if principal.role is Role.SUPERVISOR and team_id != principal.team_id:
        raise Forbidden("Supervisors assign only within their own team.")
    set_assignment(
        session,
        case,
        team_id=team_id,
        collector_id=collector_id,
        assigned_by_id=principal.user_id,
        reason=reason,
    )
    return case


def set_assignment(
    session: Session,
    case: Case,
    *,
    team_id: int | None,
    collector_id: int | None,
    assigned_by_id: int | None,
    reason: str | None,
) -> bool:
    """Record a change of holder (no-op if unchanged). Every assignment path goes through here,
    so the history and the offline-sync change log stay complete."""
    if case.team_id == team_id and case.collector_id == collector_id:
        return False
    now = utcnow()
    for row in case.assignments:  # loaded once per case; imports preload it in bulk
        if row.ended_at is None:
            row.ended_at = now
    case.assignments.append(
        Assignment(
            team_id=team_id,
            collector_id=collector_id,
            assigned_by_id=assigned_by_id,
            reason=reason,
            started_at=now,
        )
    )
    case.team_id, case.collector_id = team_id, collector_id
    return True
