"""Route planning: visit windows that must contain the whole visit, debtors' time zones, required
and optional stops, collectors' shifts, re-planning, and the evaluator that checks every plan.

Pure and fast: no database. Every plan the planner returns here is replayed by
`check_plan`, which fails on any window missed, shift overrun or stop lost."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from geopy.distance import geodesic

from api.services.supervision.routing.evaluate import check_plan, evaluate
from api.services.supervision.routing.instances import read_solomon, read_tsplib, read_tsptw
from api.services.supervision.routing.matrix import GeodesicTravel, geodesic_matrix_m
from api.services.supervision.routing.planner import (
    NO_SHIFT,
    NOT_WORTH_IT,
    UNREACHABLE,
    WINDOW_CLOSED,
    Plan,
    PlanRequest,
    Point,
    Shift,
    Stop,
    TimeWindow,
)
from api.services.supervision.routing.problem import RouteOrder, RoutingProblem, Vehicle, Visit
from api.services.supervision.routing.pyvrp_planner import PyVRPPlanner, replan, replan_request
from api.services.supervision.routing.solver import repair, solve_problem
from api.services.supervision.routing.windows import intersect, visit_window

DATA = Path(__file__).parent.parent / "data"
with (DATA / "places.csv").open(encoding="utf-8", newline="") as _fh:
    PLACES = {r["name"]: Point(float(r["lat"]), float(r["lon"])) for r in csv.DictReader(_fh)}

SHANGHAI, URUMQI = ZoneInfo("Asia/Shanghai"), ZoneInfo("Asia/Urumqi")
BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2026, 12, 2)
PLANNER = PyVRPPlanner()


def local(hh: int, mm: int, zone: ZoneInfo = SHANGHAI, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=zone).astimezone(UTC)


def near(p: Point, north_m: float = 0.0, east_m: float = 0.0) -> Point:
    """A point about `north_m`/`east_m` metres from `p` (exact distances come from the matrix)."""
    dlat = north_m / 111_320.0
    dlon = east_m / (111_320.0 * np.cos(np.radians(p.lat)))
    return Point(p.lat + dlat, p.lon + dlon)


def plan_checked(request: PlanRequest) -> Plan:
    plan = PLANNER.plan(request)
    assert check_plan(request, plan) == []
    return plan


def where(plan: Plan) -> dict[str, str]:
    """Each stop key -> the shift that visits it, or the reason it is left out."""
    out = {p.key: r.shift_key for r in plan.routes for p in r.stops}
    out.update({u.key: u.reason for u in plan.unplanned})
    return out


def travel_s(a: Point, b: Point, speed_kmh: float) -> int:
    return int(GeodesicTravel(speed_kmh).matrices([a, b]).duration_s[0, 1])


BASE = PLACES["Shenzhen"]
HOURS = visit_window(DAY, "Asia/Shanghai")  # 08:00–22:00 Beijing time


def shift(key: str = "collector:1", start: datetime | None = None, end: datetime | None = None,
          at: Point = BASE, end_point: Point | None = None) -> Shift:
    return Shift(key, at, start or local(8, 30), end or local(18, 30), end_point)


# ----------------------------------------------------------------------------- visit windows


def test_visit_window_from_local_hours() -> None:
    urumqi = visit_window(DAY, "Asia/Urumqi")
    assert (urumqi.start, urumqi.end) == (datetime(2026, 12, 2, 2, 0, tzinfo=UTC),
                                          datetime(2026, 12, 2, 16, 0, tzinfo=UTC))
    berlin = visit_window(DAY, "Europe/Berlin", "08:00", "21:00")
    assert (berlin.start, berlin.end) == (datetime(2026, 12, 2, 7, 0, tzinfo=UTC),
                                          datetime(2026, 12, 2, 20, 0, tzinfo=UTC))
    whole_day = visit_window(DAY, "Asia/Shanghai", "00:00", "24:00")
    assert whole_day.end == local(0, 0, day=date(2026, 12, 3))


def test_visit_window_across_daylight_saving() -> None:
    before, after = date(2026, 3, 28), date(2026, 3, 29)  # Berlin springs forward on the 29th
    assert visit_window(before, "Europe/Berlin").start == datetime(2026, 3, 28, 7, 0, tzinfo=UTC)
    assert visit_window(after, "Europe/Berlin").start == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    # 02:30 does not exist that night; it is read as 03:30 summer time (01:30 UTC).
    assert visit_window(after, "Europe/Berlin", "02:30").start == datetime(2026, 3, 29, 1, 30,
                                                                            tzinfo=UTC)
    autumn = visit_window(date(2026, 10, 25), "Europe/Berlin")  # falls back: a 25-hour day
    assert autumn.end - autumn.start == timedelta(hours=14)


@pytest.mark.parametrize("hours", [("22:00", "08:00"), ("08:00", "08:00"), ("8", "22:00"),
                                   ("08:00", "25:00")])
def test_visit_window_refuses_bad_hours(hours: tuple[str, str]) -> None:
    with pytest.raises(ValueError):
        visit_window(DAY, "Asia/Shanghai", *hours)


def test_intersect_windows() -> None:
    appointment = TimeWindow(local(21, 0), local(23, 0))
    assert intersect(HOURS, appointment) == TimeWindow(local(21, 0), local(22, 0))
    assert intersect(None, appointment) == appointment
    closed = intersect(HOURS, TimeWindow(local(22, 30), local(23, 0)))
    assert closed is not None and closed.start > closed.end


# ----------------------------------------------------------------------------- the 22:00 boundary


def twenty_minutes_at_the_door(shift_start: datetime, required: bool = True) -> PlanRequest:
    stop = Stop("case:1", BASE, 20 * 60, HOURS, required=required, tz="Asia/Shanghai")
    return PlanRequest((stop,), (shift(start=shift_start, end=local(23, 0)),))


def test_twenty_minute_visit_can_start_at_21_40() -> None:
    plan = plan_checked(twenty_minutes_at_the_door(local(21, 40)))
    (visit,) = plan.routes[0].stops
    assert (visit.start, visit.departure) == (local(21, 40), local(22, 0))
    assert plan.unplanned == ()


@pytest.mark.parametrize("start", [(21, 41), (21, 50)])
def test_twenty_minute_visit_cannot_start_after_21_40(start: tuple[int, int]) -> None:
    plan = plan_checked(twenty_minutes_at_the_door(local(*start)))
    assert plan.routes[0].stops == ()
    (out,) = plan.unplanned
    assert (out.key, out.required, out.reason) == ("case:1", True, WINDOW_CLOSED)
    assert "case:1" in out.detail and "22:00" in out.detail and "20-minute" in out.detail


def test_arriving_at_21_50_for_a_twenty_minute_visit_is_unreachable() -> None:
    debtor = near(BASE, north_m=6000)
    leave = local(21, 50) - timedelta(seconds=travel_s(BASE, debtor, 30.0))
    stop = Stop("case:7", debtor, 20 * 60, HOURS, required=False, tz="Asia/Shanghai")
    plan = plan_checked(PlanRequest((stop,), (shift(start=leave, end=local(23, 0)),)))
    (out,) = plan.unplanned
    assert (out.reason, out.required) == (UNREACHABLE, False)
    assert "arrives at 21:50" in out.detail and "start by 21:40" in out.detail

    # Ten minutes earlier it fits exactly: arrival 21:40, done at 22:00.
    plan = plan_checked(PlanRequest((stop,), (shift(start=leave - timedelta(minutes=10),
                                                    end=local(23, 0)),)))
    (visit,) = plan.routes[0].stops
    assert visit.start == local(21, 40) and visit.departure == local(22, 0)


def test_visit_must_also_leave_time_to_reach_the_end_point() -> None:
    debtor = near(BASE, east_m=9000)
    back = travel_s(debtor, BASE, 30.0)
    end = local(17, 0)
    stop = Stop("case:3", debtor, 30 * 60, HOURS, required=True)
    fits = shift(start=end - timedelta(seconds=2 * back + 30 * 60), end=end, end_point=BASE)
    plan = plan_checked(PlanRequest((stop,), (fits,)))
    assert plan.routes[0].ends_at <= end and len(plan.routes[0].stops) == 1
    route = plan.routes[0]
    assert route.distance_m == pytest.approx(2 * route.stops[0].travel_m, rel=1e-6)

    late = replace(fits, start_at=fits.start_at + timedelta(minutes=1))
    (out,) = plan_checked(PlanRequest((stop,), (late,))).unplanned
    assert out.reason == UNREACHABLE and "end point" in out.detail


# ----------------------------------------------------------------------------- time zones


def test_debtor_in_urumqi_is_visited_in_urumqi_hours() -> None:
    """A collector whose shift starts at 08:00 Beijing time meets a debtor in Ürümqi, two hours
    behind: the visit waits for 08:00 Ürümqi time (the collector leaves late enough not to wait
    at the door) and must be over by 22:00 there."""
    here = PLACES["Ürümqi"]
    hours = visit_window(DAY, "Asia/Urumqi")
    morning = Stop("case:u1", near(here, north_m=1500), 30 * 60, hours, required=True,
                   tz="Asia/Urumqi")
    evening = Stop("case:u2", near(here, east_m=2000), 30 * 60,
                   intersect(hours, TimeWindow(local(21, 0, URUMQI), local(23, 0, URUMQI))),
                   required=True, tz="Asia/Urumqi")
    collector = Shift("collector:9", here, local(8, 0), local(23, 59))
    plan = plan_checked(PlanRequest((morning, evening), (collector,)))
    first, second = plan.routes[0].stops
    assert first.key == "case:u1" and first.arrival == first.start
    assert first.start.astimezone(URUMQI).strftime("%H:%M") == "08:00"
    assert first.start == local(10, 0)  # 10:00 Beijing time, two hours into the shift
    assert second.start >= local(21, 0, URUMQI) and second.departure <= local(22, 0, URUMQI)


def test_debtor_in_urumqi_reasons_speak_urumqi_time() -> None:
    here = PLACES["Ürümqi"]
    stop = Stop("case:u3", here, 20 * 60, visit_window(DAY, "Asia/Urumqi"), tz="Asia/Urumqi")
    # The collector only starts at 23:55 Beijing time = 21:55 in Ürümqi: too late for 20 minutes.
    too_late = Shift("c", here, local(23, 55), local(23, 59))
    (out,) = plan_checked(PlanRequest((stop,), (too_late,))).unplanned
    assert out.reason == WINDOW_CLOSED
    assert "08:00–22:00 Asia/Urumqi" in out.detail


def test_debtor_in_berlin() -> None:
    here = PLACES["Beijing"]  # the collector's base does not matter to the debtor's hours
    berlin = Point(52.52, 13.405)
    hours = visit_window(DAY, "Europe/Berlin")
    stop = Stop("case:b1", berlin, 45 * 60, hours, required=True, tz="Europe/Berlin")
    local_collector = Shift("collector:eu", near(berlin, north_m=3000), local(6, 0, BERLIN),
                            local(23, 0, BERLIN))
    plan = plan_checked(PlanRequest((stop,), (local_collector,)))
    (visit,) = plan.routes[0].stops
    assert visit.start == local(8, 0, BERLIN) == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
    # A collector in Beijing cannot drive there within the shift.
    far = plan_checked(PlanRequest((stop,), (Shift("collector:bj", here, local(8, 0),
                                                   local(20, 0)),)))
    assert [u.reason for u in far.unplanned] == [UNREACHABLE]


# ----------------------------------------------------------------------------- required, optional


def test_required_stops_that_cannot_all_fit_come_back_with_a_reason() -> None:
    """Two required half-hour visits 8 km apart, both only between 10:00 and 10:40: one fits."""
    window = TimeWindow(local(10, 0), local(10, 40))
    a = Stop("case:a", near(BASE, north_m=4000), 1800, window, required=True, tz="Asia/Shanghai")
    b = Stop("case:b", near(BASE, north_m=-4000), 1800, window, required=True, tz="Asia/Shanghai")
    c = Stop("case:c", near(BASE, east_m=1000), 20 * 60, HOURS, required=False)
    plan = plan_checked(PlanRequest((a, b, c), (shift(),)))
    (out,) = plan.unplanned
    assert out.required and out.reason == UNREACHABLE and out.key in ("case:a", "case:b")
    assert out.key in out.detail and "required" in out.detail and "10:00–10:40" in out.detail
    assert {p.key for p in plan.routes[0].stops} == {"case:a", "case:b", "case:c"} - {out.key}


def test_required_stops_win_over_optional_ones() -> None:
    """Two hours of shift, five half-hour visits at one address: four fit; the required one is
    always kept, then the highest priorities."""
    door = near(BASE, north_m=500)
    stops = (
        Stop("case:req", door, 1800, HOURS, required=True, priority=1),
        *(Stop(f"case:p{p}", door, 1800, HOURS, priority=p) for p in (9, 7, 5, 3)),
    )
    start = local(9, 0)
    two_hours = shift(start=start, end=start + timedelta(seconds=travel_s(BASE, door, 30.0))
                      + timedelta(hours=2), at=BASE)
    plan = plan_checked(PlanRequest(stops, (two_hours,)))
    assert {p.key for p in plan.routes[0].stops} == {"case:req", "case:p9", "case:p7", "case:p5"}
    (out,) = plan.unplanned
    assert (out.key, out.reason, out.required) == ("case:p3", NOT_WORTH_IT, False)
    assert "optional" in out.detail and "priority 3" in out.detail


def test_optional_stops_are_kept_when_they_fit() -> None:
    stops = tuple(Stop(f"case:{i}", near(BASE, north_m=700 * i, east_m=300 * (i % 3)), 15 * 60,
                       HOURS, priority=1) for i in range(1, 9))
    plan = plan_checked(PlanRequest(stops, (shift(),)))
    assert plan.unplanned == () and len(plan.routes[0].stops) == 8


def test_no_shift_and_empty_requests_still_say_why() -> None:
    stops = (Stop("case:1", BASE, 600, HOURS, required=True),
             Stop("case:2", BASE, 600, HOURS, shift_key="collector:gone"))
    plan = plan_checked(PlanRequest(stops, (shift(),)))
    assert where(plan) == {"case:1": "collector:1", "case:2": NO_SHIFT}
    assert "collector:gone" in plan.unplanned[0].detail
    nobody = PLANNER.plan(PlanRequest(stops, ()))
    assert [u.reason for u in nobody.unplanned] == [NO_SHIFT, NO_SHIFT]
    assert check_plan(PlanRequest(stops, ()), nobody) == []


# ----------------------------------------------------------------------------- several shifts


def three_collectors() -> tuple[list[Shift], list[Stop]]:
    bases = [PLACES["Mentougou"], PLACES["Tongzhou"], PLACES["Daxing"]]
    shifts = [shift(f"collector:{k}", at=b) for k, b in enumerate(bases, start=1)]
    stops = [
        Stop(f"case:{k}.{i}", near(b, north_m=600 * i, east_m=-400 * i), 25 * 60, HOURS,
             required=i == 1, priority=i)
        for k, b in enumerate(bases, start=1) for i in range(1, 5)
    ]
    return shifts, stops


def test_several_collectors_each_take_the_stops_near_their_base() -> None:
    shifts, stops = three_collectors()
    plan = plan_checked(PlanRequest(tuple(stops), tuple(shifts)))
    assert where(plan) == {s.key: f"collector:{s.key[5]}" for s in stops}


def test_a_stop_held_by_one_collector_goes_only_on_that_route() -> None:
    shifts, stops = three_collectors()
    # case:1.2 is near collector 1's base but its case is held by collector 3.
    stops = [replace(s, shift_key="collector:3") if s.key == "case:1.2" else s for s in stops]
    plan = plan_checked(PlanRequest(tuple(stops), tuple(shifts)))
    assert where(plan)["case:1.2"] == "collector:3"
    assert where(plan)["case:2.1"] == "collector:2"  # the others still go by distance
    # Without the restriction it would be collector 1's: the restriction is what moved it.
    free = plan_checked(PlanRequest(tuple(replace(s, shift_key=None) for s in stops),
                                    tuple(shifts)))
    assert where(free)["case:1.2"] == "collector:1"


def test_plans_are_deterministic() -> None:
    shifts, stops = three_collectors()
    request = PlanRequest(tuple(stops), tuple(shifts))
    first, again = PLANNER.plan(request), PLANNER.plan(request)
    assert first.routes == again.routes and first.unplanned == again.unplanned


def test_times_are_aware_utc_and_consistent() -> None:
    shifts, stops = three_collectors()
    plan = plan_checked(PlanRequest(tuple(stops), tuple(shifts)))
    for route in plan.routes:
        for p in route.stops:
            assert p.arrival.utcoffset() == timedelta(0)
            assert p.arrival <= p.start < p.departure
        assert route.distance_m == pytest.approx(sum(p.travel_m for p in route.stops))
        assert route.ends_at == route.stops[-1].departure  # open route: ends at the last stop


# ----------------------------------------------------------------------------- re-planning


def test_replan_from_where_the_collector_stands() -> None:
    stops = tuple(Stop(f"case:{i}", near(BASE, north_m=800 * (i % 4), east_m=900 * (i // 4)),
                       20 * 60, HOURS, required=i < 2) for i in range(10))
    request = PlanRequest(stops, (shift(), shift("collector:2", at=near(BASE, north_m=-5000))))
    plan = plan_checked(request)
    mine = next(r for r in plan.routes if r.stops)
    done = [p.key for p in mine.stops[:2]]
    cancelled = mine.stops[2].key
    others = next(r for r in plan.routes if r is not mine)
    pinned = others.stops[0].key if others.stops else None
    now = mine.stops[1].departure + timedelta(minutes=5)
    here = {s.key: s.point for s in stops}[done[-1]]

    again_request = replan_request(request, plan, mine.shift_key, here, now, done=done,
                                   dropped=[cancelled], pinned=[pinned] if pinned else [])
    expected = {p.key for p in mine.stops[3:]} | ({pinned} if pinned else set())
    assert {s.key for s in again_request.stops} == expected
    assert all(s.required for s in again_request.stops if s.key == pinned)
    again = replan(PLANNER, request, plan, mine.shift_key, here, now, done=done,
                   dropped=[cancelled], pinned=[pinned] if pinned else [])
    assert check_plan(again_request, again) == []
    assert where(again) == {k: mine.shift_key for k in expected}
    assert again.routes[0].stops[0].arrival >= now


# ----------------------------------------------------------------------------- the evaluator


def tiny_problem() -> RoutingProblem:
    d = np.array([[0, 10, 20], [10, 0, 10], [20, 10, 0]])
    visits = (Visit(1, service_s=5, earliest=0, latest=15), Visit(2, service_s=5, earliest=30,
                                                                   latest=40, required=False,
                                                                   prize=7))
    return RoutingProblem(d, d, visits, (Vehicle(start=0, end=0, latest=100, count=1),))


def test_evaluator_accepts_a_feasible_route_and_prices_it() -> None:
    ok = evaluate(tiny_problem(), [RouteOrder(0, (0, 1))])
    assert ok.feasible and ok.distance == 40 and ok.uncollected_prize == 0
    short = evaluate(tiny_problem(), [RouteOrder(0, (0,))])
    assert short.feasible and short.cost == 20 + 7


@pytest.mark.parametrize(
    ("routes", "complaint"),
    [
        ([RouteOrder(0, (1, 0))], "after its latest start"),  # visit 0 reached too late
        ([RouteOrder(0, (0, 0))], "visited 2 times"),
        ([RouteOrder(0, (1,))], "required visit 0 missing"),
        ([RouteOrder(0, (0,)), RouteOrder(0, (1,))], "used 2 times"),
    ],
)
def test_evaluator_rejects_infeasible_routes(routes: list[RouteOrder], complaint: str) -> None:
    result = evaluate(tiny_problem(), routes)
    assert not result.feasible
    assert any(complaint in v for v in result.violations)


def test_evaluator_rejects_a_vehicle_that_may_not_make_a_visit_and_a_late_return() -> None:
    p = tiny_problem()
    p = replace(p, visits=(replace(p.visits[0], vehicles=frozenset({1})), p.visits[1]),
                vehicles=(Vehicle(0, 0, latest=30), Vehicle(0, 0)))
    result = evaluate(p, [RouteOrder(0, (0,))])
    assert any("not allowed" in v for v in result.violations)
    result = evaluate(p, [RouteOrder(1, (0, 1)), RouteOrder(0, ())])
    assert result.feasible
    assert not evaluate(replace(p, vehicles=(p.vehicles[0], Vehicle(0, 0, latest=39))),
                        [RouteOrder(1, (0, 1))]).feasible


def test_repair_drops_what_would_be_late_and_keeps_a_feasible_route() -> None:
    p = tiny_problem()
    good = (RouteOrder(0, (0, 1)),)
    assert repair(p, good) == good
    late_first = (RouteOrder(0, (1, 0)),)  # visit 0 would start at 35 > 15
    fixed = repair(p, late_first)
    assert fixed == (RouteOrder(0, (1,)),)
    assert evaluate(replace(p, visits=(replace(p.visits[0], required=False), p.visits[1])),
                    fixed).feasible
    tight = replace(p, vehicles=(Vehicle(0, 0, latest=30),))  # back by 30: only visit 0 fits
    assert repair(tight, good) == (RouteOrder(0, (0,)),)


def test_check_plan_rejects_a_tampered_plan() -> None:
    request = twenty_minutes_at_the_door(local(21, 40))
    plan = plan_checked(request)
    visit = plan.routes[0].stops[0]
    late = replace(visit, start=visit.start + timedelta(minutes=10),
                   departure=visit.departure + timedelta(minutes=10))
    tampered = replace(plan, routes=(replace(plan.routes[0], stops=(late,),
                                             ends_at=late.departure),))
    assert any("outside its window" in v for v in check_plan(request, tampered))
    lost = replace(plan, routes=(replace(plan.routes[0], stops=()),))
    assert any("appears 0 times" in v for v in check_plan(request, lost))


# ----------------------------------------------------------------------------- matrix, solver


def test_geodesic_matrix_matches_geopy() -> None:
    names = ["Beijing", "Shanghai", "Ürümqi", "Shenzhen", "Dongguan", "Humen"]
    pts = [PLACES[n] for n in names]
    m = geodesic_matrix_m(pts)
    assert np.allclose(m, m.T) and not m.diagonal().any()
    for i, a in enumerate(pts):
        for j, b in enumerate(pts):
            assert m[i, j] == pytest.approx(geodesic((a.lat, a.lon), (b.lat, b.lon)).m, abs=1e-3)
    t = GeodesicTravel(36.0).matrices(pts)  # 10 m/s
    assert (t.duration_s >= t.distance_m / 10.0).all()
    assert (t.duration_s - t.distance_m / 10.0 < 1.0).all()


def test_solomon_c101_with_25_customers_reaches_its_optimum() -> None:
    """C101.25 (Solomon 1987, DIMACS convention): optimum 191.3. Stopped by stalling rather
    than the clock, so the answer does not depend on the machine's speed."""
    instance = read_solomon(DATA / "routing" / "C101.vrp", customers=25)
    assert len(instance.problem.visits) == 25
    solved = solve_problem(instance.problem, time_limit_s=120.0, stall=500)
    result = evaluate(instance.problem, solved.routes)
    assert result.feasible
    assert result.distance / instance.scale == pytest.approx(191.3)


