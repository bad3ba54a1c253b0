"""Route plans keep each case's own policy and its debtor's blackouts: a US debtor gets
08:00–21:00 in Chicago, a required stop the policy's hours or a blackout closes is refused as a
rule breach (rule, policy, version, sentence), an optional one is left unplanned with the
reason; blackouts are managed per case, sent to the phone, and flag what breaks them."""

from __future__ import annotations

import dataclasses

import pytest

from api.extensions import db
from api.models import Team
from api.services.compliance.presets import PRESETS
from tests.api.test_routes import (
    SHENZHEN,
    URUMQI,
    at,
    based,
    near,
    ok,
    plan,
    saved,
    t,
    tomorrow,
)
from tests.field.test_field_work import Phone, report
from tests.field.test_hours_and_caps import call, local
from tests.sync.test_protocol import pull_all

SHANGHAI = "Asia/Shanghai"
CHICAGO = "America/Chicago"


@pytest.fixture
def desk(world):
    """A Shenzhen team: a collector with a case, their supervisor and an admin."""
    team = world.team()
    collector = based(world, team)
    point = near(SHENZHEN, 1, 1)
    case = world.case(collector=collector, lat=point[0], lon=point[1])
    return {"team": team, "collector": collector, "case": case,
            "boss": world.login(world.user("supervisor", team)),
            "phone": world.login(collector), "admin": world.login(world.user("admin"))}


def declare(client, headers, case_id, **body):
    return client.post(f"/cases/{case_id}/blackouts", headers=headers, json=body)


def one_stop(client, desk, required=True, **body):
    return plan(client, desk["boss"], collector_id=desk["collector"].id,
                stops=[{"case_id": desk["case"].id, "required": required}], **body)


# ----------------------------------------------------------------------------- hours per case


@pytest.mark.rule("visit_hours", preset="US")
def test_a_us_case_is_planned_in_its_own_hours_and_zone(client, world):
    team = Team(code="CHI", name="Chicago", timezone=CHICAGO)
    db.session.add(team)
    db.session.commit()
    collector = based(world, team, (41.8781, -87.6298))
    world.authorise(collector, jurisdiction="US")  # and CN, as every test collector
    case = world.case(collector=collector, lat=41.8881, lon=-87.6298)
    case.debtor.timezone, case.jurisdiction = CHICAGO, "US"
    cn = world.case(collector=collector, lat=41.8681, lon=-87.6298)  # a CN case, same place
    cn.debtor.timezone = CHICAGO
    db.session.commit()
    boss = world.login(world.user("supervisor", team))
    day = tomorrow(CHICAGO)
    body = ok(client.post("/routes", headers=boss, json={
        "day": day.isoformat(), "collector_id": collector.id,
        "shift": {"start": "17:00", "end": "23:30"}, "case_ids": [case.id, cn.id]}))
    windows = {s["case_id"]: s["window"] for s in body["plans"][0]["stops"]}
    assert t(windows[case.id]["end"]) == at(day, "21:00", CHICAGO)
    assert t(windows[cn.id]["end"]) == at(day, "22:00", CHICAGO)
    # A required US visit asked for 20:45–21:30 cannot end by 21:00: a visit_hours breach.
    response = client.post("/routes", headers=boss, json={
        "day": day.isoformat(), "collector_id": collector.id,
        "shift": {"start": "17:00", "end": "23:30"},
        "stops": [{"case_id": case.id, "required": True, "window": {
            "start": at(day, "20:45", CHICAGO).isoformat(),
            "end": at(day, "21:30", CHICAGO).isoformat()}}]})
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert (error["code"], error["rule"], error["policy"]) == ("rule_breach", "visit_hours",
                                                              "us-fdcpa")
    assert "08:00–21:00 America/Chicago" in error["fields"]["stops.0"][0]


