"""Route plans through the API: a supervisor plans collectors' days, a collector re-plans from
where they stand, everyone sees only what is theirs, and bad input is refused with nothing saved.

Places are real (tests/data/places.csv: Shenzhen, Ürümqi); a day's visits are a few kilometres
around the city centre. The day planned is tomorrow, team-local, so no plan is for the past."""

from __future__ import annotations

import csv
import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from api.extensions import db
from api.models import (
    AuditEvent,
    Case,
    PlanStatus,
    RoutePlan,
    RouteStop,
    SyncChange,
    Team,
    User,
)
from api.models.cases import Address, Bucket, CaseStatus
from api.services.geo import gcj02_to_wgs84, geodesic_m
from tests.conftest import DATA
from tests.field.test_field_work import Phone, report

PLACES = {row["name"]: row for row in csv.DictReader((DATA / "places.csv").open())}
SHENZHEN = (float(PLACES["Shenzhen"]["lat"]), float(PLACES["Shenzhen"]["lon"]))
URUMQI = (float(PLACES["Ürümqi"]["lat"]), float(PLACES["Ürümqi"]["lon"]))
BERLIN = (52.52, 13.405)


def tomorrow(zone: str = "Asia/Shanghai") -> date:
    return (datetime.now(ZoneInfo(zone)) + timedelta(days=1)).date()


def near(point, north_km: float, east_km: float) -> tuple[float, float]:
    lat, lon = point
    return (lat + north_km / 111.2, lon + east_km / (111.2 * math.cos(math.radians(lat))))


def at(day: date, hhmm: str, zone: str) -> datetime:
    return datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), ZoneInfo(zone))


def t(value: str) -> datetime:
    return datetime.fromisoformat(value)


def based(world, team, point=SHENZHEN):
    """A collector whose day starts at `point`."""
    user = world.user("collector", team)
    user.base_lat, user.base_lon = point
    db.session.commit()
    return user


def plan(client, headers, **body):
    return client.post("/routes", headers=headers, json={"day": tomorrow().isoformat(), **body})


def ok(response, status=201):
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def saved() -> tuple[int, int, int]:
    """Plans, stops and route change rows stored."""
    return (
        db.session.scalar(select(func.count()).select_from(RoutePlan)),
        db.session.scalar(select(func.count()).select_from(RouteStop)),
        db.session.scalar(
            select(func.count()).select_from(SyncChange).where(SyncChange.entity == "route")
        ),
    )


@pytest.fixture
def branch(world):
    """Our team in Shenzhen (two collectors, a supervisor) and theirs (one of each)."""
    ours, theirs = world.team(), world.team()
    alice, bob = based(world, ours), based(world, ours)
    their_collector = based(world, theirs)
    supervisor = world.user("supervisor", ours)
    offsets = [(1, 0), (2, 2), (0, 3), (-1, 1.5), (-2, -1), (3, -2)]
    cases = [
        world.case(collector=alice, lat=p[0], lon=p[1])
        for p in (near(SHENZHEN, *o) for o in offsets)
    ]
    return {
        "ours": ours,
        "theirs": theirs,
        "alice": alice,
        "bob": bob,
        "their_collector": their_collector,
        "their_case": world.case(collector=their_collector, lat=SHENZHEN[0], lon=SHENZHEN[1]),
        "cases": cases,
        "boss": world.login(supervisor),
        "alice_phone": world.login(alice),
        "bob_phone": world.login(bob),
        "their_boss": world.login(world.user("supervisor", theirs)),
        "their_phone": world.login(their_collector),
        "legal": world.login(world.user("legal")),
        "admin": world.login(world.user("admin")),
    }


# ----------------------------------------------------------------------------- a day planned


