"""`PyVRPPlanner`: the planner interface answered with PyVRP (MIT), an iterated local search
that stays feasible and close to the best-known values on time-window problems.

`PyVRPPlanner` turns a `PlanRequest` into an integer `RoutingProblem` — pre-checking what can
never fit, so every stop left out has a reason a supervisor can read — solves it with
`solver.solve_problem` (the function the benchmarks call), and turns the visit order back into
times, recomputed and checked here. `replan` re-plans one collector from where they stand."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from api.services.supervision.routing.evaluate import evaluate
from api.services.supervision.routing.matrix import GeodesicTravel, TravelMatrices, TravelModel
from api.services.supervision.routing.planner import (
    NO_SHIFT,
    NOT_WORTH_IT,
    UNREACHABLE,
    WINDOW_CLOSED,
    Plan,
    PlannedStop,
    PlanRequest,
    Point,
    Route,
    Shift,
    Stop,
    Unplanned,
)
from api.services.supervision.routing.problem import (
    NEVER,
    RouteOrder,
    RoutingProblem,
    Solved,
    Vehicle,
    Visit,
)
from api.services.supervision.routing.solver import SEED, repair, solve_problem

__all__ = ["PyVRPPlanner", "repair", "replan", "replan_request", "solve_problem", "validate"]

# ----------------------------------------------------------------------------- wording


def _zone(stop: Stop | None) -> ZoneInfo:
    return ZoneInfo(stop.tz) if stop is not None and stop.tz else ZoneInfo("UTC")


def _clock(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%H:%M")


def _span(a: datetime, b: datetime, zone: ZoneInfo) -> str:
    return f"{_clock(a, zone)}–{_clock(b, zone)} {zone.key}"


def _minutes(seconds: int) -> str:
    m = round(seconds / 60)
    return f"{m}-minute" if m < 120 else f"{seconds / 3600:.1f}-hour"


# ----------------------------------------------------------------------------- the planner


@dataclass(frozen=True)
class _Layout:
    """Where each thing of the request sits in the matrix and in the solver's problem."""

    t0: datetime
    points: list[Point]
    start_loc: list[int]  # per shift
    end_loc: list[int | None]  # per shift
    stop_loc: dict[int, int]  # request stop index -> location


def _secs(at: datetime, t0: datetime, up: bool) -> int:
    s = (at - t0).total_seconds()
    return math.ceil(s - 1e-9) if up else math.floor(s + 1e-9)


