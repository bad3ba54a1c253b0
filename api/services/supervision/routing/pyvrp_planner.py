"""`PyVRPPlanner`: the planner interface answered with PyVRP (MIT), an iterated local search
that stays feasible and close to the best-known values on time-window problems.

Two layers: `solve_problem` solves an integer `RoutingProblem` (the benchmarks call it too, so
they measure the planner's own code path), and `PyVRPPlanner` turns a `PlanRequest` into one
— pre-checking what can never fit, so every stop left out has a reason a supervisor can read
— and turns the solver's visit order back into times, recomputed and checked here."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from pyvrp import (
    Activity,
    ActivityType,
    Client,
    Depot,
    IteratedLocalSearch,
    IteratedLocalSearchParams,
    Location,
    PenaltyManager,
    PenaltyParams,
    ProblemData,
    RandomNumberGenerator,
    Solution,
    SolveParams,
    VehicleType,
)
from pyvrp import Route as PyVRPRoute
from pyvrp.search import (
    OPERATORS,
    LocalSearch,
    NeighbourhoodParams,
    PerturbationManager,
    Relocate3,
    compute_neighbours,
)
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, NoImprovement

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

SEED = 1  # fixed: the same request gives the same plan


# ----------------------------------------------------------------------------- solver layer


class _GiveUpWithoutFeasible:
    """Stops a search that has found nothing feasible after `iterations` or `seconds` (PyVRP
    reports an infeasible best as the largest int64 cost)."""

    def __init__(self, iterations: int, seconds: float) -> None:
        self._left = iterations
        self._until = time.perf_counter() + seconds

    def __call__(self, best_cost: int) -> bool:
        if best_cost < _INFEASIBLE:
            return False
        self._left -= 1
        return self._left < 0 or time.perf_counter() > self._until


_INFEASIBLE = 2**63 - 1


def _stop_criterion(
    time_limit_s: float, stall: int, max_iterations: int | None, give_up: int | None
) -> MultipleCriteria:
    criteria = [MaxRuntime(max(time_limit_s, 0.001)), NoImprovement(stall)]
    if max_iterations is not None:
        criteria.append(MaxIterations(max_iterations))
    if give_up is not None:
        criteria.append(_GiveUpWithoutFeasible(give_up, 0.5 * time_limit_s))
    return MultipleCriteria(criteria)


def _time_bound(problem: RoutingProblem) -> int:
    """An upper bound on any route's time warp or excess, to keep penalties within int64."""
    times = [k.latest for k in problem.vehicles if k.latest < NEVER]
    times += [v.latest for v in problem.visits if v.latest < NEVER]
    n = len(problem.visits) + 1
    span = max(times, default=0) + sum(v.service_s for v in problem.visits)
    span += n * int(problem.duration.max(initial=0))
    return max(span, n * int(problem.distance.max(initial=0)), n, 1)


def _restrictions(problem: RoutingProblem) -> list[frozenset[int]]:
    """The distinct sets of vehicle kinds some visits are restricted to."""
    return list(dict.fromkeys(v.vehicles for v in problem.visits if v.vehicles is not None))


def _restriction_loads(problem: RoutingProblem) -> tuple[list[list[int]], list[list[int]]]:
    """Restrictions as load dimensions: per visit its amounts, per vehicle kind its room. A
    visit carries one unit of a dimension only kinds it may ride have room for. With one set
    per dimension that is a dimension per holder; when every restriction names a single kind
    and there are many, kind k's visits carry the bits of k instead (2 dimensions per bit: a
    vehicle has room only where its own bits agree), so 30 holders need 10, not 30. (PyVRP's
    routing profiles could forbid the edges instead, but with one profile per collector the
    search slows down twentyfold.)"""
    sets = _restrictions(problem)
    kinds = len(problem.vehicles)
    room = len(problem.visits)
    bits = max(1, (kinds - 1).bit_length())
    if (
        sets
        and all(len(s) == 1 for s in sets)
        and 2 * bits < len(sets)
        and __import__("os").environ.get("BITS", "1") == "1"
    ):

        def code(k: int) -> list[int]:
            return [(k >> b) & 1 for b in range(bits)] + [1 - ((k >> b) & 1) for b in range(bits)]

        amounts = [
            [0] * (2 * bits) if v.vehicles is None else code(min(v.vehicles))
            for v in problem.visits
        ]
        rooms = [[room * x for x in code(k)] for k in range(kinds)]
        return amounts, rooms
    amounts = [[int(v.vehicles == s) for s in sets] for v in problem.visits]
    rooms = [[room if k in s else 0 for s in sets] for k in range(kinds)]
    return amounts, rooms


