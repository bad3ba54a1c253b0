"""Planning collectors' days: a supervisor plans one collector, or several of a team at once.
A plan is published when made and supersedes the collector's earlier plan for the day (its
version + 1); the change log moves the phone from the old plan to the new one. Re-planning is
`replans.py`.

Nothing is saved when a plan is refused: every check runs, and the planner answers, before
the first write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.models import Case, Debtor, Role, RoutePlan, RouteStop, StartKind, StopStatus, User
from api.models.cases import CLOSED_STATUSES
from api.services.casefile.assignment import set_assignment
from api.services.compliance import blackouts, dispatch
from api.services.compliance.policies import policy_for_case
from api.services.exceptions import InvalidInput
from api.services.identity import audit
from api.services.identity.access import require_role, visible_cases
from api.services.identity.accounts import Principal
from api.services.supervision import stop_rules
from api.services.supervision.plan_store import (
    TIME_LIMIT_S,
    StartPoint,
    collector_key,
    finish,
    new_plan,
    stop_row,
)
from api.services.supervision.routing.planner import (
    Plan,
    Planner,
    PlanRequest,
    Point,
    Route,
    Shift,
    Stop,
    TimeWindow,
)
from api.services.supervision.stops import (
    DEFAULT_VISIT_S,
    StopRequest,
    build_stop,
    promise_due_case_ids,
    shift_window,
    stop_key,
)

DEFAULT_SHIFT = ("09:00", "18:00")  # team-local
ASSIGNMENT_REASON = "route plan"
MAX_COLLECTORS = 30


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


# ----------------------------------------------------------------------------- planning


def plan_routes(
    session: Session,
    principal: Principal,
    order: PlanOrder,
    *,
    planner: Planner,
    now: datetime,
) -> list[RoutePlan]:
    """Plan the day of each collector in `order` (one plan each), publish the plans, and
    (with `distribute`) give each moved case to the collector whose route took it. Each stop
    keeps its case's own policy (in effect at the start of the day) and its debtor's
    blackouts (`stop_rules`)."""
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
    departs = max(now, shift.start)  # a plan for today starts from now
    if departs >= shift.end:
        raise InvalidInput(
            f"The shift {order.shift[0]}–{order.shift[1]} ({zone}) of {order.day} is over.",
            fields={"shift": ["already over"]},
        )
    starts = _start_points(collectors, order)
    cases = _cases(session, principal, order, collectors[0].team_id)
    holders = _shift_keys(order, cases, collectors)
    _check_dispatch(session, order, cases, holders, collectors, at=shift.start)
    due = promise_due_case_ids(session, cases, order.day)
    day_start = datetime.combine(order.day, time(0), ZoneInfo(zone))
    declared = blackouts.by_debtor(session, {c.debtor_id for c in cases.values()})
    stops, addresses, asked_by_key, judged = [], {}, {}, {}
    for asked in order.stops:
        case = cases[asked.case_id]
        stop, address, judged[stop_key(case)] = build_stop(
            policy_for_case(session, case, day_start),
            case,
            asked,
            day=order.day,
            shift=shift,
            shift_key=holders[case.id],
            promise_due=case.id in due,
            default_duration_s=order.duration_s,
            declared=declared.get(case.debtor_id, ()),
        )
        stops.append(stop)
        addresses[stop.key] = address.id
        asked_by_key[stop.key] = asked
    shifts = tuple(
        Shift(collector_key(c.id), starts[c.id][0], departs, shift.end) for c in collectors
    )
    answer = planner.plan(PlanRequest(tuple(stops), shifts, time_limit_s=TIME_LIMIT_S))
    answer = stop_rules.explain(answer, judged, TimeWindow(departs, shift.end))
    _refuse_impossible(answer, {k: a.field for k, a in asked_by_key.items()})

    by_key = {s.key: s for s in stops}
    case_of = {stop_key(c): c for c in cases.values()}
    routes = {r.shift_key: r for r in answer.routes}
    plans = []
    for collector in collectors:
        key = collector_key(collector.id)
        point, kind = starts[collector.id]
        plan = new_plan(
            session,
            collector,
            order.day,
            zone,
            principal.user_id,
            now,
            start=point,
            start_kind=kind,
            shift=shift,
            departs_at=departs,
            solve_ms=answer.solve_ms,
        )
        plan.stops = _planned_rows(routes.get(key), by_key, case_of, addresses, asked_by_key)
        finish(plan, routes.get(key))
        plans.append(plan)
    first = plans[0]
    plan_of = {collector_key(p.collector_id): p for p in plans}
    for u in answer.unplanned:
        stop, case = by_key[u.key], case_of[u.key]
        owner = plan_of.get(stop.shift_key or collector_key(case.collector_id or 0), first)
        owner.stops.append(
            stop_row(stop, case, addresses[u.key], asked_by_key[u.key].pinned, unplanned=u)
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
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}
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


def _check_dispatch(
    session: Session,
    order: PlanOrder,
    cases: dict[int, Case],
    holders: dict[int, str | None],
    collectors: list[User],
    *,
    at: datetime,
) -> None:
    """Each stop's case may be sent to whoever may take it: its holder, or (distributed) any
    collector of the plan (compliance.dispatch: authorisation, open complaints)."""
    by_key = {collector_key(c.id): c for c in collectors}
    field = {a.case_id: a.case_field for a in order.stops}
    dispatch.check_dispatch(
        session,
        [
            (cases[a.case_id], taker)
            for a in order.stops
            for taker in ([by_key[holders[a.case_id]]] if holders[a.case_id] else collectors)
        ],
        day=order.day,
        at=at,
        field_of=lambda r: field[r.case_id],
    )


def _refuse_impossible(answer: Plan, fields: dict[str, str]) -> None:
    required = [u for u in answer.unplanned if u.required]
    if required:
        raise InvalidInput(
            "Required stops cannot be planned: " + " ".join(u.detail for u in required),
            fields={fields[u.key]: [f"{u.reason}: {u.detail}"] for u in required},
            code="required_stop_impossible",
        )


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
        stop_row(
            by_key[p.key],
            case_of[p.key],
            addresses[p.key],
            asked[p.key].pinned,
            planned=p,
            sequence=first_sequence + n,
        )
        for n, p in enumerate(route.stops)
    ]


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