@pytest.mark.rule("visit_hours", preset="CN")
def test_a_plan_the_hours_close_is_refused_with_the_rule_and_policy_version(
        client, world, use_policy):
    policy = use_policy(dataclasses.replace(PRESETS["CN"], visit_hours_start="08:30"))
    team = world.team()
    collector = based(world, team, URUMQI)
    point = near(URUMQI, 1, 1)
    case = world.case(collector=collector, lat=point[0], lon=point[1])
    case.debtor.timezone = "Asia/Urumqi"
    db.session.commit()
    boss = world.login(world.user("supervisor", team))
    # 07:00–10:30 Beijing is 05:00–08:30 in Ürümqi: before its visit hours open.
    response = plan(client, boss, collector_id=collector.id,
                    shift={"start": "07:00", "end": "10:30"},
                    stops=[{"case_id": case.id, "required": True}])
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "rule_breach" and error["rule"] == "visit_hours"
    assert (error["policy"], error["policy_version"]) == (policy.name, policy.version)
    assert "08:30–22:00 Asia/Urumqi" in error["message"]
    assert list(error["fields"]) == ["stops.0"]
    assert saved() == (0, 0, 0)
    # A shift to 11:00 Beijing (09:00 Ürümqi) leaves 08:30–09:00 there: the visit fits.
    assert one_stop_ok(client, boss, collector, case, "07:00", "11:00")


def one_stop_ok(client, boss, collector, case, start, end) -> bool:
    response = plan(client, boss, collector_id=collector.id, shift={"start": start, "end": end},
                    stops=[{"case_id": case.id, "required": True}])
    return response.status_code == 201


# ----------------------------------------------------------------------------- blackouts


@pytest.mark.rule("blackout", preset=None)
def test_blackouts_are_recorded_by_the_team_read_by_the_collector_and_sent_to_the_phone(
        client, world, desk):
    case = desk["case"]
    work = ok(declare(client, desk["boss"], case.id, kind="place", address_kind="home",
                      note="never at home: his mother is ill"))
    sundays = ok(declare(client, desk["admin"], case.id, kind="time", weekdays=[7, 7]))
    assert work["recorded_by_id"] and sundays["weekdays"] == [7]
    listed = ok(client.get(f"/cases/{case.id}/blackouts", headers=desk["phone"]), 200)
    assert [b["id"] for b in listed["items"]] == [work["id"], sundays["id"]]
    assert listed["page"]["total"] == 2
    assert declare(client, desk["phone"], case.id, kind="time").status_code == 403
    other_team = world.login(world.user("supervisor", world.team()))
    assert declare(client, other_team, case.id, kind="time").status_code == 404
    assert client.get(f"/cases/{case.id}/blackouts", headers=other_team).status_code == 404

    changes, _ = pull_all(client, desk["phone"])
    [doc] = [c["data"] for c in changes if c["entity"] == "case" and c["id"] == case.id]
    assert [(b["kind"], b["address_kind"], b["weekdays"]) for b in doc["blackouts"]] == [
        ("place", "home", []), ("time", None, [7])]

    gone = client.delete(f"/cases/{case.id}/blackouts/{sundays['id']}", headers=desk["boss"])
    assert gone.status_code == 204
    assert client.delete(f"/cases/{case.id}/blackouts/{sundays['id']}",
                         headers=desk["boss"]).status_code == 404
    listed = ok(client.get(f"/cases/{case.id}/blackouts", headers=desk["boss"]), 200)
    assert [b["id"] for b in listed["items"]] == [work["id"]]


def test_bad_blackouts_are_refused_naming_the_field(client, world, desk):
    case = desk["case"]
    stranger = world.case(collector=desk["collector"]).debtor.addresses[0].id
    cases = [
        ({"kind": "time", "local_start": "12:00"}, "local_end"),
        ({"kind": "time", "local_start": "14:00", "local_end": "12:00"}, "local_end"),
        ({"kind": "time", "local_start": "25:00", "local_end": "26:00"}, "local_start"),
        ({"kind": "time", "weekdays": [0]}, "weekdays"),
        ({"kind": "place"}, "address_id"),
        ({"kind": "place", "address_id": stranger}, "address_id"),
        ({"kind": "time", "address_kind": "work"}, "address_kind"),
        ({"kind": "sometimes"}, "kind"),
    ]
    for body, field in cases:
        response = declare(client, desk["boss"], case.id, **body)
        assert response.status_code == 422, (body, response.get_data(as_text=True))
        fields = response.get_json()["error"]["fields"]
        assert any(k.split(".")[0] == field for k in fields), (body, fields)
    assert ok(client.get(f"/cases/{case.id}/blackouts", headers=desk["boss"]), 200)[
        "page"]["total"] == 0


