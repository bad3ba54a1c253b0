"""Route plans: a supervisor plans a day for one collector or several of a team; a collector
(or the supervisor) re-plans from where the collector stands. A plan is published when made;
a re-plan, or a new plan for the same collector and day, supersedes it (its version + 1), and
the change log moves the phone from the old plan to the new one.

Nothing is saved when a plan is refused: every check runs, and the planner answers, before
the first write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from api.config import Policy
from api.models import (
    Case,
    Debtor,
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
from api.services.casefile.assignment import set_assignment
from api.services.exceptions import Conflict, InvalidInput
from api.services.geo import WGS84, to_wgs84, validate_coordinates
from api.services.identity import audit
from api.services.identity.access import require_role, visible_cases
from api.services.identity.accounts import Principal
from api.services.supervision.plan_views import get_visible_plan
from api.services.supervision.routing.planner import (
    Plan,
    Planner,
    PlanRequest,
    Point,
    Route,
    Shift,
    Stop,
    TimeWindow,
    Unplanned,
)
from api.services.supervision.stops import (
    DEFAULT_VISIT_S,
    StopRequest,
    build_stop,
    debtor_zone,
    promise_due_case_ids,
    shift_window,
    stop_key,
)

DEFAULT_SHIFT = ("09:00", "18:00")  # team-local
ASSIGNMENT_REASON = "route plan"
TIME_LIMIT_S = 1.0  # the solver stops earlier once it stalls (small days: milliseconds)
MAX_COLLECTORS = 30
# Why a stop was dropped at a re-plan (RouteStop.unplanned_reason of a cancelled stop).
CANCELLATIONS = {
    "cancelled": "cancelled at a re-plan",
    "case_closed": "the case was closed",
    "case_reassigned": "the case was given to another collector",
}


@dataclass(frozen=True)
class StartPoint:
    lat: float
    lon: float
    datum: str = WGS84

    def wgs84(self, field: str) -> Point:
        lat, lon = validate_coordinates(self.lat, self.lon, f"{field}.")
        return Point(*to_wgs84(lat, lon, self.datum))


@dataclass(frozen=True)
class PlanOrder:
    """A supervisor's request: whose day, which visits, from where, within which shift.
    `*_field` name the request's fields in error messages."""

    collector_ids: tuple[int, ...]
    day: date
    stops: tuple[StopRequest, ...]
    collector_field: str = "collector_ids"
    stops_field: str = "stops"
    start: StartPoint | None = None
    shift: tuple[str, str] = DEFAULT_SHIFT
    distribute: bool = False
    duration_s: int = DEFAULT_VISIT_S


def collector_key(user_id: int) -> str:
    return f"collector {user_id}"


# ----------------------------------------------------------------------------- planning