def _neighbours(
    problem: RoutingProblem, data: ProblemData, params: NeighbourhoodParams
) -> dict[Activity, list[Activity]]:
    """PyVRP's granular neighbourhood, plus, for a visit only some vehicles may make, the
    nearest visits restricted the same way: the search inserts a visit next to its neighbours,
    and if they all ride other vehicles a held case would never find its way onto its
    holder's route."""
    neighbours = compute_neighbours(data, params)
    if not _restrictions(problem):
        return neighbours
    dur = problem.duration
    locs = np.array([v.location for v in problem.visits])
    by_set: dict[frozenset[int], list[int]] = {}
    for i, v in enumerate(problem.visits):
        if v.vehicles is not None:
            by_set.setdefault(v.vehicles, []).append(i)
    extra = max(5, params.num_neighbours // 3)
    for members in by_set.values():
        if len(members) < 2:
            continue
        idx = np.array(members)
        near = dur[np.ix_(locs[idx], locs[idx])].astype(np.float64)
        np.fill_diagonal(near, np.inf)
        for row, i in enumerate(members):
            mine = Activity(ActivityType.CLIENT, i)
            have = neighbours.setdefault(mine, [])
            known = set(have)
            for j in idx[np.argsort(near[row])[:extra]]:
                other = Activity(ActivityType.CLIENT, int(j))
                if other != mine and other not in known:
                    have.append(other)
                    known.add(other)
    return neighbours


def _by_nearest_allowed_vehicle(problem: RoutingProblem) -> tuple[RouteOrder, ...]:
    """A starting point that breaks no restriction: each visit on the allowed vehicle kind
    whose start is nearest, in order of window opening. From a random start, the first local
    search spends most of its time moving restricted visits home."""
    starts = np.array([k.start for k in problem.vehicles])
    routes: dict[int, list[int]] = {}
    for i, v in enumerate(problem.visits):
        allowed = sorted(v.vehicles) if v.vehicles is not None else range(len(starts))
        k = min(allowed, key=lambda k: int(problem.duration[starts[k], v.location]))
        routes.setdefault(k, []).append(i)
    order = [
        RouteOrder(
            k,
            tuple(sorted(vs, key=lambda i: (problem.visits[i].earliest, problem.visits[i].latest))),
        )
        for k, vs in sorted(routes.items())
    ]
    return tuple(order)


def _problem_data(problem: RoutingProblem) -> ProblemData:
    n = problem.distance.shape[0]
    dist = np.asarray(problem.distance, dtype=np.int64)
    dur = np.asarray(problem.duration, dtype=np.int64)
    open_end = any(k.end is None for k in problem.vehicles)
    if open_end:  # an open route ends at a free depot: every edge into it costs nothing
        dist = np.pad(dist, ((0, 1), (0, 1)))
        dur = np.pad(dur, ((0, 1), (0, 1)))
        n += 1
    np.fill_diagonal(dist, 0)
    np.fill_diagonal(dur, 0)

    depot_locs: list[int] = []
    for k in problem.vehicles:
        for loc in (k.start, n - 1 if k.end is None else k.end):
            if loc not in depot_locs:
                depot_locs.append(loc)
    depot_of = {loc: i for i, loc in enumerate(depot_locs)}

    loads = any(k.capacity is not None for k in problem.vehicles)
    amounts, rooms = _restriction_loads(problem)
    clients = [
        Client(
            location=v.location,
            delivery=([v.demand] if loads else []) + amounts[i],
            service_duration=v.service_s,
            tw_early=v.earliest,
            tw_late=v.latest,
            prize=v.prize,
            required=v.required,
        )
        for i, v in enumerate(problem.visits)
    ]
    vehicle_types = [
        VehicleType(
            num_available=k.count,
            capacity=([k.capacity if k.capacity is not None else NEVER] if loads else [])
            + rooms[i],
            start_depot=depot_of[k.start],
            end_depot=depot_of[n - 1 if k.end is None else k.end],
            tw_early=k.earliest,
            tw_late=k.latest,
        )
        for i, k in enumerate(problem.vehicles)
    ]
    return ProblemData(
        locations=[Location(0.0, 0.0) for _ in range(n)],
        clients=clients,
        depots=[Depot(location=loc) for loc in depot_locs],
        vehicle_types=vehicle_types,
        distance_matrices=[dist],
        duration_matrices=[dur],
    )


def solve_params(problem: RoutingProblem | None = None) -> SolveParams:
    """The search settings, tuned on the Solomon 100-customer set at a one-second budget: a
    short late-acceptance history, 30 neighbours, and penalties that adapt every 50 solutions
    (PyVRP's defaults suit minutes-long runs; ours last milliseconds to a second). A single
    route (one collector, a TSP) also moves chains of three visits: on TSPLIB and TSPTW that
    closed the last percent or so at the same budget."""
    operators = list(OPERATORS)
    if problem is not None and sum(k.count for k in problem.vehicles) == 1:
        operators.append(Relocate3)
    return SolveParams(
        ils=IteratedLocalSearchParams(history_length=50),
        neighbourhood=NeighbourhoodParams(num_neighbours=30),
        penalty=PenaltyParams(solutions_between_updates=50),
        operators=operators,
    )


def _initial_penalties(
    problem: RoutingProblem, data: ProblemData
) -> tuple[list[float], float, float]:
    """Start the time-warp penalty at about 100 distance units per time unit: low enough that
    the search can pass through slightly late solutions early on, high enough to come back. A
    visit on a vehicle it is restricted away from (one unit of a restriction dimension) costs
    as much as the longest detour or the largest prize from the start."""
    dist, dur = problem.distance, problem.duration
    ratio = float(dist.mean()) / float(dur.mean()) if dur.any() and dist.any() else 1.0
    capacity = [100.0] if any(k.capacity is not None for k in problem.vehicles) else []
    top = max([v.prize for v in problem.visits] + [2 * int(dist.max(initial=0)) + 1])
    restricted = [float(top)] * (data.num_load_dimensions - len(capacity))
    return capacity + restricted, 100.0 * ratio, 100.0


def solve_problem(
    problem: RoutingProblem,
    time_limit_s: float = 1.0,
    *,
    seed: int = SEED,
    max_iterations: int | None = None,
    params: SolveParams | None = None,
    warm_start: tuple[RouteOrder, ...] | None = None,
    stall: int | None = None,
    give_up: int | None = None,
) -> Solved:
    """Solve an integer routing problem with PyVRP's iterated local search; the answer is the
    best visit order per vehicle found (check it with `evaluate`). This is `pyvrp.solve` with
    our own starting penalties. It stops at `time_limit_s`, after `stall` iterations without
    improvement (default 20 per visit, at least 200), after `max_iterations`, or — with
    `give_up` — when that many iterations, or half the time, have found nothing feasible."""
    started = time.perf_counter()
    if not problem.visits:
        return Solved((), True, 0, 0.0)
    data = _problem_data(problem)
    params = params or solve_params(problem)
    top_prize = max((v.prize for v in problem.visits), default=0)
    # One second late must be able to cost more than any prize, or the search would rather be
    # late than leave a stop out: the penalty's ceiling grows with the prizes.
    ceiling = max(params.penalty.max_penalty, 2.0 * top_prize)
    worst_warp = (len(problem.visits) + 1) * _time_bound(problem)
    ceiling = min(ceiling, 2.0**60 / worst_warp)  # penalty × time warp must stay in int64
    penalty = replace(params.penalty, max_penalty=ceiling)
    rng = RandomNumberGenerator(seed=seed)
    ls = LocalSearch(
        data,
        rng,
        _neighbours(problem, data, params.neighbourhood),
        PerturbationManager(params.perturbation),
    )
    for op in params.operators:
        if op.supports(data):
            ls.add_operator(op(data))
    pm = PenaltyManager(_initial_penalties(problem, data), penalty)
    if not warm_start and _restrictions(problem):
        warm_start = _by_nearest_allowed_vehicle(problem)
    if warm_start:
        first = Solution(
            data, [PyVRPRoute(data, list(r.visits), r.vehicle) for r in warm_start if r.visits]
        )
    else:
        first = Solution.make_random(data, rng)
    init = ls(first, pm.max_cost_evaluator(), exhaustive=True)
    if stall is None:
        stall = max(200, 20 * len(problem.visits))
    # The clock covers building the data and the first local search too, not only the loop.
    left = time_limit_s - (time.perf_counter() - started)
    stop = _stop_criterion(left, stall, max_iterations, give_up)
    result = IteratedLocalSearch(data, pm, ls, init, params.ils).run(stop, collect_stats=False)
    best = result.best
    routes = tuple(
        RouteOrder(r.vehicle_type(), tuple(a.idx for a in r if a.is_client()))
        for r in best.routes()
    )
    return Solved(routes, best.is_feasible(), result.num_iterations, time.perf_counter() - started)


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

        # Prizes: one priority point outweighs any detour (at most twice the longest edge), and a
        # required stop outweighs every optional one together: kept whenever it fits at all.
        point = 2 * int(mats.distance_int.max(initial=0)) + 1
        optional_total = sum(
            max(1, request.stops[i].priority) for i in visit_stop if not request.stops[i].required
        )
        must = point * (optional_total + 1)
        visits = [
            replace(
                v,
                prize=must
                if request.stops[i].required
                else point * max(1, request.stops[i].priority),
            )
            for v, i in zip(visits, visit_stop, strict=True)
        ]
        vehicles = tuple(
            Vehicle(
                start=layout.start_loc[k],
                end=layout.end_loc[k],
                earliest=_secs(s.start_at, layout.t0, up=True),
                latest=max(
                    _secs(s.end_at, layout.t0, up=False), _secs(s.start_at, layout.t0, up=True)
                ),
            )
            for k, s in enumerate(request.shifts)
        )
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


def repair(problem: RoutingProblem, routes: tuple[RouteOrder, ...]) -> tuple[RouteOrder, ...]:
    """The routes with every visit dropped that would start late, repeat, or ride a vehicle it
    may not, and trailing visits dropped until the vehicle is back in time (optional visits of
    the planner's problem only ever become "left out"; a feasible route is returned unchanged)."""
    dist_t = problem.duration
    seen: set[int] = set()
    fixed = []
    for r in routes:
        kind = problem.vehicles[r.vehicle]
        keep: list[int] = []
        t, here = kind.earliest, kind.start
        for i in r.visits:
            v = problem.visits[i]
            start = max(t + int(dist_t[here, v.location]), v.earliest)
            if (
                i in seen
                or start > v.latest
                or (v.vehicles is not None and r.vehicle not in v.vehicles)
            ):
                continue
            seen.add(i)
            keep.append(i)
            t, here = start + v.service_s, v.location
        while keep and _route_end(problem, kind, keep) > kind.latest:
            seen.discard(keep.pop())
        fixed.append(RouteOrder(r.vehicle, tuple(keep)))
    return tuple(fixed)


def _route_end(problem: RoutingProblem, kind: Vehicle, visits: list[int]) -> int:
    t, here = kind.earliest, kind.start
    for i in visits:
        v = problem.visits[i]
        t = max(t + int(problem.duration[here, v.location]), v.earliest) + v.service_s
        here = v.location
    return t if kind.end is None else t + int(problem.duration[here, kind.end])


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
    t0 = min(s.start_at for s in request.shifts)
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