@pytest.mark.rule("blackout", preset=None)
def test_a_blacked_out_place_refuses_a_required_stop_and_leaves_an_optional_one_unplanned(
        client, desk):
    case = desk["case"]
    ok(declare(client, desk["boss"], case.id, kind="place", address_kind="home"))
    response = one_stop(client, desk)
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert (error["code"], error["rule"], error["policy"]) == ("rule_breach", "blackout",
                                                              "cn-default")
    assert "at home every day all day" in error["fields"]["stops.0"][0]
    assert saved() == (0, 0, 0)
    [route] = ok(one_stop(client, desk, required=False))["plans"]
    assert route["stops"] == []
    [left] = route["unplanned"]
    assert left["reason"] == "blackout" and "at home" in left["detail"]


@pytest.mark.rule("blackout", preset=None)
def test_a_day_the_debtor_refused_closes_the_stop_and_hours_trim_it(client, desk):
    case, day = desk["case"], tomorrow()
    not_that_day = ok(declare(client, desk["boss"], case.id, kind="time",
                              weekdays=[day.isoweekday()]))
    response = one_stop(client, desk)
    assert response.status_code == 422
    assert response.get_json()["error"]["rule"] == "blackout"
    assert client.delete(f"/cases/{case.id}/blackouts/{not_that_day['id']}",
                         headers=desk["boss"]).status_code == 204
    # Not 12:00–14:00: of 08:00–22:00 the longer part is kept, 14:00–22:00.
    ok(declare(client, desk["boss"], case.id, kind="time", local_start="12:00",
               local_end="14:00"))
    [route] = ok(one_stop(client, desk))["plans"]
    [stop] = route["stops"]
    assert t(stop["window"]["start"]) == at(day, "14:00", SHANGHAI)
    assert t(stop["window"]["end"]) == at(day, "22:00", SHANGHAI)
    assert t(stop["start"]) >= at(day, "14:00", SHANGHAI)
    # A shift that ends at 14:00 leaves the blackout no room: refused for the blackout.
    response = one_stop(client, desk, shift={"start": "12:00", "end": "14:00"})
    assert response.status_code == 422
    assert response.get_json()["error"]["rule"] == "blackout"


@pytest.mark.rule("blackout", preset=None)
def test_a_visit_or_call_in_a_blackout_is_flagged(client, world, desk):
    case = desk["case"]
    registered = case.debtor.addresses[1].id  # household registration
    ok(declare(client, desk["boss"], case.id, kind="time", local_start="12:00",
               local_end="14:00"))
    ok(declare(client, desk["boss"], case.id, kind="place",
               address_kind="household_registration"))
    phone = Phone(client, desk["phone"])
    home = case.debtor.addresses[0].id

    def flags(type_, payload):
        result = phone.send(type_, payload)
        assert result["status"] == "applied", result
        return result["flags"]

    assert "in_blackout" not in flags("visit_report", report(
        case.id, home, start=local("2026-11-20T10:00:00", SHANGHAI)))
    assert "in_blackout" in flags("visit_report", report(  # 11:50–12:10
        case.id, home, start=local("2026-11-20T11:50:00", SHANGHAI)))
    assert "in_blackout" in flags("visit_report", report(
        case.id, registered, start=local("2026-11-20T10:00:00", SHANGHAI), fix=None))
    assert "in_blackout" in flags("contact_attempt", call(
        case.id, local("2026-11-20T12:00:00", SHANGHAI), "no_answer"))
    assert "in_blackout" not in flags("contact_attempt", call(
        case.id, local("2026-11-20T14:00:00", SHANGHAI), "no_answer"))
    timeline = ok(client.get(f"/cases/{case.id}/timeline", headers=desk["boss"],
                             query_string={"kind": "contact_attempt", "order": "asc"}), 200)
    assert [e["flags"] for e in timeline["items"]] == [["in_blackout"], []]
