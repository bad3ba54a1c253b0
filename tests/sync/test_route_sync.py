"""A route plan reaches its collector's phone through sync, and only theirs: a second entity
("route") in the same bucket, after the cases on a bootstrap, replaced by its next version at a
re-plan, and kept by the reference client beside the cases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from api.extensions import db
from api.models import PlanStatus, RouteDocument, RoutePlan
from api.models.types import utcnow
from clients.device import DeviceClient, FlaskTransport
from tests.api.test_routes import SHENZHEN, at, based, near, ok, tomorrow
from tests.factories import PASSWORD
from tests.sync.test_protocol import pull, pull_all


@pytest.fixture
def crew(world):
    team = world.team()
    alice, bob = based(world, team), based(world, team)
    cases = [
        world.case(collector=alice, lat=p[0], lon=p[1])
        for p in (near(SHENZHEN, n, n / 2) for n in (1, 2, 3))
    ]
    return {
        "alice": alice,
        "bob": bob,
        "cases": cases,
        "bobs_case": world.case(collector=bob, lat=SHENZHEN[0], lon=SHENZHEN[1]),
        "boss": world.login(world.user("supervisor", team)),
        "alice_phone": world.login(alice),
        "bob_phone": world.login(bob),
    }


def make_plan(client, crew, **body):
    body = {
        "day": tomorrow().isoformat(),
        "collector_id": crew["alice"].id,
        "case_ids": [c.id for c in crew["cases"]],
        **body,
    }
    [route] = ok(client.post("/routes", headers=crew["boss"], json=body))["plans"]
    return route


def routes_in(changes):
    return [c for c in changes if c["entity"] == "route"]


def test_a_plan_appears_in_the_collectors_delta_and_nowhere_else(client, crew):
    _, alice_cursor = pull_all(client, crew["alice_phone"])
    _, bob_cursor = pull_all(client, crew["bob_phone"])
    route = make_plan(client, crew)
    changes, _ = pull_all(client, crew["alice_phone"], alice_cursor)
    [put] = routes_in(changes)
    assert put["op"] == "put" and put["id"] == route["id"]
    doc = put["data"]
    assert doc["status"] == "published" and doc["version"] == 1
    assert doc["service_day"] == tomorrow().isoformat()
    assert [s["case_id"] for s in doc["stops"]] == [s["case_id"] for s in route["stops"]]
    assert [s["arrival"] for s in doc["stops"]] == [s["arrival"] for s in route["stops"]]
    assert doc["start"]["kind"] == "base" and doc["unplanned"] == []
    assert "debtor_name" not in doc["stops"][0]  # the case documents carry the debtor
    bob_changes, _ = pull_all(client, crew["bob_phone"], bob_cursor)
    assert routes_in(bob_changes) == []
    bob_boot, _ = pull_all(client, crew["bob_phone"])
    assert routes_in(bob_boot) == []


def test_a_replan_replaces_the_plan_on_the_phone(client, crew):
    first = make_plan(client, crew)
    _, cursor = pull_all(client, crew["alice_phone"])
    second = ok(
        client.post(
            f"/routes/{first['id']}/replan",
            headers=crew["alice_phone"],
            json={
                "at": at(tomorrow(), "12:00", "Asia/Shanghai").isoformat(),
                "cancelled_case_ids": [crew["cases"][0].id],
            },
        )
    )
    changes, _ = pull_all(client, crew["alice_phone"], cursor)
    assert [(c["op"], c["id"]) for c in routes_in(changes)] == [
        ("remove", first["id"]),
        ("put", second["id"]),
    ]
    doc = routes_in(changes)[1]["data"]
    assert doc["version"] == 2 and doc["replanned_from_id"] == first["id"]
    assert doc["cancelled"] == [{"case_id": crew["cases"][0].id, "reason": "cancelled"}]
    boot, _ = pull_all(client, crew["alice_phone"])
    assert [c["id"] for c in routes_in(boot)] == [second["id"]]


def test_a_bootstrap_carries_the_plans_after_the_cases(client, crew):
    route = make_plan(client, crew)
    pages, cursor = [], None
    while True:
        page = pull(client, crew["alice_phone"], cursor, limit=2)
        pages.append(page["changes"])
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    entities = [c["entity"] for p in pages for c in p]
    assert entities == ["case"] * len(crew["cases"]) + ["route"]
    assert pages[-1][-1]["id"] == route["id"]
    assert pull(client, crew["alice_phone"], cursor)["changes"] == []  # nothing twice


def test_a_case_and_a_plan_with_the_same_id_both_arrive(client, world, crew):
    """The delta keeps the last change of each (entity, id), not of each id."""
    _, cursor = pull_all(client, crew["alice_phone"])
    case = crew["cases"][0]
    route = make_plan(client, crew, case_ids=[c.id for c in crew["cases"]])
    assert route["id"] == case.id, "the test needs a plan id that is also a case id"
    case = db.session.get(type(case), case.id)
    case.debtor.employer = "Moved to a new job"
    db.session.commit()
    changes, _ = pull_all(client, crew["alice_phone"], cursor)
    assert {(c["entity"], c["id"]) for c in changes} >= {("route", route["id"]), ("case", case.id)}


def test_plans_for_days_long_past_leave_the_phone_with_the_next_plan(client, crew):
    old = make_plan(client, crew)
    # Days go by: the plan's day is now five days ago (only the document's copy is moved, as
    # the plan itself is history and must not change).
    db.session.execute(
        update(RouteDocument)
        .where(RouteDocument.plan_id == old["id"])
        .values(service_day=(utcnow() - timedelta(days=5)).date())
    )
    db.session.commit()
    boot, cursor = pull_all(client, crew["alice_phone"])
    assert [c["id"] for c in routes_in(boot)] == [old["id"]]
    route = make_plan(client, crew, day=(tomorrow() + timedelta(days=1)).isoformat())
    changes, _ = pull_all(client, crew["alice_phone"], cursor)
    assert {(c["op"], c["id"]) for c in routes_in(changes)} == {
        ("put", route["id"]),
        ("remove", old["id"]),
    }
    kept = db.session.scalars(select(RouteDocument.plan_id)).all()
    assert kept == [route["id"]]
    assert db.session.get(RoutePlan, old["id"]).status is PlanStatus.PUBLISHED  # history stays


def test_the_reference_client_keeps_the_days_route(client, tmp_path, crew):
    phone = DeviceClient(
        str(tmp_path / "alice.db"),
        FlaskTransport(client),
        username=crew["alice"].username,
        password=PASSWORD,
    )
    assert phone.sync().ok and phone.routes() == {}
    day = tomorrow().isoformat()
    first = make_plan(client, crew)
    report = phone.sync()
    assert report.ok and report.pull.puts == 1
    assert phone.route_for(day)["id"] == first["id"]
    assert len(phone.cases()) == len(crew["cases"])  # the route did not land among the cases
    second = ok(
        client.post(
            f"/routes/{first['id']}/replan",
            headers=crew["boss"],
            json={"at": at(tomorrow(), "11:00", "Asia/Shanghai").isoformat()},
        )
    )
    report = phone.sync()
    assert report.pull.puts == 1 and report.pull.removes == 1
    assert list(phone.routes()) == [second["id"]]
    assert phone.route_for(day)["version"] == 2
    stops = phone.route_for(day)["stops"]
    assert all(phone.case(s["case_id"]) is not None for s in stops)  # each stop's case is here
    # A reset keeps nothing stale: the bootstrap brings the current plan back.
    phone._set("cursor", "not-a-cursor")
    report = phone.sync()
    assert report.pull.resets == 1 and list(phone.routes()) == [second["id"]]
    phone.close()


def test_a_case_given_to_someone_else_leaves_no_address_in_the_old_plan(client, crew):
    route = make_plan(client, crew)
    _, cursor = pull_all(client, crew["alice_phone"])
    moved = crew["cases"][0]
    answer = client.post("/assignments", headers=crew["boss"], json={
        "case_ids": [moved.id], "collector_id": crew["bob"].id, "reason": "workload"})
    assert answer.status_code == 200, answer.get_json()
    changes, _ = pull_all(client, crew["alice_phone"], cursor)
    assert ("remove", moved.id) in [(c["op"], c["id"]) for c in changes if c["entity"] == "case"]
    [put] = routes_in(changes)
    assert put["op"] == "put" and put["id"] == route["id"]
    stops = {s["case_id"]: s for s in put["data"]["stops"]}
    assert (stops[moved.id]["lat"], stops[moved.id]["lon"], stops[moved.id]["address_id"]) == (
        None, None, None)
    kept = next(c.id for c in crew["cases"] if c.id != moved.id)
    assert stops[kept]["lat"] is not None