def test_a_supervisor_plans_a_collectors_day_in_order_with_times(client, branch):
    cases = branch["cases"]
    body = ok(
        plan(
            client, branch["boss"], collector_id=branch["alice"].id, case_ids=[c.id for c in cases]
        )
    )
    [route] = body["plans"]
    assert route["status"] == "published" and route["version"] == 1
    assert route["start"]["kind"] == "base" and route["timezone"] == "Asia/Shanghai"
    assert sorted(s["case_id"] for s in route["stops"]) == sorted(c.id for c in cases)
    assert [s["sequence"] for s in route["stops"]] == list(range(1, len(cases) + 1))
    assert route["unplanned"] == [] and route["totals"]["planned"] == len(cases)
    day = tomorrow()
    shift_start, shift_end = at(day, "09:00", "Asia/Shanghai"), at(day, "18:00", "Asia/Shanghai")
    assert t(route["shift"]["start"]) == shift_start and t(route["shift"]["end"]) == shift_end
    previous_departure = shift_start
    for stop in route["stops"]:
        arrival, start, departure = t(stop["arrival"]), t(stop["start"]), t(stop["departure"])
        assert previous_departure <= arrival <= start
        assert departure - start == timedelta(minutes=30) and departure <= shift_end
        assert t(stop["window"]["start"]) == at(day, "08:00", "Asia/Shanghai")
        assert t(stop["window"]["end"]) == at(day, "22:00", "Asia/Shanghai")
        assert stop["travel_m"] > 0 and stop["debtor_name"] and stop["address_text"]
        previous_departure = departure
    assert route["totals"]["distance_m"] == pytest.approx(
        sum(s["travel_m"] for s in route["stops"]), abs=1
    )
    # The order is short: no longer than visiting the cases in the order they were given.
    assert route["totals"]["distance_m"] < 40_000


def test_priority_keeps_the_heavier_optional_visit_when_the_day_is_short(client, world, branch):
    """Two optional visits, room for one: the M3+ case with a large amount overdue is kept."""
    light = world.case(
        collector=branch["alice"],
        lat=near(SHENZHEN, 3, 0)[0],
        lon=near(SHENZHEN, 3, 0)[1],
        bucket=Bucket.M1,
    )
    heavy = world.case(
        collector=branch["alice"],
        lat=near(SHENZHEN, -3, 0)[0],
        lon=near(SHENZHEN, -3, 0)[1],
        bucket=Bucket.M3_PLUS,
    )
    heavy.overdue_fen = 5_000_000
    db.session.commit()
    body = ok(
        plan(
            client,
            branch["boss"],
            collector_id=branch["alice"].id,
            shift={"start": "09:00", "end": "10:00"},
            duration_min=40,
            case_ids=[light.id, heavy.id],
        )
    )
    [route] = body["plans"]
    assert [s["case_id"] for s in route["stops"]] == [heavy.id]
    [left] = route["unplanned"]
    assert left["case_id"] == light.id and left["reason"] in ("not_worth_it", "unreachable")
    assert left["detail"] and left["priority"] < route["stops"][0]["priority"]


# ----------------------------------------------------------------------------- time zones