class PyVRPPlanner:
    """Plans with PyVRP over geodesic travel (or any `TravelModel`). The search stops at the
    request's `time_limit_s` or once `patience` iterations (default: a few per stop) bring no
    improvement, whichever comes first."""

    def __init__(
        self, travel: TravelModel | None = None, seed: int = SEED, patience: int | None = None
    ) -> None:
        self._travel = travel
        self._seed = seed
        self._patience = patience

    def plan(self, request: PlanRequest, *, previous: Plan | None = None) -> Plan:
        """`previous`, when given (a re-plan), seeds the search with its visit order for the
        stops and shifts still in `request`; the answer need not keep it. A malformed request
        (naive datetimes, keys used twice, a negative duration) raises ValueError: the service
        validates its input before it gets here."""
        started = time.perf_counter()
        validate(request)
        if not request.shifts:
            return Plan(
                (),
                tuple(
                    Unplanned(
                        s.key, s.required, NO_SHIFT, f"{s.key}: no collector's shift in the plan."
                    )
                    for s in request.stops
                ),
                0.0,
            )
        travel = self._travel or GeodesicTravel(request.speed_kmh)
        layout = _layout(request)
        mats = travel.matrices(layout.points)
        shift_index = {s.key: i for i, s in enumerate(request.shifts)}

        unplanned: dict[int, Unplanned] = {}
        visits: list[Visit] = []
        visit_stop: list[int] = []
        for i, stop in enumerate(request.stops):
            verdict = _precheck(request, layout, mats, shift_index, i)
            if isinstance(verdict, Unplanned):
                unplanned[i] = verdict
                continue
            allowed, earliest, latest = verdict
            visits.append(
                Visit(
                    location=layout.stop_loc[i],
                    service_s=stop.duration_s,
                    earliest=earliest,
                    latest=latest,
                    required=False,  # prizes below; required stops get a prize nothing outweighs
                    # Only the holder's restriction needs telling: a shift that cannot make
                    # the visit alone cannot make it among others either (time only grows).
                    vehicles=None if stop.shift_key is None else frozenset(allowed),
                )
            )
            visit_stop.append(i)

        visits = _with_prizes(request, visits, visit_stop, mats)
        vehicles = tuple(_vehicle(s, k, layout) for k, s in enumerate(request.shifts))
        problem = RoutingProblem(mats.distance_int, mats.duration_s, tuple(visits), vehicles)
        spent = time.perf_counter() - started
        warm = _warm_start(request, previous, visit_stop)
        solved = self._solve(
            problem, max(request.time_limit_s - spent, 0.25 * request.time_limit_s), warm
        )
        # The solver's answer is never trusted blindly: replayed, and repaired by leaving out
        # whatever would be late should a search cut short by the clock return one.
        solved = replace(solved, routes=repair(problem, solved.routes))
        check = evaluate(problem, solved.routes)
        if not check.feasible:
            raise RuntimeError(f"route solver returned an infeasible plan: {check.violations[:3]}")

        routes = _routes(request, layout, mats, problem, solved, visit_stop)
        planned = {p.key for r in routes for p in r.stops}
        for v_idx, i in enumerate(visit_stop):
            stop = request.stops[i]
            if stop.key in planned:
                continue
            unplanned[i] = _left_out(request, stop, problem.visits[v_idx])
        return Plan(
            routes=routes,
            unplanned=tuple(unplanned[i] for i in sorted(unplanned)),
            solve_ms=(time.perf_counter() - started) * 1000.0,
        )

    def _solve(
        self,
        problem: RoutingProblem,
        time_limit_s: float,
        warm: tuple[RouteOrder, ...] | None = None,
    ) -> Solved:
        """Collectors who share no stop are planned apart (when every case is held by its
        collector, a team's day is so many one-collector days): smaller searches, and each
        gets a share of the time in proportion to its stops."""
        parts = _independent_parts(problem)
        if len(parts) <= 1:
            return self._solve_connected(problem, time_limit_s, warm)
        started = time.perf_counter()
        routes: list[RouteOrder] = []
        feasible, iterations = True, 0
        left_n = sum(len(visits) for _, visits in parts)
        for kinds, visits in parts:
            remaining = time_limit_s - (time.perf_counter() - started)
            share = max(remaining * len(visits) / left_n, 0.05 * time_limit_s)
            left_n -= len(visits)
            sub, back = _subproblem(problem, kinds, visits)
            sub_warm = None
            if warm:
                visit_pos = {v: j for j, v in enumerate(visits)}
                sub_warm = tuple(
                    RouteOrder(
                        kinds.index(r.vehicle),
                        tuple(visit_pos[v] for v in r.visits if v in visit_pos),
                    )
                    for r in warm
                    if r.vehicle in kinds
                )
            solved = self._solve_connected(sub, share, sub_warm)
            feasible &= solved.solver_feasible
            iterations += solved.iterations
            routes += [
                RouteOrder(kinds[r.vehicle], tuple(back[v] for v in r.visits))
                for r in solved.routes
            ]
        return Solved(tuple(routes), feasible, iterations, time.perf_counter() - started)

    def _solve_connected(
        self,
        problem: RoutingProblem,
        time_limit_s: float,
        warm: tuple[RouteOrder, ...] | None = None,
    ) -> Solved:
        """First as if every stop had to be made: when the day fits, that plain VRPTW is found
        fast and close to optimal (PyVRP's prize-collecting search converges much more slowly).
        When it does not fit — a capacity bound says so, or nothing feasible turns up soon —
        the prize-collecting problem chooses what to leave out."""
        started = time.perf_counter()
        n = len(problem.visits)
        if _may_all_fit(problem):
            everything = replace(
                problem,
                visits=tuple(replace(v, required=True, prize=0) for v in problem.visits),
            )
            solved = solve_problem(
                everything,
                time_limit_s,
                seed=self._seed,
                stall=self._patience or _stall(n),
                give_up=max(50, 2 * n),
                warm_start=warm,
            )
            if solved.solver_feasible and evaluate(everything, solved.routes).feasible:
                return solved
        left = max(time_limit_s - (time.perf_counter() - started), 0.25 * time_limit_s)
        return solve_problem(
            problem, left, seed=self._seed, stall=self._patience or _stall(n), warm_start=warm
        )


def _with_prizes(
    request: PlanRequest, visits: list[Visit], visit_stop: list[int], mats: TravelMatrices
) -> list[Visit]:
    """One priority point outweighs any detour (at most twice the longest edge); a required
    stop outweighs every optional one together, so it is kept whenever it fits at all."""
    point = 2 * int(mats.distance_int.max(initial=0)) + 1
    stops = [request.stops[i] for i in visit_stop]
    must = point * (sum(max(1, s.priority) for s in stops if not s.required) + 1)
    return [
        replace(v, prize=must if s.required else point * max(1, s.priority))
        for v, s in zip(visits, stops, strict=True)
    ]


