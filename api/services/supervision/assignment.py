"""Who may give which cases to whom: the rules of assignment, for one case or hundreds.

Every change goes through `api.services.casefile.assignment.set_assignment`, which keeps the
history; the change log then moves each case from the old holder's phone to the new one's.
A bulk assignment is one transaction: every case is assigned or none is."""

from __future__ import annotations

import enum
import re
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, selectinload

from api.models import Assignment, Case, Role, Team, User
from api.models.cases import CLOSED_STATUSES
from api.models.types import utcnow
from api.services.casefile.assignment import set_assignment
from api.services.compliance import dispatch
from api.services.exceptions import Forbidden, InvalidInput
from api.services.identity.access import get_visible_case, require_role, visible_cases
from api.services.identity.accounts import Principal
from api.services.supervision.suggestions import RULES

MAX_CASES = 1000  # per bulk request: one transaction, published to phones in chunks
ASSIGNERS = (Role.SUPERVISOR, Role.ADMIN)


class ReasonCode(enum.StrEnum):
    """Why cases change hands, for the history and for reporting on reassignments."""

    WORKLOAD = "workload"
    PROXIMITY = "proximity"
    ESCALATION = "escalation"
    LEAVE = "leave"
    SUGGESTION = "suggestion"  # the reason then reads "suggestion:<rule id>"
    OTHER = "other"


_SUGGESTION = re.compile(r"suggestion:(\w+)")
REASON_MAX = 200  # Assignment.reason
REASON_TEXT_MAX = REASON_MAX - max(len(c.value) for c in ReasonCode) - 2  # room for "code: "


@dataclass(frozen=True)
class Target:
    """Where the cases go: a team (None: each case keeps its own) and a collector (None: the
    case waits in the team's queue)."""

    team_id: int | None
    collector: User | None

    @property
    def collector_id(self) -> int | None:
        return self.collector.id if self.collector else None


@dataclass
class BulkOutcome:
    target: Target
    reason: str | None
    assigned: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)


def stored_reason(reason: str, code: ReasonCode | None) -> str:
    """The history's reason: "<code>: <text>", or the text alone if no code is given or it
    already starts with the code (as "suggestion:calls_failed" does)."""
    if code is None or reason.startswith(f"{code.value}:"):
        return reason
    return f"{code.value}: {reason}"


def resolve_target(
    session: Session, principal: Principal, *, collector_id: int | None, team_id: int | None
) -> Target:
    """Check the caller may assign, and to this collector and team. Supervisors assign within
    their own team only; administrators anywhere (and move cases between teams)."""
    require_role(principal, *ASSIGNERS)
    if team_id is not None and session.get(Team, team_id) is None:
        raise InvalidInput("No such team.", fields={"team_id": ["no such team"]})
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
    if principal.role is Role.SUPERVISOR and team_id not in (None, principal.team_id):
        name = "collector_id" if collector is not None else "team_id"
        raise Forbidden(
            "Supervisors assign only within their own team.",
            fields={name: ["not your team"]},
        )
    return Target(team_id=team_id, collector=collector)


def _closed(cases: list[Case], target: Target) -> list[int]:
    """A settled or written-off case goes to nobody's phone again (it may go back to a team)."""
    if target.collector is None:
        return []
    return [c.id for c in cases if c.status in CLOSED_STATUSES]


def _apply(
    session: Session, principal: Principal, cases: list[Case], target: Target, reason: str | None
) -> BulkOutcome:
    outcome = BulkOutcome(target, reason)
    for case in cases:
        changed = set_assignment(
            session,
            case,
            team_id=case.team_id if target.team_id is None else target.team_id,
            collector_id=target.collector_id,
            assigned_by_id=principal.user_id,
            reason=reason,
        )
        (outcome.assigned if changed else outcome.unchanged).append(case.id)
    return outcome