@pytest.mark.rule("visit_hours", preset="CN")
def test_a_debtor_in_urumqi_is_visited_in_urumqi_hours(client, world):
    """The team keeps Beijing time; the debtor lives by Asia/Urumqi (two hours behind): a
    09:00 Beijing shift may not knock before 08:00 Urumqi (10:00 Beijing)."""
    team = world.team()
    collector = based(world, team, URUMQI)
    case = world.case(collector=collector, lat=near(URUMQI, 1, 1)[0], lon=near(URUMQI, 1, 1)[1])
    case.debtor.timezone = "Asia/Urumqi"
    db.session.commit()
    boss = world.login(world.user("supervisor", team))
    day = tomorrow()
    [route] = ok(plan(client, boss, collector_id=collector.id, case_ids=[case.id]))["plans"]
    [stop] = route["stops"]
    assert t(stop["window"]["start"]) == at(day, "08:00", "Asia/Urumqi")
    assert t(stop["window"]["end"]) == at(day, "22:00", "Asia/Urumqi")
    assert t(stop["start"]) >= at(day, "08:00", "Asia/Urumqi") == at(day, "10:00", "Asia/Shanghai")
    # A required visit in a shift that ends before Urumqi's visit hours begin: refused, and
    # the reason is worded in the debtor's time.
    response = plan(
        client,
        boss,
        collector_id=collector.id,
        shift={"start": "07:00", "end": "09:30"},
        stops=[{"case_id": case.id, "required": True}],
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert (error["code"], error["rule"]) == ("rule_breach", "visit_hours")
    assert "08:00–22:00 Asia/Urumqi" in error["fields"]["stops.0"][0]
    assert "Asia/Urumqi" in error["message"]


def test_a_visit_must_end_inside_visit_hours_in_europe(client, world):
    """Berlin, an evening appointment: a 20-minute visit in a window ending 22:00 cannot start
    after 21:40."""
    zone = "Europe/Berlin"
    team = Team(code="BER", name="Berlin", timezone=zone)
    db.session.add(team)
    db.session.commit()
    collector = based(world, team, BERLIN)
    case = world.case(collector=collector, lat=near(BERLIN, 0.5, 0)[0], lon=near(BERLIN, 0.5, 0)[1])
    case.debtor.timezone = zone
    db.session.commit()
    boss = world.login(world.user("supervisor", team))
    day = tomorrow(zone)

    def visit(window_start: str):
        return client.post(
            "/routes",
            headers=boss,
            json={
                "day": day.isoformat(),
                "collector_id": collector.id,
                "shift": {"start": "20:00", "end": "23:30"},
                "stops": [
                    {
                        "case_id": case.id,
                        "duration_min": 20,
                        "required": True,
                        "window": {
                            "start": at(day, window_start, zone).isoformat(),
                            "end": at(day, "22:30", zone).isoformat(),
                        },
                    }
                ],
            },
        )

    [route] = ok(visit("21:40"))["plans"]
    [stop] = route["stops"]
    assert t(stop["start"]) == at(day, "21:40", zone)
    assert t(stop["departure"]) == at(day, "22:00", zone)
    assert t(stop["window"]["end"]) == at(day, "22:00", zone)  # the appointment, cut by policy
    late = visit("21:50")
    assert late.status_code == 422, late.get_data(as_text=True)
    assert "stops.0" in late.get_json()["error"]["fields"]


# ----------------------------------------------------------------------------- several at once


def test_three_collectors_planned_together_each_keep_their_own_cases(client, world):
    team = world.team()
    collectors = [based(world, team, near(SHENZHEN, n, 0)) for n in (0, 4, 8)]
    cases = {
        c.id: [
            world.case(collector=c, lat=p[0], lon=p[1])
            for p in (near(SHENZHEN, n + 0.5 * k, 1) for k in range(3))
        ]
        for c, n in zip(collectors, (0, 4, 8), strict=True)
    }
    boss = world.login(world.user("supervisor", team))
    body = ok(
        plan(
            client,
            boss,
            collector_ids=[c.id for c in collectors],
            case_ids=[case.id for group in cases.values() for case in group],
        )
    )
    assert [p["collector_id"] for p in body["plans"]] == [c.id for c in collectors]
    for route in body["plans"]:
        assert sorted(s["case_id"] for s in route["stops"]) == sorted(
            c.id for c in cases[route["collector_id"]]
        )
        assert route["totals"]["unplanned"] == 0


def test_distributed_cases_are_reassigned_to_the_collector_whose_route_took_them(client, world):
    """A two-hour morning each: west must drive east for the case pinned to them, and has time
    for its own two cases on the way out but not for the east ones, which go to east."""
    team = world.team()
    west, east = based(world, team, near(SHENZHEN, 0, -6)), based(world, team, near(SHENZHEN, 0, 6))
    queue = [
        world.case(team=team, lat=p[0], lon=p[1])
        for p in (
            near(SHENZHEN, 0, -5),
            near(SHENZHEN, 1, -5.5),
            near(SHENZHEN, 0, 5),
            near(SHENZHEN, 1, 5.5),
        )
    ]
    pinned = world.case(
        collector=west, lat=near(SHENZHEN, 0, 5.2)[0], lon=near(SHENZHEN, 0, 5.2)[1]
    )
    boss = world.login(world.user("supervisor", team))
    body = ok(
        plan(
            client,
            boss,
            collector_ids=[west.id, east.id],
            distribute=True,
            shift={"start": "09:00", "end": "11:00"},
            stops=[*({"case_id": c.id} for c in queue), {"case_id": pinned.id, "pinned": True}],
        )
    )
    by_collector = {p["collector_id"]: {s["case_id"] for s in p["stops"]} for p in body["plans"]}
    assert by_collector[west.id] == {queue[0].id, queue[1].id, pinned.id}  # pinned stays
    assert by_collector[east.id] == {queue[2].id, queue[3].id}
    db.session.expire_all()
    for case_id in by_collector[east.id]:
        case = db.session.get(Case, case_id)
        assert case.collector_id == east.id and case.assignments[-1].reason == "route plan"
    assert db.session.get(Case, pinned.id).collector_id == west.id


# ----------------------------------------------------------------------------- refused


def test_bad_plans_are_refused_naming_the_field_and_nothing_is_saved(client, world, branch):
    alice, boss = branch["alice"], branch["boss"]
    mine = branch["cases"][0]
    unlocated = world.case(collector=alice)
    for address in unlocated.debtor.addresses:
        address.lat = address.lon = None
    closed = world.case(collector=alice)
    closed.status = CaseStatus.SETTLED
    db.session.commit()
    cases = [
        ({"collector_id": alice.id, "case_ids": []}, "case_ids"),
        ({"collector_id": alice.id, "stops": []}, "stops"),
        ({"case_ids": [mine.id]}, "collector_id"),
        (
            {"collector_id": alice.id, "collector_ids": [alice.id], "case_ids": [mine.id]},
            "collector_id",
        ),
        ({"collector_id": alice.id}, "stops"),
        ({"collector_id": alice.id, "case_ids": [2**40]}, "case_ids.0"),
        ({"collector_id": alice.id, "case_ids": [mine.id, branch["their_case"].id]}, "case_ids.1"),
        ({"collector_id": alice.id, "case_ids": [mine.id, mine.id]}, "case_ids.1"),
        ({"collector_id": alice.id, "case_ids": [unlocated.id]}, "case_ids.0"),
        ({"collector_id": alice.id, "case_ids": [closed.id]}, "case_ids.0"),
        ({"collector_id": branch["their_collector"].id, "case_ids": [mine.id]}, "collector_id"),
        (
            {"collector_ids": [alice.id, branch["their_collector"].id], "case_ids": [mine.id]},
            "collector_ids.1",
        ),
        ({"collector_id": branch["bob"].id, "case_ids": [mine.id]}, "case_ids.0"),
        ({"collector_id": alice.id, "case_ids": [mine.id], "day": "2020-01-01"}, "day"),
        (
            {
                "collector_ids": [alice.id, branch["bob"].id],
                "case_ids": [mine.id],
                "start": {"lat": 22.5, "lon": 114.0},
            },
            "start",
        ),
        (
            {"collector_id": alice.id, "case_ids": [mine.id], "start": {"lat": 91, "lon": 0}},
            "start.lat",
        ),
        (
            {
                "collector_id": alice.id,
                "case_ids": [mine.id],
                "shift": {"start": "18:00", "end": "09:00"},
            },
            "shift.end",
        ),
        (
            {
                "collector_id": alice.id,
                "stops": [
                    {"case_id": mine.id, "address_id": branch["their_case"].debtor.addresses[0].id}
                ],
            },
            "stops.0.address_id",
        ),
        (
            {
                "collector_id": alice.id,
                "stops": [{"case_id": mine.id, "address_id": mine.debtor.addresses[1].id}],
            },
            "stops.0.address_id",
        ),
    ]
    for body, field in cases:
        response = plan(client, boss, **body)
        assert response.status_code == 422, (body, response.get_data(as_text=True))
        fields = response.get_json()["error"].get("fields", {})
        assert field in fields, (body, fields)
    # Unknown and hidden cases read alike: existence does not leak.
    unknown = plan(client, boss, collector_id=alice.id, case_ids=[2**40]).get_json()
    hidden = plan(
        client, boss, collector_id=alice.id, case_ids=[branch["their_case"].id]
    ).get_json()
    assert unknown["error"]["fields"]["case_ids.0"][0].replace(str(2**40), "N") == hidden["error"][
        "fields"
    ]["case_ids.0"][0].replace(str(branch["their_case"].id), "N")
    assert saved() == (0, 0, 0)


def test_a_required_stop_that_cannot_fit_is_named_with_why_and_nothing_is_saved(client, branch):
    cases = branch["cases"]
    day = tomorrow()
    response = plan(
        client,
        branch["boss"],
        collector_id=branch["alice"].id,
        stops=[
            {"case_id": cases[0].id},
            {
                "case_id": cases[1].id,
                "required": True,  # an appointment after the shift
                "window": {
                    "start": at(day, "19:00", "Asia/Shanghai").isoformat(),
                    "end": at(day, "20:00", "Asia/Shanghai").isoformat(),
                },
            },
        ],
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert list(error["fields"]) == ["stops.1"]
    assert f"case {cases[1].id}" in error["fields"]["stops.1"][0]
    assert "19:00–20:00" in error["fields"]["stops.1"][0]
    assert saved() == (0, 0, 0)


def test_roles_and_other_teams(client, branch):
    mine = [c.id for c in branch["cases"][:2]]
    for who in ("alice_phone", "legal"):
        response = plan(client, branch[who], collector_id=branch["alice"].id, case_ids=mine)
        assert response.status_code == 403, who
    # Another team's supervisor: our collector and our cases are not theirs to plan.
    response = plan(client, branch["their_boss"], collector_id=branch["alice"].id, case_ids=mine)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) >= {"collector_id"}
    response = plan(
        client, branch["their_boss"], collector_id=branch["their_collector"].id, case_ids=mine
    )
    assert set(response.get_json()["error"]["fields"]) == {"case_ids.0", "case_ids.1"}
    # An administrator plans anywhere.
    ok(
        plan(
            client,
            branch["admin"],
            collector_id=branch["their_collector"].id,
            case_ids=[branch["their_case"].id],
        )
    )
    [ours] = ok(plan(client, branch["boss"], collector_id=branch["alice"].id, case_ids=mine))[
        "plans"
    ]
    plan_id = ours["id"]
    for path in (f"/routes/{plan_id}", f"/routes/{plan_id}/geojson"):
        for who in ("alice_phone", "boss", "admin"):
            assert client.get(path, headers=branch[who]).status_code == 200, (path, who)
        for who in ("bob_phone", "their_boss", "their_phone"):
            assert client.get(path, headers=branch[who]).status_code == 404, (path, who)
        assert client.get(path, headers=branch["legal"]).status_code == 403
    for who in ("bob_phone", "their_boss", "their_phone"):
        response = client.post(f"/routes/{plan_id}/replan", headers=branch[who], json={})
        assert response.status_code == 404, who
    assert (
        client.post(f"/routes/{plan_id}/replan", headers=branch["legal"], json={}).status_code
        == 403
    )


def test_lists_show_only_your_plans_and_reads_are_audited(client, branch):
    mine = [c.id for c in branch["cases"][:2]]
    [ours] = ok(plan(client, branch["boss"], collector_id=branch["alice"].id, case_ids=mine))[
        "plans"
    ]
    [theirs] = ok(
        plan(
            client,
            branch["their_boss"],
            collector_id=branch["their_collector"].id,
            case_ids=[branch["their_case"].id],
        )
    )["plans"]

    def listed(who, **query):
        body = ok(client.get("/routes", headers=branch[who], query_string=query), 200)
        return [p["id"] for p in body["items"]]

    assert listed("boss") == [ours["id"]]
    assert listed("alice_phone") == [ours["id"]] and listed("bob_phone") == []
    assert listed("their_phone") == [theirs["id"]]
    assert sorted(listed("admin")) == sorted([ours["id"], theirs["id"]])
    assert listed("admin", collector_id=branch["alice"].id) == [ours["id"]]
    assert listed("admin", day=tomorrow().isoformat(), status="superseded") == []
    assert client.get("/routes", headers=branch["legal"]).status_code == 403
    assert (
        client.get("/routes", headers=branch["boss"], query_string={"colour": "red"}).status_code
        == 422
    )
    before = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "route.read")
    )
    ok(client.get(f"/routes/{ours['id']}", headers=branch["alice_phone"]), 200)
    after = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "route.read")
    )
    assert after == before + 1