def _vehicle(shift: Shift, k: int, layout: _Layout) -> Vehicle:
    earliest = _secs(shift.start_at, layout.t0, up=True)
    return Vehicle(
        start=layout.start_loc[k],
        end=layout.end_loc[k],
        earliest=earliest,
        latest=max(_secs(shift.end_at, layout.t0, up=False), earliest),
    )


def _independent_parts(problem: RoutingProblem) -> list[tuple[list[int], list[int]]]:
    """Groups of vehicle kinds linked by a visit more than one of them may make, each with its
    visits (kinds with no visit are left out)."""
    parent = list(range(len(problem.vehicles)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    everyone = range(len(problem.vehicles))
    for v in problem.visits:
        kinds = sorted(v.vehicles) if v.vehicles is not None else list(everyone)
        for k in kinds[1:]:
            parent[root(k)] = root(kinds[0])
    parts: dict[int, tuple[list[int], list[int]]] = {}
    for i, v in enumerate(problem.visits):
        first = min(v.vehicles) if v.vehicles is not None else 0
        parts.setdefault(root(first), ([], []))[1].append(i)
    for k in everyone:
        if root(k) in parts:
            parts[root(k)][0].append(k)
    return list(parts.values())


def _subproblem(
    problem: RoutingProblem, kinds: list[int], visits: list[int]
) -> tuple[RoutingProblem, list[int]]:
    """The problem restricted to some vehicle kinds and visits (same matrix), and the map from
    its visit indices back to the original ones."""
    local = {k: j for j, k in enumerate(kinds)}
    sub_visits = []
    for i in visits:
        v = problem.visits[i]
        allowed = None
        if v.vehicles is not None and len(v.vehicles) < len(kinds):
            allowed = frozenset(local[k] for k in v.vehicles)
        sub_visits.append(replace(v, vehicles=allowed))
    sub = replace(
        problem,
        visits=tuple(sub_visits),
        vehicles=tuple(problem.vehicles[k] for k in kinds),
    )
    return sub, list(visits)


def _warm_start(
    request: PlanRequest, previous: Plan | None, visit_stop: list[int]
) -> tuple[RouteOrder, ...] | None:
    """The previous plan's order, in the new problem's indices (stops and shifts it still has)."""
    if previous is None:
        return None
    visit_of = {request.stops[i].key: v for v, i in enumerate(visit_stop)}
    shift_of = {s.key: k for k, s in enumerate(request.shifts)}
    routes = tuple(
        RouteOrder(
            shift_of[r.shift_key], tuple(visit_of[p.key] for p in r.stops if p.key in visit_of)
        )
        for r in previous.routes
        if r.shift_key in shift_of
    )
    return routes if any(r.visits for r in routes) else None


def _stall(n_visits: int) -> int:
    """Iterations without improvement before the planner stops early (tuned on collector days:
    longer searches rarely improve them by more than a fraction of a percent)."""
    return max(100, 3 * n_visits)


def _may_all_fit(problem: RoutingProblem) -> bool:
    """A quick necessary condition for making every visit: the shifts' hours cover the visits'
    durations plus, for each visit, the shortest drive into it."""
    dur = problem.duration
    locs = [v.location for v in problem.visits]
    if not locs:
        return True
    starts = sorted({k.start for k in problem.vehicles})
    into = dur[np.ix_(starts + locs, locs)].astype(np.float64)
    for j in range(len(locs)):
        into[len(starts) + j, j] = np.inf  # not from itself
    need = float(into.min(axis=0).sum()) + sum(v.service_s for v in problem.visits)
    have = sum(float(k.count) * (min(k.latest, NEVER) - k.earliest) for k in problem.vehicles)
    return need <= have


def validate(request: PlanRequest) -> None:
    """What the planner cannot work with, as ValueError naming the stop or shift."""
    if len({s.key for s in request.stops}) != len(request.stops):
        raise ValueError("stop keys must be unique")
    if len({s.key for s in request.shifts}) != len(request.shifts):
        raise ValueError("shift keys must be unique")
    for stop in request.stops:
        times = () if stop.window is None else (stop.window.start, stop.window.end)
        _check(stop.key, (stop.point,), times)
        if stop.duration_s < 0:
            raise ValueError(f"{stop.key}: negative duration")
    for shift in request.shifts:
        points = (
            (shift.start_point,)
            if shift.end_point is None
            else (shift.start_point, shift.end_point)
        )
        _check(shift.key, points, (shift.start_at, shift.end_at))


def _check(key: str, points: tuple[Point, ...], times: tuple[datetime, ...]) -> None:
    if any(t.tzinfo is None or t.utcoffset() is None for t in times):
        raise ValueError(f"{key}: times must be timezone-aware")
    if not all(-90 <= p.lat <= 90 and -180 <= p.lon <= 180 for p in points):
        raise ValueError(f"{key}: coordinates out of range")


def _layout(request: PlanRequest) -> _Layout:
    points: list[Point] = []
    start_loc, end_loc = [], []
    for s in request.shifts:
        start_loc.append(len(points))
        points.append(s.start_point)
        if s.end_point is None:
            end_loc.append(None)
        else:
            end_loc.append(len(points))
            points.append(s.end_point)
    stop_loc = {}
    for i, stop in enumerate(request.stops):
        stop_loc[i] = len(points)
        points.append(stop.point)
    t0 = min(s.start_at for s in request.shifts).astimezone(UTC)
    return _Layout(t0, points, start_loc, end_loc, stop_loc)


def _precheck(
    request: PlanRequest,
    layout: _Layout,
    mats: TravelMatrices,
    shift_index: dict[str, int],
    i: int,
) -> Unplanned | tuple[list[int], int, int]:
    """Either why stop `i` can never be planned, or the shifts that could take it alone and its
    integer start window [earliest, latest start]."""
    stop = request.stops[i]
    zone = _zone(stop)
    if stop.shift_key is not None and stop.shift_key not in shift_index:
        return Unplanned(
            stop.key,
            stop.required,
            NO_SHIFT,
            f"{stop.key} belongs to {stop.shift_key}, who is not in this plan.",
        )
    candidates = (
        [shift_index[stop.shift_key]] if stop.shift_key is not None else range(len(request.shifts))
    )
    t0, loc, dt = layout.t0, layout.stop_loc[i], mats.duration_s
    w = stop.window
    w_early = 0 if w is None else max(0, _secs(w.start, t0, up=True))
    w_late = NEVER if w is None else _secs(w.end, t0, up=False) - stop.duration_s
    allowed: list[int] = []
    closed: list[str] = []
    late: list[str] = []
    for k in candidates:
        shift = request.shifts[k]
        s_early, s_end = _secs(shift.start_at, t0, up=True), _secs(shift.end_at, t0, up=False)
        early, latest = max(w_early, s_early), min(w_late, s_end - stop.duration_s)
        if early > latest:
            where = "visit hours" if w is not None else "time"
            if w is not None:
                where = f"its window {_span(w.start, w.end, zone)}"
            closed.append(
                f"{where} and shift {shift.key} ({_span(shift.start_at, shift.end_at, zone)}) "
                f"leave no room for a {_minutes(stop.duration_s)} visit"
            )
            continue
        start = max(s_early + int(dt[layout.start_loc[k], loc]), early)
        back = start + stop.duration_s
        if layout.end_loc[k] is not None:
            back += int(dt[loc, layout.end_loc[k]])
        if start <= latest and back <= s_end:
            allowed.append(k)
            continue
        arrive = t0 + timedelta(seconds=s_early + int(dt[layout.start_loc[k], loc]))
        if start > latest:
            must_start = t0 + timedelta(seconds=latest)
            late.append(
                f"leaving at {_clock(shift.start_at, zone)}, {shift.key} arrives at "
                f"{_clock(arrive, zone)}, but a {_minutes(stop.duration_s)} visit must start by "
                f"{_clock(must_start, zone)} {zone.key} to end inside "
                + (f"its window {_span(w.start, w.end, zone)}" if w is not None else "the shift")
            )
        else:
            late.append(
                f"{shift.key} cannot visit it and be back at the end point by "
                f"{_clock(shift.end_at, zone)} {zone.key}"
            )
    if allowed:
        shifts = [request.shifts[k] for k in allowed]
        earliest = max(w_early, min(_secs(s.start_at, t0, up=True) for s in shifts))
        latest = min(w_late, max(_secs(s.end_at, t0, up=False) for s in shifts) - stop.duration_s)
        return allowed, earliest, latest
    if late:
        why = "; ".join(late)
        return Unplanned(
            stop.key, stop.required, UNREACHABLE, f"{stop.key} cannot be reached in time: {why}."
        )
    return Unplanned(
        stop.key, stop.required, WINDOW_CLOSED, f"{stop.key}: " + "; ".join(closed) + "."
    )


def _left_out(request: PlanRequest, stop: Stop, visit: Visit) -> Unplanned:
    zone = _zone(stop)
    shifts = [
        s.key for k, s in enumerate(request.shifts) if visit.vehicles is None or k in visit.vehicles
    ]
    who = ", ".join(shifts)
    when = ""
    if stop.window is not None:
        when = f" in its window {_span(stop.window.start, stop.window.end, zone)}"
    if stop.required:
        return Unplanned(
            stop.key,
            True,
            UNREACHABLE,
            f"{stop.key} is required and could be visited alone, but not together with the other "
            f"required visits of {who}: a {_minutes(stop.duration_s)} visit{when} does not fit "
            f"around them. Move it to another day or collector, or widen its window.",
        )
    return Unplanned(
        stop.key,
        False,
        NOT_WORTH_IT,
        f"{stop.key} is optional (priority {stop.priority}) and no time was left for it{when} "
        f"after the higher-priority and required visits of {who}.",
    )


def _routes(
    request: PlanRequest,
    layout: _Layout,
    mats: TravelMatrices,
    problem: RoutingProblem,
    solved: Solved,
    visit_stop: list[int],
) -> tuple[Route, ...]:
    """Times replayed from the solver's visit order over the same integer seconds: leave as late
    as the first visit allows (no waiting at the first door), wait where a window is not open."""
    order = {r.vehicle: r.visits for r in solved.routes if r.visits}
    t0, dt, dm = layout.t0, mats.duration_s, mats.distance_m
    routes = []
    for k, shift in enumerate(request.shifts):
        kind = problem.vehicles[k]
        seq = order.get(k, ())
        here = kind.start
        t = kind.earliest
        if seq:
            first = problem.visits[seq[0]]
            t = max(t, first.earliest - int(dt[here, first.location]))
        stops: list[PlannedStop] = []
        metres = 0.0
        for n, v_idx in enumerate(seq, start=1):
            v = problem.visits[v_idx]
            leg = float(dm[here, v.location])
            arrival = t + int(dt[here, v.location])
            start = max(arrival, v.earliest)
            t = start + v.service_s
            metres += leg
            stops.append(
                PlannedStop(
                    key=request.stops[visit_stop[v_idx]].key,
                    sequence=n,
                    arrival=t0 + timedelta(seconds=arrival),
                    start=t0 + timedelta(seconds=start),
                    departure=t0 + timedelta(seconds=t),
                    travel_m=leg,
                )
            )
            here = v.location
        if kind.end is not None:
            metres += float(dm[here, kind.end])
            t += int(dt[here, kind.end])
        routes.append(Route(shift.key, tuple(stops), metres, t0 + timedelta(seconds=t)))
    return tuple(routes)


# ----------------------------------------------------------------------------- re-planning


def replan_request(
    request: PlanRequest,
    plan: Plan,
    shift_key: str,
    position: Point,
    now: datetime,
    done: Iterable[str] = (),
    pinned: Iterable[str] = (),
    dropped: Iterable[str] = (),
) -> PlanRequest:
    """The request for re-planning one collector from where they stand, at `now`: their stops
    (those `plan` routed to them, those restricted to them and any `pinned`) minus the ones
    already `done` or `dropped` (cancelled); pinned stops become required. The shift starts at
    `position` at `now` (or its own start, if later); other collectors' days are not touched."""
    shift = next((s for s in request.shifts if s.key == shift_key), None)
    if shift is None:
        raise KeyError(shift_key)
    gone, pin = set(done) | set(dropped), set(pinned)
    mine = {p.key for r in plan.routes if r.shift_key == shift_key for p in r.stops} | pin
    stops = tuple(
        replace(s, shift_key=shift_key, required=s.required or s.key in pin)
        for s in request.stops
        if s.key not in gone and (s.key in mine or s.shift_key == shift_key)
    )
    moved = replace(shift, start_point=position, start_at=max(now, shift.start_at))
    return replace(request, stops=stops, shifts=(moved,))


def replan(
    planner: PyVRPPlanner | None,
    request: PlanRequest,
    plan: Plan,
    shift_key: str,
    position: Point,
    now: datetime,
    done: Iterable[str] = (),
    pinned: Iterable[str] = (),
    dropped: Iterable[str] = (),
) -> Plan:
    """Re-plan one collector's remaining stops from `position` at `now` (see `replan_request`)."""
    again = replan_request(request, plan, shift_key, position, now, done, pinned, dropped)
    return (planner or PyVRPPlanner()).plan(again, previous=plan)