def assign_case(
    session: Session,
    principal: Principal,
    case_id: int,
    *,
    collector_id: int | None,
    team_id: int | None = None,
    reason: str | None = None,
) -> Case:
    """Give one case to a collector (or leave it with a team, unassigned): the bulk rules for
    a case named in the path, so a case the caller may not see is 404."""
    require_role(principal, *ASSIGNERS)
    case = get_visible_case(session, principal, case_id)
    target = resolve_target(session, principal, collector_id=collector_id, team_id=team_id)
    if _closed([case], target):
        raise InvalidInput(
            "A settled or written-off case cannot be assigned.",
            fields={"collector_id": ["case is closed"]},
        )
    if target.collector is not None:
        now = utcnow()
        dispatch.check_dispatch(
            session, [(case, target.collector)], day=dispatch.dispatch_day(target.collector, now),
            at=now, field_of=lambda r: "collector_id" if r.collector_id else "case_id")
    _apply(session, principal, [case], target, reason)
    return case


def assign_cases(
    session: Session,
    principal: Principal,
    case_ids: list[int],
    *,
    collector_id: int | None,
    team_id: int | None = None,
    reason: str,
    reason_code: ReasonCode | None = None,
) -> BulkOutcome:
    """Assign up to `MAX_CASES` cases at once, all or none. Every case the caller may not see
    (or that does not exist), every closed case and every case the collector may not be sent
    to (`collector_authorised`, `open_complaint_no_dispatch`: then a `rule_breach`, the first
    refusal naming the rule) is named in one 422; nothing is saved."""
    require_role(principal, *ASSIGNERS)
    if not case_ids:
        raise InvalidInput("Name at least one case.", fields={"case_ids": ["empty"]})
    if len(case_ids) > MAX_CASES:
        raise InvalidInput(
            f"At most {MAX_CASES} cases per request.",
            fields={"case_ids": [f"more than {MAX_CASES}"]},
        )
    repeated = sorted(i for i, n in Counter(case_ids).items() if n > 1)
    if repeated:
        raise InvalidInput(
            "A case is named more than once.",
            fields={"case_ids": [f"named more than once: {_ids(repeated)}"]},
        )
    _check_reason(reason, reason_code)
    target = resolve_target(session, principal, collector_id=collector_id, team_id=team_id)
    # One query for the cases (debtor joined) and one for their open assignment rows: the only
    # history rows set_assignment touches. The collection holds just those until the commit
    # expires it, which is all this request reads of it.
    open_rows = selectinload(Case.assignments.and_(Assignment.ended_at.is_(None)))
    found = {
        case.id: case
        for case in session.scalars(
            visible_cases(principal).where(Case.id.in_(case_ids)).options(open_rows)
        )
    }
    problems = []
    missing = [i for i in case_ids if i not in found]
    if missing:
        problems.append(f"no such case, or not yours to assign: {_ids(missing)}")
    cases = [found[i] for i in case_ids if i in found]
    closed = _closed(cases, target)
    if closed:
        problems.append(f"settled or written off, cannot go to a collector: {_ids(closed)}")
    refusals, shut = [], set(closed)
    if target.collector is not None:
        now = utcnow()
        refusals = dispatch.dispatch_refusals(
            session, [(c, target.collector) for c in cases if c.id not in shut],
            day=dispatch.dispatch_day(target.collector, now), at=now)
    if problems or refusals:
        bad = len(set(missing) | shut | {r.case_id for r in refusals})
        message = f"{bad} of {len(case_ids)} cases cannot be assigned; nothing was changed."
        dispatch.refuse(refusals, lambda r: "case_ids", name_cases=True,
                        message=f"{message} {refusals[0].sentence}" if refusals else None,
                        also={"case_ids": problems})
        raise InvalidInput(message, fields={"case_ids": problems})
    return _apply(session, principal, cases, target, stored_reason(reason, reason_code))


def _check_reason(reason: str, code: ReasonCode | None) -> None:
    """A reason is short, not blank; an accepted suggestion names its rule, as the suggestion
    gave it: "suggestion:<rule id>"."""
    if not reason.strip() or len(stored_reason(reason, code)) > REASON_MAX:
        raise InvalidInput(
            "Give a short reason.", fields={"reason": [f"1 to {REASON_TEXT_MAX} characters"]}
        )
    if code is not ReasonCode.SUGGESTION and not reason.startswith("suggestion:"):
        return
    match = _SUGGESTION.match(reason)
    if match is None or match.group(1) not in RULES:
        raise InvalidInput(
            'An accepted suggestion\'s reason is "suggestion:<rule id>".',
            fields={"reason": [f"start with suggestion:<rule>, one of {', '.join(RULES)}"]},
        )


def _ids(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids)

