"""PyVRP behind one function: `solve_problem` takes an integer `RoutingProblem` and returns the
best visit order found. The planner and the benchmarks both call it, so the benchmarks measure
the planner's own search. This is `pyvrp.solve` with settings and starting penalties tuned for
runs of milliseconds to a second, held cases as load dimensions with their own neighbours, and
a `repair` for anything the clock cut short."""

from __future__ import annotations

import time
from dataclasses import replace

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

from api.services.supervision.routing.problem import (
    NEVER,
    RouteOrder,
    RoutingProblem,
    Solved,
    Vehicle,
)

SEED = 1  # fixed: the same request gives the same plan


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