def test_tsplib_and_tsptw_readers(tmp_path: Path) -> None:
    tsp = tmp_path / "tri.tsp"
    tsp.write_text("NAME : tri\nTYPE : TSP\nDIMENSION : 3\nEDGE_WEIGHT_TYPE : EUC_2D\n"
                   "NODE_COORD_SECTION\n1 0 0\n2 3 4\n3 0 4.6\nEOF\n")
    tri = read_tsplib(tsp)
    assert tri.problem.distance.tolist() == [[0, 5, 5], [5, 0, 3], [5, 3, 0]]  # nint(4.6) = 5
    assert [v.location for v in tri.problem.visits] == [1, 2]
    tw = tmp_path / "tiny.txt"
    tw.write_text("3\n0 1.5 2\n1.5 0 1\n2 1 0\n0 10\n2 3.25\n0 2.5\n")
    tiny = read_tsptw(tw)
    assert tiny.scale == 10_000 and tiny.problem.distance[0, 1] == 15_000
    assert (tiny.problem.visits[0].earliest, tiny.problem.visits[0].latest) == (20_000, 32_500)
    solved = solve_problem(tiny.problem, time_limit_s=10.0)
    result = evaluate(tiny.problem, solved.routes)
    # Only 0 -> 2 (at 2.0, by 2.5) -> 1 (at 3.0, by 3.25) -> 0 is on time: 2 + 1 + 1.5.
    assert result.feasible and result.distance == 45_000