def plan_routes(
    session: Session,
    principal: Principal,
    order: PlanOrder,
    *,
    policy: Policy,
    planner: Planner,
    now: datetime,
) -> list[RoutePlan]:
    """Plan the day of each collector in `order` (one plan each), publish the plans, and
    (with `distribute`) give each moved case to the collector whose route took it."""
    require_role(principal, Role.SUPERVISOR, Role.ADMIN)
    if not order.stops:
        raise InvalidInput(
            "A plan needs at least one stop.", fields={order.stops_field: ["give at least one"]}
        )
    collectors = _collectors(session, principal, order)
    zone = collectors[0].team.timezone
    if order.day < now.astimezone(ZoneInfo(zone)).date():
        raise InvalidInput(
            f"{order.day} is already past in the team's time zone ({zone}).",
            fields={"day": ["must be today or later"]},
        )
    shift = shift_window(order.day, zone, *order.shift)
    starts = _start_points(collectors, order)
    cases = _cases(session, principal, order, collectors[0].team_id)
    holders = _shift_keys(order, cases, collectors)
    due = promise_due_case_ids(session, cases, order.day)
    stops, addresses, asked_by_key = [], {}, {}
    for asked in order.stops:
        case = cases[asked.case_id]
        stop, address = build_stop(
            policy,
            case,
            asked,
            day=order.day,
            shift=shift,
            shift_key=holders[case.id],
            promise_due=case.id in due,
            default_duration_s=order.duration_s,
        )
        stops.append(stop)
        addresses[stop.key] = address.id
        asked_by_key[stop.key] = asked
    shifts = tuple(
        Shift(collector_key(c.id), starts[c.id][0], shift.start, shift.end) for c in collectors
    )
    answer = planner.plan(PlanRequest(tuple(stops), shifts, time_limit_s=TIME_LIMIT_S))
    _refuse_impossible(answer, {k: a.field for k, a in asked_by_key.items()})

    by_key = {s.key: s for s in stops}
    case_of = {stop_key(c): c for c in cases.values()}
    routes = {r.shift_key: r for r in answer.routes}
    plans = []
    for collector in collectors:
        key = collector_key(collector.id)
        point, kind = starts[collector.id]
        plan = _new_plan(
            session,
            collector,
            order.day,
            zone,
            principal.user_id,
            now,
            start=point,
            start_kind=kind,
            shift=shift,
            departs_at=shift.start,
            solve_ms=answer.solve_ms,
        )
        plan.stops = _planned_rows(routes.get(key), by_key, case_of, addresses, asked_by_key)
        _finish(plan, routes.get(key))
        plans.append(plan)
    first = plans[0]
    plan_of = {collector_key(p.collector_id): p for p in plans}
    for u in answer.unplanned:
        stop, case = by_key[u.key], case_of[u.key]
        owner = plan_of.get(stop.shift_key or collector_key(case.collector_id or 0), first)
        owner.stops.append(
            _stop_row(stop, case, addresses[u.key], asked_by_key[u.key].pinned, unplanned=u)
        )
    if order.distribute:
        _reassign(session, principal, plans, cases)
    session.flush()
    audit.record(
        session,
        principal,
        "route.plan",
        detail={"plan_ids": [p.id for p in plans], "case_ids": sorted(cases)},
    )
    return plans


def _collectors(session: Session, principal: Principal, order: PlanOrder) -> list[User]:
    field = order.collector_field
    ids = list(dict.fromkeys(order.collector_ids))
    if not ids:
        raise InvalidInput("Name at least one collector.", fields={field: ["give at least one"]})
    if len(ids) > MAX_COLLECTORS:
        raise InvalidInput(
            f"At most {MAX_COLLECTORS} collectors at once.", fields={field: ["too many"]}
        )
    # Locked: two plans for one collector and day made at once must not both stay published.
    users = {
        u.id: u
        for u in session.scalars(select(User).where(User.id.in_(ids)).with_for_update(of=User))
    }
    problems = {}
    for i, user_id in enumerate(ids):
        user = users.get(user_id)
        name = field if field == "collector_id" else f"{field}.{i}"
        if user is None or user.role is not Role.COLLECTOR or not user.is_active:
            problems[name] = [f"{user_id} is not an active collector"]
        elif user.team_id is None:
            problems[name] = [f"collector {user_id} is in no team"]
        elif principal.role is Role.SUPERVISOR and user.team_id != principal.team_id:
            problems[name] = [f"collector {user_id} is not in your team"]
    if problems:
        raise InvalidInput("Some collectors cannot be planned for.", fields=problems)
    collectors = [users[i] for i in ids]
    if len({c.team_id for c in collectors}) > 1:
        raise InvalidInput(
            "Plan several collectors together only within one team.",
            fields={field: ["collectors of more than one team"]},
        )
    return collectors


def _start_points(collectors: list[User], order: PlanOrder) -> dict[int, tuple[Point, StartKind]]:
    if order.start is not None:
        if len(collectors) > 1:
            raise InvalidInput(
                "A start position is for one collector; several start from their bases.",
                fields={"start": ["only with a single collector"]},
            )
        return {collectors[0].id: (order.start.wgs84("start"), StartKind.POSITION)}
    starts, missing = {}, []
    for c in collectors:
        if c.base_lat is None or c.base_lon is None:
            missing.append(c.id)
        else:
            starts[c.id] = (Point(c.base_lat, c.base_lon), StartKind.BASE)
    if missing:
        raise InvalidInput(
            f"Collector(s) {', '.join(map(str, missing))} have no base location: set it, or "
            "give a start position.",
            fields={"start": [f"collector {i} has no base location" for i in missing]},
        )
    return starts


