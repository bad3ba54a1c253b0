"""One scan of the field for exceptions: judge overdue promises again, let items follow their
case to its current team and collector, resolve what has cleared, open what is new. Every step
is a handful of set-based statements over the look-back's visits and the open items (not the
whole history), and running it twice changes nothing the second time."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from api.models import Case, ExceptionKind, Role, User
from api.services.exceptions import Forbidden
from api.services.identity.accounts import Principal
from api.services.supervision.exceptions_feed.detectors import (
    PENDING_PROPOSALS,
    SERVER_FILES_FAILED,
    SILENT_DEVICES,
    STUCK_UPLOADS,
    VISIT_DETECTORS,
)
from api.services.supervision.exceptions_feed.promises import (
    BrokenPromises,
    PromisesDueToday,
    follow_promise_cases,
    rejudge_overdue_promises,
)
from api.services.supervision.exceptions_feed.scope import ITEMS, ScanSettings, Scope

DETECTORS = (
    *VISIT_DETECTORS,
    BrokenPromises(),
    PromisesDueToday(),
    SILENT_DEVICES,
    PENDING_PROPOSALS,
    STUCK_UPLOADS,
    SERVER_FILES_FAILED,
)
assert sorted(k for d in DETECTORS for k in d.kinds) == sorted(ExceptionKind), "one detector a kind"


@dataclass
class ScanResult:
    as_of: datetime
    team_id: int | None
    promises_rejudged: int = 0
    opened: Counter = field(default_factory=Counter)
    resolved: Counter = field(default_factory=Counter)

    @property
    def counts(self) -> dict:
        return {
            "as_of": self.as_of,
            "team_id": self.team_id,
            "opened": sum(self.opened.values()),
            "resolved": sum(self.resolved.values()),
            "promises_rejudged": self.promises_rejudged,
            "kinds": {
                kind.value: {"opened": self.opened[kind], "resolved": self.resolved[kind]}
                for kind in ExceptionKind
            },
        }


def scan(
    session: Session, now: datetime, settings: ScanSettings, *, team_id: int | None = None
) -> ScanResult:
    """Scan every team (or one); the caller commits. Resolving comes before opening, so an
    item whose occurrence ended (yesterday's instalment) can reopen for a new one at once."""
    scope = Scope(session, now, settings, team_id)
    if scope.postgresql:  # compiling these short statements costs more than it saves
        session.execute(text("SET LOCAL jit = off"))
    result = ScanResult(as_of=now, team_id=team_id)
    result.promises_rejudged = rejudge_overdue_promises(scope)
    follow_teams(scope)
    follow_promise_cases(scope)
    for detector in DETECTORS:
        result.resolved += detector.resolve(scope)
    for detector in DETECTORS:
        result.opened += detector.detect(scope)
    return result


def scan_as(
    session: Session, principal: Principal, now: datetime, settings: ScanSettings
) -> ScanResult:
    """A scan asked for by a person: an admin's covers every team, a supervisor's their own."""
    if principal.role is Role.ADMIN:
        return scan(session, now, settings)
    if principal.role is Role.SUPERVISOR and principal.team_id is not None:
        return scan(session, now, settings, team_id=principal.team_id)
    raise Forbidden("Only supervisors (of a team) and admins may run a scan.")


def follow_teams(scope: Scope) -> int:
    """An item belongs to its case's current team (a phone's: its owner's), whatever its
    state, so the case's history of exceptions moves with it. A team's own scan brings in the
    items of the cases it gained (those it lost are hidden from it by the read path anyway)."""
    moved = 0
    for owner, where in ((Case, ITEMS.c.case_id == Case.id),
                         (User, (ITEMS.c.collector_id == User.id)
                          & (ITEMS.c.kind == ExceptionKind.DEVICE_SILENT))):
        stmt = ITEMS.update().where(where, ITEMS.c.team_id.is_distinct_from(owner.team_id))
        if scope.team_id is not None:
            stmt = stmt.where(owner.team_id == scope.team_id)
        moved += scope.session.execute(stmt.values(team_id=owner.team_id)).rowcount
    return moved
