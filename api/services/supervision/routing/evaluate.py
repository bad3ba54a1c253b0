"""An evaluator of our own, independent of the solver: replays routes against the problem and
rejects anything infeasible (a window missed, a shift overrun, a visit twice, a required visit
left out, a vehicle used beyond its count, a visit on a vehicle it is not allowed on).

`evaluate` checks the integer problem the solver saw (benchmarks, planner self-check);
`check_plan` checks a `Plan` against its `PlanRequest` in wall-clock terms (tests)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from api.services.supervision.routing.matrix import geodesic_matrix_m
from api.services.supervision.routing.planner import Plan, PlanRequest
from api.services.supervision.routing.problem import RouteOrder, RoutingProblem


@dataclass(frozen=True)
class Evaluation:
    feasible: bool
    distance: int  # sum of the distance matrix along every route (incl. the return leg)
    uncollected_prize: int  # prizes of optional visits left out
    violations: tuple[str, ...] = field(default=())

    @property
    def cost(self) -> int:
        return self.distance + self.uncollected_prize


def evaluate(
    problem: RoutingProblem, routes: tuple[RouteOrder, ...] | list[RouteOrder]
) -> Evaluation:
    dist, dur = problem.distance, problem.duration
    bad: list[str] = []
    seen: Counter[int] = Counter()
    used: Counter[int] = Counter()
    total = 0
    for r in routes:
        if not 0 <= r.vehicle < len(problem.vehicles):
            bad.append(f"route on unknown vehicle kind {r.vehicle}")
            continue
        if not r.visits:
            continue
        kind = problem.vehicles[r.vehicle]
        used[r.vehicle] += 1
        t, here, load = kind.earliest, kind.start, 0
        for i in r.visits:
            if not 0 <= i < len(problem.visits):
                bad.append(f"unknown visit {i}")
                continue
            v = problem.visits[i]
            seen[i] += 1
            if v.vehicles is not None and r.vehicle not in v.vehicles:
                bad.append(f"visit {i} on vehicle kind {r.vehicle}, not allowed")
            total += int(dist[here, v.location])
            t = max(t + int(dur[here, v.location]), v.earliest)
            if t > v.latest:
                bad.append(f"visit {i} starts at {t}, after its latest start {v.latest}")
            t += v.service_s
            load += v.demand
            here = v.location
        if kind.end is not None:
            total += int(dist[here, kind.end])
            t += int(dur[here, kind.end])
        if t > kind.latest:
            bad.append(f"vehicle kind {r.vehicle} ends at {t}, after {kind.latest}")
        if kind.capacity is not None and load > kind.capacity:
            bad.append(f"vehicle kind {r.vehicle} carries {load} > capacity {kind.capacity}")
    for k, n in used.items():
        if n > problem.vehicles[k].count:
            bad.append(f"vehicle kind {k} used {n} times, has {problem.vehicles[k].count}")
    bad += [f"visit {i} visited {n} times" for i, n in seen.items() if n > 1]
    missing = [i for i, v in enumerate(problem.visits) if v.required and not seen[i]]
    bad += [f"required visit {i} missing" for i in missing]
    lost = sum(v.prize for i, v in enumerate(problem.visits) if not v.required and not seen[i])
    return Evaluation(not bad, total, int(lost), tuple(bad))


def check_plan(request: PlanRequest, plan: Plan, tolerance_s: float = 1.0) -> list[str]:
    """Everything wrong with `plan` as an answer to `request` (empty: a valid plan). Times are
    replayed with the request's travel speed over the geodesic distances; `tolerance_s` absorbs
    the solver's whole-second rounding."""
    bad: list[str] = []
    stops = {s.key: s for s in request.stops}
    shifts = {s.key: s for s in request.shifts}
    speed = request.speed_kmh / 3.6
    tol = timedelta(seconds=tolerance_s)
    placed: Counter[str] = Counter()
    for route in plan.routes:
        shift = shifts.get(route.shift_key)
        if shift is None:
            bad.append(f"route for unknown shift {route.shift_key}")
            continue
        if sum(r.shift_key == shift.key for r in plan.routes) > 1:
            bad.append(f"shift {shift.key} has more than one route")
        pts = [shift.start_point] + [stops[p.key].point for p in route.stops if p.key in stops]
        if len(pts) != len(route.stops) + 1:
            bad.append(f"route {shift.key} has stops not in the request")
            continue
        if shift.end_point is not None:
            pts.append(shift.end_point)
        legs = geodesic_matrix_m(pts)
        prev_departure = shift.start_at
        metres = 0.0
        for n, p in enumerate(route.stops, start=1):
            s = stops[p.key]
            placed[p.key] += 1
            leg = float(legs[n - 1, n])
            metres += leg
            if p.sequence != n:
                bad.append(f"{p.key}: sequence {p.sequence}, expected {n}")
            if abs(p.travel_m - leg) > 1.0:
                bad.append(f"{p.key}: travel {p.travel_m:.0f} m, the geodesic is {leg:.0f} m")
            if s.shift_key is not None and s.shift_key != shift.key:
                bad.append(f"{p.key}: belongs to {s.shift_key}, planned on {shift.key}")
            if p.arrival + tol < prev_departure + timedelta(seconds=leg / speed):
                bad.append(f"{p.key}: arrives {p.arrival} before it can get there")
            if p.start < p.arrival:
                bad.append(f"{p.key}: starts before arriving")
            if p.departure - p.start != timedelta(seconds=s.duration_s):
                bad.append(f"{p.key}: the visit does not last {s.duration_s} s")
            if p.start < shift.start_at or p.departure > shift.end_at:
                bad.append(f"{p.key}: outside the shift")
            if s.window is not None and (p.start < s.window.start or p.departure > s.window.end):
                bad.append(f"{p.key}: {p.start:%H:%M}–{p.departure:%H:%M} is outside its window")
            prev_departure = p.departure
        end = prev_departure
        if shift.end_point is not None:
            leg = float(legs[len(pts) - 2, len(pts) - 1])
            metres += leg
            end = prev_departure + timedelta(seconds=leg / speed)
        if route.ends_at + tol < end:
            bad.append(f"route {shift.key} ends at {route.ends_at}, before it can")
        if route.stops and route.ends_at > shift.end_at + tol:
            bad.append(f"route {shift.key} ends after its shift")
        if abs(route.distance_m - metres) > 1.0 * (len(route.stops) + 1):
            bad.append(
                f"route {shift.key}: distance {route.distance_m:.0f} m, legs add to {metres:.0f}"
            )
    for u in plan.unplanned:
        placed[u.key] += 1
        if u.key not in stops:
            bad.append(f"unplanned {u.key} is not in the request")
        elif u.required != stops[u.key].required:
            bad.append(f"unplanned {u.key}: required flag differs from the request")
        if not u.detail:
            bad.append(f"unplanned {u.key} has no reason")
    for key in stops:
        if placed[key] != 1:
            bad.append(f"{key} appears {placed[key]} times in the plan")
    return bad


def tour_length(matrix: np.ndarray, tour: list[int]) -> int:
    """Closed-tour length over an integer matrix (TSPLIB optimum tours, checks)."""
    return int(sum(matrix[a, b] for a, b in zip(tour, tour[1:] + tour[:1], strict=True)))