def _cases(
    session: Session, principal: Principal, order: PlanOrder, team_id: int
) -> dict[int, Case]:
    """The cases asked for, each visible to the caller, open, and the team's."""
    ids = [s.case_id for s in order.stops]
    found = {
        c.id: c
        for c in session.scalars(
            visible_cases(principal)
            .where(Case.id.in_(ids))
            .options(selectinload(Case.debtor).selectinload(Debtor.addresses))
        )
    }
    problems, seen = {}, set()
    for asked in order.stops:
        case = found.get(asked.case_id)
        name = asked.case_field
        if asked.case_id in seen:
            problems[name] = [f"case {asked.case_id} is already in this plan"]
        elif case is None:
            problems[name] = [f"no case {asked.case_id}, or not one you may see"]
        elif case.status in CLOSED_STATUSES:
            problems[name] = [f"case {case.id} is {case.status.value}"]
        elif case.team_id != team_id:
            problems[name] = [f"case {case.id} is not a case of the collectors' team"]
        seen.add(asked.case_id)
    if problems:
        raise InvalidInput("Some cases cannot be planned.", fields=problems)
    return found


def _shift_keys(
    order: PlanOrder, cases: dict[int, Case], collectors: list[User]
) -> dict[int, str | None]:
    """Which collector's route may take each case: its holder's, unless the supervisor lets
    the planner distribute (pinned cases stay with their holder even then)."""
    planned = {c.id for c in collectors}
    keys, problems = {}, {}
    for asked in order.stops:
        case = cases[asked.case_id]
        name = asked.case_field
        holder = case.collector_id
        if order.distribute and not asked.pinned:
            keys[case.id] = None
        elif holder in planned:
            keys[case.id] = collector_key(holder)
        elif asked.pinned:
            problems[f"{asked.field}.pinned"] = [
                f"case {case.id} is not held by a collector of this plan; a pinned stop stays "
                "with its holder"
            ]
        else:
            problems[name] = [
                f"case {case.id} is held by "
                + (f"collector {holder}" if holder else "nobody")
                + ", who is not in this plan: add them, or set distribute"
            ]
    if problems:
        raise InvalidInput("Some cases are held by collectors outside this plan.", fields=problems)
    return keys


def _refuse_impossible(answer: Plan, fields: dict[str, str]) -> None:
    required = [u for u in answer.unplanned if u.required]
    if required:
        raise InvalidInput(
            "Required stops cannot be planned: " + " ".join(u.detail for u in required),
            fields={fields[u.key]: [f"{u.reason}: {u.detail}"] for u in required},
            code="required_stop_impossible",
        )


def _new_plan(
    session: Session,
    collector: User,
    day: date,
    zone: str,
    planned_by_id: int,
    now: datetime,
    *,
    start: Point,
    start_kind: StartKind,
    shift: TimeWindow,
    departs_at: datetime,
    solve_ms: float,
    replaces: RoutePlan | None = None,
) -> RoutePlan:
    """A published plan for the collector's day, superseding whatever was published for it."""
    current = session.scalars(
        select(RoutePlan)
        .where(
            RoutePlan.collector_id == collector.id,
            RoutePlan.service_day == day,
            RoutePlan.status == PlanStatus.PUBLISHED,
        )
        .order_by(RoutePlan.id)
    ).all()
    for old in current:
        old.status, old.superseded_at = PlanStatus.SUPERSEDED, now
    previous = replaces or (current[-1] if current else None)
    version = session.scalar(
        select(func.max(RoutePlan.version)).where(
            RoutePlan.collector_id == collector.id, RoutePlan.service_day == day
        )
    )
    plan = RoutePlan(
        collector_id=collector.id,
        team_id=collector.team_id,
        service_day=day,
        timezone=zone,
        status=PlanStatus.PUBLISHED,
        start_kind=start_kind,
        start_lat=start.lat,
        start_lon=start.lon,
        shift_start=shift.start,
        shift_end=shift.end,
        departs_at=departs_at,
        planned_by_id=planned_by_id,
        created_at=now,
        replanned_from_id=previous.id if previous is not None else None,
        version=(version or 0) + 1,
        solve_ms=solve_ms,
    )
    session.add(plan)
    return plan


