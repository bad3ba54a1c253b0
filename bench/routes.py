"""Route planning against published optima, and collector days around a real city.

Public instances (read at run time from `../shared/data/routing/`, never copied here; see its
README): TSPLIB berlin52, eil51, st70, kroA100 (EUC_2D rounded); Solomon VRPTW C101, R101,
RC101, C201, R201, RC201 at 25, 50 and 100 customers (DIMACS: distances and times truncated to
one decimal, fleet 25, objective total distance); TSPTW Dumas, Ohlmann-Thomas and
Potvin-Bengio with their matrices. Every instance is solved by
`api.services.supervision.routing.solver.solve_problem` — the planner's own solver call
— and every answer is replayed by our evaluator (`routing/evaluate.py`), which rejects anything
infeasible. Then `PyVRPPlanner.plan` on collector days around Shenzhen (places.csv): 16 stops
for one collector, 100 stops for a team of five, and a re-plan of 60 remaining stops from the
collector's position. Wall times include reading the instance and building the matrix. Usage:

    .venv/bin/python bench/routes.py [--quick] [--data DIR] [--time-limit 1.15] [--runs 5]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.services.supervision.routing.evaluate import check_plan, evaluate  # noqa: E402
from api.services.supervision.routing.instances import (  # noqa: E402
    Instance,
    read_best_known,
    read_solomon,
    read_tsplib,
    read_tsptw,
)
from api.services.supervision.routing.planner import (  # noqa: E402
    Plan,
    PlanRequest,
    Point,
    Shift,
    Stop,
    TimeWindow,
)
from api.services.supervision.routing.pyvrp_planner import (  # noqa: E402
    PyVRPPlanner,
    replan_request,
)
from api.services.supervision.routing.solver import solve_problem  # noqa: E402
from api.services.supervision.routing.windows import intersect, visit_window  # noqa: E402

TSPLIB = {"berlin52": 7542, "eil51": 426, "st70": 675, "kroA100": 21282}
SOLOMON_100 = {"C101": 827.3, "R101": 1637.7, "RC101": 1619.8, "C201": 589.1, "R201": 1143.2,
               "RC201": 1261.8}
# Optima of the 25/50-customer instances, same convention. C101/R101/RC101 are from the data
# README; the C201/R201/RC201 ones (marked †) are the published optima listed on Solomon's
# benchmark page (SINTEF TOP), not in the README.
SOLOMON_SMALL = {
    ("C101", 25): 191.3, ("C101", 50): 362.4, ("R101", 25): 617.1, ("R101", 50): 1044.0,
    ("RC101", 25): 461.1, ("RC101", 50): 944.0,
    ("C201", 25): 214.7, ("C201", 50): 360.2, ("R201", 25): 463.3, ("R201", 50): 791.9,
    ("RC201", 25): 360.2, ("RC201", 50): 684.8,
}
FROM_LITERATURE = {"C201", "R201", "RC201"}
TSPTW = {
    "Dumas": ["n20w20.001", "n40w40.001", "n60w20.001", "n100w20.001", "n100w60.001"],
    "OhlmannThomas": ["n150w120.001"],
    "SolomonPotvinBengio": ["rc_201.1", "rc_204.3"],
}
QUICK = {"berlin52", "C101.25", "R101.25", "RC101.50", "C101", "RC101", "n20w20.001",
         "n60w20.001", "rc_201.1"}

SHENZHEN = "1795565"  # geonameid in places.csv
ZONE = "Asia/Shanghai"


@dataclass
class Row:
    group: str
    name: str
    n: int
    wall_ms: float
    cost: float | None
    best: float | None
    feasible: bool
    note: str = ""
    cpu_ms: float | None = None

    @property
    def gap(self) -> float | None:
        if self.cost is None or not self.best:
            return None
        return 100.0 * (self.cost - self.best) / self.best


def default_data() -> Path:
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / "data" / "routing").is_dir():
            return base / "shared" / "data" / "routing"
    return ROOT.parent / "shared" / "data" / "routing"


def solve_instance(group: str, read: Callable[[], Instance], best: float, limit: float,
                   note: str = "") -> Row:
    started, cpu = time.perf_counter(), time.process_time()
    inst = read()
    solved = solve_problem(inst.problem, limit)
    wall = (time.perf_counter() - started) * 1000
    cpu_ms = (time.process_time() - cpu) * 1000
    check = evaluate(inst.problem, solved.routes)
    cost = check.distance / inst.scale if check.feasible else None
    used = sum(1 for r in solved.routes if r.visits)
    extra = f"{used} route{'s' * (used != 1)}, {solved.iterations} iterations"
    if not check.feasible:
        extra += "; REJECTED: " + "; ".join(check.violations[:2])
    return Row(group, inst.name, len(inst.problem.visits), wall, cost, best, check.feasible,
               ", ".join(x for x in (note, extra) if x), cpu_ms)


def public_rows(data: Path, quick: bool, limit: float) -> list[Row]:
    rows: list[Row] = []

    def wanted(name: str) -> bool:
        return not quick or name in QUICK

    tsplib = data / "tsplib"
    for name, best in TSPLIB.items():
        if not wanted(name):
            continue
        if not (tsplib / f"{name}.tsp").exists():
            print(f"skipped {name}: {tsplib / name}.tsp not found")
            continue
        rows.append(solve_instance("TSPLIB", lambda p=tsplib / f"{name}.tsp": read_tsplib(p),
                                   best, limit))
    solomon = data / "solomon"
    for size in (25, 50, None):
        for name in SOLOMON_100:
            label = name if size is None else f"{name}.{size}"
            if not wanted(label):
                continue
            path = solomon / f"{name}.vrp"
            if not path.exists():
                print(f"skipped {label}: {path} not found")
                continue
            best = SOLOMON_100[name] if size is None else SOLOMON_SMALL[(name, size)]
            note = "†" if size is not None and name in FROM_LITERATURE else ""
            group = f"Solomon {size or 100}"
            rows.append(solve_instance(group, lambda p=path, s=size: read_solomon(p, s), best,
                                       limit, note))
    tsptw = data / "tsptw"
    for family, names in TSPTW.items():
        known_file = tsptw / f"best_known_{family}.txt"
        if not known_file.exists():
            print(f"skipped TSPTW {family}: {known_file} not found")
            continue
        known = read_best_known(known_file)
        for name in names:
            if not wanted(name):
                continue
            path = tsptw / f"{name}.txt"
            if not path.exists():
                print(f"skipped {name}: {path} not found")
                continue
            rows.append(solve_instance(f"TSPTW {family}", lambda p=path: read_tsptw(p),
                                       known[name], limit))
    return rows


# ----------------------------------------------------------------------------- collector days


def places() -> dict[str, dict[str, str]]:
    with (ROOT / "api" / "data" / "places.csv").open(encoding="utf-8", newline="") as fh:
        return {r["geonameid"]: r for r in csv.DictReader(fh)}


def around(centre: Point, km: float, rng: random.Random) -> Point:
    """A uniformly random point within `km` of `centre` (small-distance approximation)."""
    r = km * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    dlat = r * math.cos(a) / 111.32
    dlon = r * math.sin(a) / (111.32 * math.cos(math.radians(centre.lat)))
    return Point(centre.lat + dlat, centre.lon + dlon)


def collector_day(n_stops: int, n_collectors: int, seed: int, *, km: float,
                  visit_min: tuple[int, int], held: float, required: float, appointments: float,
                  time_limit_s: float) -> PlanRequest:
    """A synthetic but realistic day: stops scattered within `km` of Shenzhen's centre, visit
    hours 08:00–22:00 debtor-local, some appointments of two hours, visits of `visit_min`
    minutes, a share `held` restricted to the collector holding the case, a share `required`,
    priorities 1–5; collectors from bases around the city, 08:30–18:30, ending anywhere."""
    rng = random.Random(seed)
    row = places()[SHENZHEN]
    centre = Point(float(row["lat"]), float(row["lon"]))
    day = date(2026, 12, 2)
    hours = visit_window(day, ZONE)
    shifts = tuple(
        Shift(
            key=f"collector:{c + 1}",
            start_point=around(centre, km * 0.6, rng),
            start_at=datetime(2026, 12, 2, 0, 30, tzinfo=UTC),  # 08:30 local
            end_at=datetime(2026, 12, 2, 10, 30, tzinfo=UTC),  # 18:30 local
        )
        for c in range(n_collectors)
    )
    stops = []
    for i in range(n_stops):
        window = hours
        if rng.random() < appointments:
            at = hours.start + timedelta(minutes=30 * rng.randrange(2, 20))
            window = intersect(hours, TimeWindow(at, at + timedelta(hours=2)))
        stops.append(Stop(
            key=f"case:{i + 1}",
            point=around(centre, km, rng),
            duration_s=60 * rng.randint(*visit_min),
            window=window,
            required=rng.random() < required,
            priority=rng.randint(1, 5),
            shift_key=rng.choice(shifts).key if rng.random() < held else None,
            tz=ZONE,
        ))
    return PlanRequest(tuple(stops), shifts, speed_kmh=25.0, time_limit_s=time_limit_s)


def timed_plan(request: PlanRequest, runs: int,
               previous: Plan | None = None) -> tuple[Plan, list[float], list[float]]:
    planner = PyVRPPlanner()
    walls, cpus, plan = [], [], None
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        plan = planner.plan(request, previous=previous)
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    assert plan is not None
    return plan, walls, cpus


def plan_cost(plan: Plan) -> float:
    return sum(r.distance_m for r in plan.routes) / 1000


def day_row(group: str, name: str, request: PlanRequest, runs: int, reference: Plan | None,
            previous: Plan | None = None) -> tuple[Row, Plan]:
    plan, walls, cpus = timed_plan(request, runs, previous)
    best = plan_cost(reference) if reference is not None else None
    bad = check_plan(request, plan)
    planned = sum(len(r.stops) for r in plan.routes)
    req_out = sum(u.required for u in plan.unplanned)
    note = (f"{len(request.shifts)} collector(s), {planned} planned, {len(plan.unplanned)} left "
            f"out ({req_out} required), budget {request.time_limit_s:g} s; median of {runs} "
            f"(max {max(walls):.0f} ms)")
    if reference is not None and kept_priority(request, reference) != kept_priority(request, plan):
        # Not the same stops: distances do not compare; say what each keeps instead.
        ref_stops = sum(len(r.stops) for r in reference.routes)
        note += (f"; keeps priority {kept_priority(request, plan)}, the yardstick "
                 f"{kept_priority(request, reference)} ({ref_stops} stops)")
        best = None
    if bad:
        note += "; REJECTED: " + "; ".join(bad[:2])
    row = Row(group, name, len(request.stops), statistics.median(walls), plan_cost(plan),
              best, not bad, note, statistics.median(cpus))
    return row, plan


def reference_plan(request: PlanRequest, seconds: float,
                   previous: Plan | None = None) -> Plan | None:
    """Our own best-known plan for a synthetic day: the same planner searching for `seconds`
    without stopping early (a yardstick, not an optimum)."""
    if seconds <= 0:
        return None
    long = replace(request, time_limit_s=seconds)
    plan = PyVRPPlanner(patience=10**9).plan(long, previous=previous)
    return None if check_plan(long, plan) else plan


def kept_priority(request: PlanRequest, plan: Plan) -> int:
    weight = {s.key: s.priority for s in request.stops}
    return sum(weight[p.key] for r in plan.routes for p in r.stops)


def replan_request_of_60() -> tuple[PlanRequest, Plan]:
    """A long day of short doorstep visits; at 12:00 local, ten are done and the collector asks
    for a re-plan of the 60 that remain from where they stand."""
    day = collector_day(71, 1, 71, km=5, visit_min=(3, 6), held=0.0, required=0.1,
                        appointments=0.1, time_limit_s=1.0)
    day = replace(day, shifts=(replace(day.shifts[0],
                                       start_at=datetime(2026, 12, 2, 0, 0, tzinfo=UTC),
                                       end_at=datetime(2026, 12, 2, 13, 0, tzinfo=UTC)),))
    first, _, _ = timed_plan(day, 1)
    route = first.routes[0]
    done = [p.key for p in route.stops[:10]]
    here = {s.key: s.point for s in day.stops}[done[-1]]
    rest = [p.key for p in route.stops[10:]]
    again = replan_request(day, first, "collector:1", here,
                           datetime(2026, 12, 2, 4, 0, tzinfo=UTC), done=done,
                           dropped=rest[: max(0, len(rest) - 60)])
    return replace(again, time_limit_s=0.25), first


def day_rows(runs: int, reference_s: float) -> list[Row]:
    small = collector_day(16, 1, 16, km=6, visit_min=(15, 30), held=0.0, required=0.25,
                          appointments=0.25, time_limit_s=1.0)
    team = collector_day(100, 5, 100, km=10, visit_min=(10, 25), held=0.5, required=0.2,
                         appointments=0.2, time_limit_s=0.2)
    crowded = collector_day(100, 3, 100, km=10, visit_min=(10, 25), held=0.5, required=0.2,
                            appointments=0.2, time_limit_s=1.0)
    branch = collector_day(300, 30, 300, km=15, visit_min=(10, 25), held=0.5, required=0.2,
                           appointments=0.2, time_limit_s=3.0)
    again, before = replan_request_of_60()
    rows, ref = [], None
    for group, name, request, previous in (
        ("collector day", "day-16 (1 collector)", small, None),
        ("collector day", "day-100 (team of 5)", team, None),
        ("collector day", "day-100, 1 s budget", replace(team, time_limit_s=1.0), None),
        ("collector day", "day-100, 3 collectors", crowded, None),
        ("collector day", "day-300 (team of 30)", branch, None),
        ("re-plan", "re-plan 60 remaining", again, before),
        ("re-plan", "re-plan 60, cold start", again, None),
    ):
        first_of_kind = not name.startswith(("day-100, 1 s", "re-plan 60, cold"))
        if first_of_kind:
            ref = reference_plan(request, reference_s, previous)
        repeat = runs if request.time_limit_s < 2 else min(runs, 2)
        rows.append(day_row(group, name, request, repeat, ref, previous)[0])
    return rows


# ----------------------------------------------------------------------------- report


def fmt(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def print_table(rows: list[Row]) -> None:
    head = f"{'group':<26} {'instance':<22} {'n':>4} {'wall ms':>8} {'cpu ms':>7} {'cost':>10} " \
           f"{'best':>9} {'gap %':>6} {'feas':>4}  note"
    print(head)
    print("-" * len(head))
    for r in rows:
        digits = 2 if r.group.startswith("TSPTW Solomon") else 1
        print(f"{r.group:<26} {r.name:<22} {r.n:>4} {r.wall_ms:>8.0f} {fmt(r.cpu_ms, 0):>7} "
              f"{fmt(r.cost, digits):>10} "
              f"{fmt(r.best, digits):>9} {fmt(r.gap, 2):>6} {'yes' if r.feasible else 'NO':>4}  "
              f"{r.note}")


def aim(label: str, rows: list[Row], ok: Callable[[list[Row]], bool], figure: str) -> None:
    if not rows:
        print(f"SKIP  {label}: no instance run")
        return
    print(f"{'PASS' if ok(rows) else 'MISS'}  {label}: {figure}")


def summary(rows: list[Row]) -> None:
    print()
    small = [r for r in rows if r.group in ("Solomon 25", "Solomon 50")]
    big = [r for r in rows if r.group == "Solomon 100"]
    tsptw = [r for r in rows if r.group.startswith("TSPTW")]
    day = [r for r in rows if r.name == "day-100 (team of 5)"]
    again = [r for r in rows if r.name == "re-plan 60 remaining"]
    gaps = [r.gap for r in big if r.gap is not None]
    aim("Solomon 25/50 optima in <= 1.2 s", small,
        lambda rs: all(r.feasible and r.gap is not None and r.gap <= 0.005 and r.wall_ms <= 1200
                       for r in rs),
        f"{sum(r.gap is not None and r.gap <= 0.005 for r in small)}/{len(small)} at the optimum, "
        f"slowest {max((r.wall_ms for r in small), default=0):.0f} ms")
    aim("Solomon 100: mean gap <= 1%, max <= 2%, <= 1.2 s", big,
        lambda rs: len(gaps) == len(rs) and statistics.mean(gaps) <= 1 and max(gaps) <= 2
        and all(r.wall_ms <= 1200 for r in rs),
        f"mean {statistics.mean(gaps) if gaps else float('nan'):.2f}%, max "
        f"{max(gaps, default=float('nan')):.2f}%, slowest "
        f"{max((r.wall_ms for r in big), default=0):.0f} ms, {len(gaps)}/{len(big)} feasible")
    aim("TSPTW: every instance feasible and within 1%", tsptw,
        lambda rs: all(r.feasible and r.gap is not None and r.gap <= 1 for r in rs),
        f"{sum(r.feasible for r in tsptw)}/{len(tsptw)} feasible, max gap "
        f"{max((r.gap for r in tsptw if r.gap is not None), default=float('nan')):.2f}%")
    aim("a feasible 100-stop day in <= 250 ms", day,
        lambda rs: all(r.feasible and r.wall_ms <= 250 for r in rs),
        f"{day[0].wall_ms:.0f} ms median" if day else "")
    aim("a re-plan of 60 remaining stops in <= 300 ms", again,
        lambda rs: all(r.feasible and r.wall_ms <= 300 and r.n == 60 for r in rs),
        f"{again[0].wall_ms:.0f} ms median, {again[0].n} stops" if again else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a subset of the public instances")
    parser.add_argument("--data", type=Path, default=default_data(),
                        help="tsplib/, solomon/, tsptw/ (default ../shared/data/routing)")
    parser.add_argument("--time-limit", type=float, default=1.15,
                        help="seconds per public instance (default 1.15; the aims allow 1.2)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per collector day")
    parser.add_argument("--reference", type=float, default=None,
                        help="seconds of search for the collector days' yardstick "
                             "(default 10, 0 with --quick; 0 skips it)")
    args = parser.parse_args()
    reference = args.reference if args.reference is not None else (0.0 if args.quick else 10.0)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs)")

    if args.data.is_dir():
        rows = public_rows(args.data, args.quick, args.time_limit)
    else:
        print(f"skipped the public instances: {args.data} not found (pass --data)")
        rows = []
    rows += day_rows(args.runs, reference)
    print_table(rows)
    if any(r.note.startswith("†") for r in rows):
        print("† optimum from the literature (Solomon's benchmark page), not from the data README")
    if reference:
        print(f"collector days: 'best' is our own yardstick, the same planner given "
              f"{reference:g} s without stopping early")
    summary(rows)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