@pytest.mark.parametrize(
    "broken",
    [
        lambda r: replace(r, stops=r.stops * 2),
        lambda r: replace(r, shifts=r.shifts * 2),
        lambda r: replace(r, stops=(replace(r.stops[0], duration_s=-1),)),
        lambda r: replace(r, stops=(replace(r.stops[0], window=TimeWindow(
            datetime(2026, 12, 2, 8, 0), datetime(2026, 12, 2, 22, 0))),)),
        lambda r: replace(r, shifts=(replace(r.shifts[0], start_point=Point(91.0, 0.0)),)),
    ],
    ids=["stop twice", "shift twice", "negative duration", "naive window", "bad latitude"],
)
def test_malformed_requests_are_refused(broken) -> None:
    with pytest.raises(ValueError):
        PLANNER.plan(broken(twenty_minutes_at_the_door(local(9, 0))))


def test_a_shift_that_ends_before_it_starts_plans_nothing_and_says_so() -> None:
    request = twenty_minutes_at_the_door(local(9, 0))
    backwards = replace(request, shifts=(replace(request.shifts[0], end_at=local(8, 0)),))
    plan = plan_checked(backwards)
    assert [u.reason for u in plan.unplanned] == [WINDOW_CLOSED]


def test_eight_collectors_each_visit_only_their_own_cases_even_across_town() -> None:
    """Each collector's five cases sit next to another collector's base: every case still goes
    to its holder. One unheld case ties the eight days into one search; two of collector 4's
    cases that cannot both be made (same address, same 20 minutes) make it choose what to
    leave out. The held cases must still find their holders' routes, and one of the two is
    left out."""
    names = ["Beijing", "Mentougou", "Tongzhou", "Shunyi", "Daxing", "Fangshan", "Changping",
             "Liangxiang"]
    shifts = [shift(f"collector:{k}", at=PLACES[n]) for k, n in enumerate(names)]
    stops = [
        Stop(f"case:{k}.{i}", near(PLACES[names[(k + 1) % 8]], north_m=300 * i), 15 * 60, HOURS,
             required=i == 0, shift_key=f"collector:{k}")
        for k in range(8) for i in range(5)
    ]
    slot = TimeWindow(local(10, 0), local(10, 20))
    door = near(PLACES["Daxing"], east_m=500)
    either = tuple(Stop(f"case:x{i}", door, 20 * 60, slot, shift_key="collector:4")
                   for i in (1, 2))
    anyone = Stop("case:free", near(PLACES["Tongzhou"], east_m=-800), 15 * 60, HOURS)
    plan = plan_checked(PlanRequest((*stops, *either, anyone), tuple(shifts)))
    placed = where(plan)
    assert sorted(placed.pop(k) for k in ("case:x1", "case:x2")) == ["collector:4", NOT_WORTH_IT]
    assert placed.pop("case:free").startswith("collector:")
    assert placed == {s.key: s.shift_key for s in stops}


def test_times_given_in_local_zones_come_back_in_utc() -> None:
    start = datetime(2026, 12, 2, 9, 0, tzinfo=SHANGHAI)  # not UTC on purpose
    window = TimeWindow(datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI),
                        datetime(2026, 12, 2, 12, 0, tzinfo=SHANGHAI))
    request = PlanRequest((Stop("case:1", near(BASE, north_m=2000), 1800, window),),
                          (Shift("c", BASE, start, start + timedelta(hours=8)),))
    (visit,) = plan_checked(request).routes[0].stops
    assert visit.start == local(10, 0) and visit.start.tzinfo is UTC
    assert visit.arrival.tzinfo is UTC and visit.departure.tzinfo is UTC
