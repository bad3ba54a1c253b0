"""Recording a change of holder, keeping the history. Who may assign what to whom is
`api.services.supervision.assignment`."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.models import Assignment, Case
from api.models.types import utcnow


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