def _planned_rows(
    route: Route | None,
    by_key: dict[str, Stop],
    case_of: dict,
    addresses: dict,
    asked: dict,
    first_sequence: int = 1,
) -> list[RouteStop]:
    if route is None:
        return []
    return [
        _stop_row(
            by_key[p.key],
            case_of[p.key],
            addresses[p.key],
            asked[p.key].pinned,
            planned=p,
            sequence=first_sequence + n,
        )
        for n, p in enumerate(route.stops)
    ]


def _stop_row(
    stop: Stop,
    case: Case,
    address_id: int | None,
    pinned: bool,
    *,
    planned=None,
    sequence: int | None = None,
    unplanned: Unplanned | None = None,
) -> RouteStop:
    row = RouteStop(
        case_id=case.id,
        address_id=address_id,
        lat=stop.point.lat,
        lon=stop.point.lon,
        window_start=stop.window.start if stop.window else None,
        window_end=stop.window.end if stop.window else None,
        duration_s=stop.duration_s,
        required=stop.required,
        pinned=pinned,
        priority=stop.priority,
        status=StopStatus.PLANNED if planned else StopStatus.UNPLANNED,
    )
    if planned is not None:
        row.sequence = sequence
        row.planned_arrival, row.planned_start = planned.arrival, planned.start
        row.planned_departure, row.travel_m = planned.departure, planned.travel_m
    if unplanned is not None:
        row.unplanned_reason, row.unplanned_detail = unplanned.reason, unplanned.detail[:400]
    return row


def _finish(plan: RoutePlan, route: Route | None) -> None:
    plan.distance_m = route.distance_m if route else 0.0
    plan.ends_at = route.ends_at if route and route.stops else None


def _reassign(
    session: Session, principal: Principal, plans: list[RoutePlan], cases: dict[int, Case]
) -> None:
    """Distributed cases go to the collector whose route took them (through the one assignment
    path, so the old phone loses the case and the new one gains it)."""
    for plan in plans:
        for row in plan.stops:
            case = cases[row.case_id]
            if row.status is StopStatus.PLANNED and case.collector_id != plan.collector_id:
                set_assignment(
                    session,
                    case,
                    team_id=plan.team_id,
                    collector_id=plan.collector_id,
                    assigned_by_id=principal.user_id,
                    reason=ASSIGNMENT_REASON,
                )


# ----------------------------------------------------------------------------- re-planning


def replan(
    session: Session,
    principal: Principal,
    plan_id: int,
    *,
    position: StartPoint | None,
    cancelled_case_ids: Sequence[int] = (),
    at: datetime,
    policy: Policy,
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
            stop = _stop_from_row(row, case, key, policy)
            stops.append(stop)
            source[stop.key] = (row, case)
    done.sort(key=lambda r: (r.planned_start or old.shift_start, r.case_id))
    start, kind = _replan_start(old, position, done)
    departs = max(at, old.shift_start)
    shift = Shift(key, start, departs, old.shift_end)
    answer = planner.plan(PlanRequest(tuple(stops), (shift,), time_limit_s=TIME_LIMIT_S))

    plan = _new_plan(
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
            _stop_row(
                by_key[p.key], case, old_row.address_id, old_row.pinned, planned=p, sequence=n
            )
        )
    for u in answer.unplanned:
        old_row, case = source[u.key]
        rows.append(_stop_row(by_key[u.key], case, old_row.address_id, old_row.pinned, unplanned=u))
    plan.stops = rows + cancelled_rows
    _finish(plan, route)
    session.flush()
    audit.record(
        session,
        principal,
        "route.replan",
        detail={"plan_id": plan.id, "replaced": old.id, "case_ids": sorted(by_case)},
    )
    return plan


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