# ----------------------------------------------------------------------------- the map


def test_geojson_is_the_route_in_order_and_what_could_not_fit(client, branch):
    cases = branch["cases"][:3]
    day = tomorrow()
    [route] = ok(
        plan(
            client,
            branch["boss"],
            collector_id=branch["alice"].id,
            stops=[
                {"case_id": cases[0].id},
                {"case_id": cases[1].id},
                {
                    "case_id": cases[2].id,  # optional, with an appointment after the shift
                    "window": {
                        "start": at(day, "19:00", "Asia/Shanghai").isoformat(),
                        "end": at(day, "20:00", "Asia/Shanghai").isoformat(),
                    },
                },
            ],
        )
    )["plans"]
    response = client.get(f"/routes/{route['id']}/geojson", headers=branch["boss"])
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    collection = response.get_json()
    assert collection["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in collection["features"]]
    assert kinds == ["route", "start", "stop", "stop", "unplanned"]
    line, start, *stops, left = collection["features"]
    base = [branch["alice"].base_lon, branch["alice"].base_lat]  # longitude first
    assert line["geometry"]["type"] == "LineString"
    assert line["geometry"]["coordinates"][0] == pytest.approx(base)
    assert start["geometry"] == {"type": "Point", "coordinates": pytest.approx(base)}
    assert [f["properties"]["sequence"] for f in stops] == [1, 2]
    assert [f["properties"]["case_id"] for f in stops] == [s["case_id"] for s in route["stops"]]
    assert line["geometry"]["coordinates"][1:] == [f["geometry"]["coordinates"] for f in stops]
    for feature, stop in zip(stops, route["stops"], strict=True):
        assert feature["geometry"]["coordinates"] == pytest.approx([stop["lon"], stop["lat"]])
        assert feature["properties"]["arrival"] == stop["arrival"]
    assert left["geometry"]["type"] == "Point"
    assert left["properties"]["case_id"] == cases[2].id
    assert left["properties"]["reason"] == "window_closed" and left["properties"]["detail"]


# ----------------------------------------------------------------------------- re-planning


def test_a_collector_replans_after_a_cancellation_keeping_done_and_pinned_stops(client, branch):
    alice, cases = branch["alice"], branch["cases"]
    day = tomorrow()
    stops = [{"case_id": c.id} for c in cases]
    stops[4]["pinned"] = True
    [first] = ok(plan(client, branch["boss"], collector_id=alice.id, stops=stops))["plans"]
    order = [s["case_id"] for s in first["stops"]]
    visited = next(c for c in order if c != cases[4].id)
    started = t(next(s for s in first["stops"] if s["case_id"] == visited)["start"])
    # The collector visits the first stop and files the report from the phone.
    home = db.session.scalars(
        select(Address).where(Address.debtor_id == db.session.get(Case, visited).debtor_id)
    ).first()
    phone = Phone(client, branch["alice_phone"])
    result = phone.send(
        "visit_report",
        report(visited, home.id, start=started.isoformat(), fix=(home.lat, home.lon)),
    )
    assert result["status"] == "applied", result
    # Then the debtor of another stop calls off, and the collector re-plans from where they are.
    cancelled = next(c for c in order if c not in (cases[4].id, visited))
    here = near(SHENZHEN, 5, 5)
    now = at(day, "13:00", "Asia/Shanghai")
    # A collector may not drop what the supervisor pinned.
    response = client.post(
        f"/routes/{first['id']}/replan",
        headers=branch["alice_phone"],
        json={"cancelled_case_ids": [cases[4].id]},
    )
    assert response.status_code == 422
    assert "cancelled_case_ids.0" in response.get_json()["error"]["fields"]
    second = ok(
        client.post(
            f"/routes/{first['id']}/replan",
            headers=branch["alice_phone"],
            json={
                "position": {"lat": here[0], "lon": here[1]},
                "at": now.isoformat(),
                "cancelled_case_ids": [cancelled],
            },
        )
    )
    assert second["version"] == 2 and second["replanned_from_id"] == first["id"]
    assert second["start"] == {
        "lat": pytest.approx(here[0]),
        "lon": pytest.approx(here[1]),
        "kind": "position",
    }
    done = [s for s in second["stops"] if s["status"] == "done"]
    assert [s["case_id"] for s in done] == [visited] and done[0]["sequence"] == 1
    assert done[0]["visit_report_id"] == result["record_id"]
    ahead = [s for s in second["stops"] if s["status"] == "planned"]
    assert [s["sequence"] for s in ahead] == list(range(2, 2 + len(ahead)))
    assert {s["case_id"] for s in ahead} == set(order) - {visited, cancelled}
    assert all(t(s["arrival"]) >= now for s in ahead)
    pinned = next(s for s in ahead if s["case_id"] == cases[4].id)
    assert pinned["pinned"] and pinned["required"]
    assert [(s["case_id"], s["reason"]) for s in second["cancelled"]] == [(cancelled, "cancelled")]
    old = ok(client.get(f"/routes/{first['id']}", headers=branch["boss"]), 200)
    assert old["status"] == "superseded" and old["superseded_at"]
    # The old version cannot be re-planned again; its successor can, by the supervisor too.
    response = client.post(f"/routes/{first['id']}/replan", headers=branch["boss"], json={})
    assert (
        response.status_code == 409 and str(second["id"]) in response.get_json()["error"]["message"]
    )
    third = ok(
        client.post(
            f"/routes/{second['id']}/replan",
            headers=branch["boss"],
            json={"at": at(day, "14:00", "Asia/Shanghai").isoformat()},
        )
    )
    assert third["version"] == 3
    assert [s["case_id"] for s in third["stops"] if s["status"] == "done"] == [visited]
    assert [s["case_id"] for s in third["cancelled"]] == [cancelled]
    # Without a position, the supervisor's re-plan starts where the last visit was.
    assert third["start"]["lat"] == pytest.approx(home.lat)
    published = db.session.scalars(
        select(RoutePlan.id).where(RoutePlan.status == PlanStatus.PUBLISHED)
    ).all()
    assert published == [third["id"]]


def test_a_replan_after_the_shift_or_of_an_unknown_stop_is_refused(client, branch):
    [route] = ok(
        plan(
            client,
            branch["boss"],
            collector_id=branch["alice"].id,
            case_ids=[c.id for c in branch["cases"][:2]],
        )
    )["plans"]
    late = at(tomorrow(), "18:30", "Asia/Shanghai").isoformat()
    response = client.post(
        f"/routes/{route['id']}/replan", headers=branch["alice_phone"], json={"at": late}
    )
    assert response.status_code == 422 and "at" in response.get_json()["error"]["fields"]
    response = client.post(
        f"/routes/{route['id']}/replan",
        headers=branch["alice_phone"],
        json={"cancelled_case_ids": [branch["cases"][5].id]},
    )
    assert "cancelled_case_ids.0" in response.get_json()["error"]["fields"]
    assert client.post("/routes/999999/replan", headers=branch["boss"], json={}).status_code == 404
    assert saved()[0] == 1


def test_a_new_plan_for_the_same_day_supersedes_the_old_one(client, branch):
    alice, boss = branch["alice"], branch["boss"]
    [first] = ok(plan(client, boss, collector_id=alice.id, case_ids=[branch["cases"][0].id]))[
        "plans"
    ]
    [second] = ok(plan(client, boss, collector_id=alice.id, case_ids=[branch["cases"][1].id]))[
        "plans"
    ]
    assert second["version"] == 2 and second["replanned_from_id"] == first["id"]
    statuses = dict(db.session.execute(select(RoutePlan.id, RoutePlan.status)).all())
    assert statuses == {first["id"]: PlanStatus.SUPERSEDED, second["id"]: PlanStatus.PUBLISHED}


def test_the_collectors_base_is_needed_without_a_start(client, world, branch):
    nomad = world.user("collector", branch["ours"])
    case = world.case(collector=nomad, lat=SHENZHEN[0], lon=SHENZHEN[1])
    response = plan(client, branch["boss"], collector_id=nomad.id, case_ids=[case.id])
    assert response.status_code == 422 and "start" in response.get_json()["error"]["fields"]
    # A start given in GCJ-02 (from a Chinese map) is converted to WGS-84 before planning.
    gcj = (SHENZHEN[0] + 0.0027, SHENZHEN[1] + 0.0052)
    [route] = ok(
        plan(
            client,
            branch["boss"],
            collector_id=nomad.id,
            case_ids=[case.id],
            start={"lat": gcj[0], "lon": gcj[1], "datum": "GCJ02"},
        )
    )["plans"]
    assert route["start"]["kind"] == "position"
    wgs = gcj02_to_wgs84(*gcj)
    assert (route["start"]["lat"], route["start"]["lon"]) == pytest.approx(wgs, abs=1e-9)
    assert geodesic_m(*gcj, *wgs) > 100  # the datum shift is hundreds of metres
    assert db.session.get(User, nomad.id).base_lat is None


def test_unknown_fields_are_refused(client, branch):
    response = plan(
        client,
        branch["boss"],
        collector_id=branch["alice"].id,
        case_ids=[branch["cases"][0].id],
        colour="red",
    )
    assert response.status_code == 422 and "colour" in response.get_json()["error"]["fields"]


def test_a_plan_for_today_starts_no_earlier_than_now(client, world):
    """Planned at midday, today's route does not send anyone to a door in the morning; a shift
    already over is refused. (The team's zone is one where it is midday-ish right now.)"""
    zone = next(
        z
        for z in ("Asia/Shanghai", "America/New_York")
        if 3 <= datetime.now(ZoneInfo(z)).hour <= 20
    )
    team = Team(code="NOW", name="Now", timezone=zone)
    db.session.add(team)
    db.session.commit()
    collector = based(world, team)
    case = world.case(collector=collector, lat=near(SHENZHEN, 1, 0)[0], lon=near(SHENZHEN, 1, 0)[1])
    case.debtor.timezone = zone
    db.session.commit()
    boss = world.login(world.user("supervisor", team))
    today = datetime.now(ZoneInfo(zone)).date()
    over = client.post(
        "/routes",
        headers=boss,
        json={
            "day": today.isoformat(),
            "collector_id": collector.id,
            "case_ids": [case.id],
            "shift": {"start": "00:00", "end": "01:00"},
        },
    )
    assert over.status_code == 422 and "shift" in over.get_json()["error"]["fields"]
    before = datetime.now(ZoneInfo(zone))
    [route] = ok(
        client.post(
            "/routes",
            headers=boss,
            json={
                "day": today.isoformat(),
                "collector_id": collector.id,
                "case_ids": [case.id],
                "shift": {"start": "00:00", "end": "23:59"},
            },
        )
    )["plans"]
    assert t(route["departs_at"]) >= before - timedelta(seconds=1)
    assert t(route["stops"][0]["arrival"]) >= before


def test_a_plan_whose_day_is_over_is_not_replanned_and_far_dates_are_refused(client, branch):
    [route] = ok(
        plan(client, branch["boss"], collector_id=branch["alice"].id,
             case_ids=[branch["cases"][0].id])
    )["plans"]
    stored = db.session.get(RoutePlan, route["id"])
    stored.service_day -= timedelta(days=3)
    db.session.commit()
    response = client.post(f"/routes/{route['id']}/replan", headers=branch["alice_phone"],
                           json={})
    assert response.status_code == 422, response.get_json()
    assert "route_id" in response.get_json()["error"]["fields"]
    far = {"start": "0001-01-01T00:30:00+01:00", "end": "0001-01-01T01:30:00+01:00"}
    response = plan(client, branch["boss"], collector_id=branch["alice"].id,
                    stops=[{"case_id": branch["cases"][1].id, "window": far}])
    assert response.status_code == 422
    assert "stops.0.window.start" in response.get_json()["error"]["fields"]
    response = client.post(f"/routes/{route['id']}/replan", headers=branch["boss"],
                           json={"at": "9999-12-31T23:00:00-05:00"})
    assert response.status_code == 422 and "at" in response.get_json()["error"]["fields"]
