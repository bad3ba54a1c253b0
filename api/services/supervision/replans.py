"""Re-planning a collector's day from where they stand: a new version of the plan that keeps
what was done, keeps what the supervisor pinned, drops what was cancelled and plans the rest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.config import Policy
from api.models import (
    Case,
    PlanStatus,
    Role,
    RoutePlan,
    RouteStop,
    StartKind,
    StopStatus,
    User,
    VisitReport,
)
from api.models.cases import CLOSED_STATUSES
from api.services.compliance import dispatch
from api.services.compliance.policies import policy_for_case
from api.services.exceptions import Conflict, InvalidInput
from api.services.identity import audit
from api.services.identity.access import require_role
from api.services.identity.accounts import Principal
from api.services.supervision.plan_store import (
    REPLAN_TIME_LIMIT_S,
    StartPoint,
    collector_key,
    finish,
    new_plan,
    stop_row,
)
from api.services.supervision.plan_views import get_visible_plan
from api.services.supervision.routing.planner import (
    Planner,
    PlanRequest,
    Point,
    Shift,
    Stop,
    TimeWindow,
)
from api.services.supervision.stops import debtor_zone, stop_key

# Why a stop was dropped at a re-plan (RouteStop.unplanned_reason of a cancelled stop).
CANCELLATIONS = {
    "cancelled": "cancelled at a re-plan",
    "case_closed": "the case was closed",
    "case_reassigned": "the case was given to another collector",
}


def replan(
    session: Session,
    principal: Principal,
    plan_id: int,
    *,
    position: StartPoint | None,
    cancelled_case_ids: Sequence[int] = (),
    at: datetime,
    planner: Planner,
    now: datetime,
) -> RoutePlan:
    """A new version of a published plan from `position` (or the last visit done, or the
    plan's start) at `at`: stops already visited that day by the collector stay done, pinned
    stops stay (required), cancelled ones are dropped, the rest is planned again. Unlike a
    first plan, a re-plan is never refused because a required stop no longer fits: the day
    has moved on; the stop is kept as unplanned, with the reason."""
    require_role(principal, Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN)
    old = get_visible_plan(session, principal, plan_id, lock=True)
    if old.status is not PlanStatus.PUBLISHED:
        newer = session.scalar(
            select(RoutePlan.id).where(RoutePlan.replanned_from_id == old.id).limit(1)
        )
        raise Conflict(
            f"Plan {old.id} is {old.status.value}"
            + (f"; re-plan its successor, plan {newer}." if newer else "."),
            code="plan_superseded",
        )
    if old.service_day < now.astimezone(ZoneInfo(old.timezone)).date():
        raise InvalidInput(
            f"Plan {old.id} was for {old.service_day.isoformat()}, a day already past.",
            fields={"route_id": ["the plan's day is over"]},
        )
    if at >= old.shift_end:
        raise InvalidInput(
            f"The shift of plan {old.id} ended at {old.shift_end.isoformat()}.",
            fields={"at": ["after the end of the shift"]},
        )
    by_case = {s.case_id: s for s in old.stops}
    cancelled = _cancellations(principal, by_case, cancelled_case_ids)
    cases = {
        c.id: c
        for c in session.scalars(
            select(Case).where(Case.id.in_(by_case)).options(selectinload(Case.debtor))
        )
    }
    visits = _visits_done(session, old)
    collector = session.get(User, old.collector_id)
    key = collector_key(collector.id)

    day_start = datetime.combine(old.service_day, time(0), ZoneInfo(old.timezone))
    done, cancelled_rows, stops, source = [], [], [], {}
    for row in old.stops:
        case = cases.get(row.case_id)
        visit = visits.get(row.case_id)
        if row.status is StopStatus.DONE or visit is not None:
            done.append(_carry(row, StopStatus.DONE, visit=visit))
        elif row.status is StopStatus.CANCELLED:
            cancelled_rows.append(_carry(row, StopStatus.CANCELLED))
        elif row.case_id in cancelled:
            cancelled_rows.append(_carry(row, StopStatus.CANCELLED, reason="cancelled"))
        elif case is None or case.status in CLOSED_STATUSES:
            cancelled_rows.append(_carry(row, StopStatus.CANCELLED, reason="case_closed"))
        elif case.collector_id != old.collector_id:
            cancelled_rows.append(_carry(row, StopStatus.CANCELLED, reason="case_reassigned"))
        else:
            policy = policy_for_case(session, case, day_start)
            stop = _stop_from_row(row, case, key, policy)
            stops.append(stop)
            source[stop.key] = (row, case)
    _check_dispatch(session, [case for _, case in source.values()], collector, old, at)
    done.sort(key=lambda r: (r.planned_start or old.shift_start, r.case_id))
    start, kind = _replan_start(old, position, done)
    departs = max(at, old.shift_start)
    shift = Shift(key, start, departs, old.shift_end)
    answer = planner.plan(PlanRequest(tuple(stops), (shift,), time_limit_s=REPLAN_TIME_LIMIT_S))

    plan = new_plan(
        session,
        collector,
        old.service_day,
        old.timezone,
        principal.user_id,
        now,
        start=start,
        start_kind=kind,
        shift=TimeWindow(old.shift_start, old.shift_end),
        departs_at=departs,
        solve_ms=answer.solve_ms,
        replaces=old,
    )
    for n, row in enumerate(done, start=1):
        row.sequence = n
    route = next((r for r in answer.routes if r.shift_key == key), None)
    by_key = {s.key: s for s in stops}
    rows = list(done)
    for n, p in enumerate(route.stops if route else (), start=len(done) + 1):
        old_row, case = source[p.key]
        rows.append(
            stop_row(by_key[p.key], case, old_row.address_id, old_row.pinned, planned=p, sequence=n)
        )
    for u in answer.unplanned:
        old_row, case = source[u.key]
        rows.append(stop_row(by_key[u.key], case, old_row.address_id, old_row.pinned, unplanned=u))
    plan.stops = rows + cancelled_rows
    finish(plan, route)
    session.flush()
    audit.record(
        session,
        principal,
        "route.replan",
        detail={"plan_id": plan.id, "replaced": old.id, "case_ids": sorted(by_case)},
    )
    return plan


def _check_dispatch(
    session: Session, cases: list[Case], collector: User, old: RoutePlan, at: datetime
) -> None:
    """The stops still to visit may still be sent to the collector (compliance.dispatch); one
    that may not is named, to cancel (`cancelled_case_ids`) before re-planning the rest."""
    refusals = dispatch.dispatch_refusals(
        session, [(case, collector) for case in cases], day=old.service_day,
        at=max(at, old.shift_start))
    if refusals:
        dispatch.refuse(
            refusals, lambda r: "cancelled_case_ids", name_cases=True,
            message=f"{refusals[0].sentence} Cancel the stop (cancelled_case_ids) to re-plan "
            "the rest.")


def _cancellations(principal: Principal, by_case: dict, case_ids: Sequence[int]) -> set[int]:
    problems = {}
    for i, case_id in enumerate(case_ids):
        row = by_case.get(case_id)
        if row is None:
            problems[f"cancelled_case_ids.{i}"] = [f"case {case_id} is not on this plan"]
        elif row.pinned and principal.role is Role.COLLECTOR:
            problems[f"cancelled_case_ids.{i}"] = [
                f"case {case_id} was pinned by your supervisor: ask them to drop it"
            ]
    if problems:
        raise InvalidInput("Some cancellations cannot be made.", fields=problems)
    return set(case_ids)


def _visits_done(session: Session, plan: RoutePlan) -> dict[int, VisitReport]:
    """The first visit report the plan's collector filed for each of its cases on the plan's
    day (team-local)."""
    zone = ZoneInfo(plan.timezone)
    day_start = datetime.combine(plan.service_day, datetime.min.time(), zone)
    reports = session.scalars(
        select(VisitReport)
        .where(
            VisitReport.case_id.in_([s.case_id for s in plan.stops]),
            VisitReport.author_id == plan.collector_id,
            VisitReport.started_at >= day_start,
            VisitReport.started_at < day_start + timedelta(days=1),
        )
        .order_by(VisitReport.started_at)
    ).all()
    first: dict[int, VisitReport] = {}
    for report in reports:
        first.setdefault(report.case_id, report)
    return first


def _carry(
    row: RouteStop,
    status: StopStatus,
    *,
    visit: VisitReport | None = None,
    reason: str | None = None,
) -> RouteStop:
    """A stop of the old plan, copied onto the new one."""
    new = RouteStop(
        case_id=row.case_id,
        address_id=row.address_id,
        lat=row.lat,
        lon=row.lon,
        window_start=row.window_start,
        window_end=row.window_end,
        duration_s=row.duration_s,
        required=row.required,
        pinned=row.pinned,
        priority=row.priority,
        status=status,
        visit_report_id=row.visit_report_id,
        unplanned_reason=reason or row.unplanned_reason,
        unplanned_detail=CANCELLATIONS[reason] if reason else row.unplanned_detail,
    )
    if status is StopStatus.DONE:
        new.unplanned_reason = new.unplanned_detail = None
        new.travel_m = row.travel_m
        new.planned_arrival, new.planned_start = row.planned_arrival, row.planned_start
        new.planned_departure = row.planned_departure
    if visit is not None:  # what happened replaces what was planned
        new.visit_report_id = visit.id
        new.planned_arrival = new.planned_start = visit.started_at
        new.planned_departure = visit.ended_at
    return new


def _stop_from_row(row: RouteStop, case: Case, shift_key: str, policy: Policy) -> Stop:
    window = None
    if row.window_start is not None and row.window_end is not None:
        window = TimeWindow(row.window_start, row.window_end)
    return Stop(
        key=stop_key(case),
        point=Point(row.lat, row.lon),
        duration_s=row.duration_s,
        window=window,
        required=row.required or row.pinned,
        priority=row.priority,
        shift_key=shift_key,
        tz=debtor_zone(policy, case),
    )


def _replan_start(
    old: RoutePlan, position: StartPoint | None, done: list[RouteStop]
) -> tuple[Point, StartKind]:
    if position is not None:
        return position.wgs84("position"), StartKind.POSITION
    if done:  # where the collector last was
        return Point(done[-1].lat, done[-1].lon), StartKind.POSITION
    return Point(old.start_lat, old.start_lon), old.start_kind
