"""Which cases need a field visit, by which rule, and who should go: each rule just below its
threshold (no suggestion) and at it (suggested); the collector by distance from base and
load; accepting a suggestion; and the collector's base in the admin user API."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.extensions import db
from api.models import AuditEvent, ContactOutcome, Product, PromiseStatus, User
from api.services.geo import geodesic_m
from api.services.supervision.suggestions import RULES, THRESHOLDS
from tests.api.supervision_story import (
    FUTIAN,
    address_proposal,
    call,
    cases,
    device_of,
    now,
    promise,
    today_local,
    visit,
)
from tests.conftest import DATA

T = THRESHOLDS
MINUTE = timedelta(minutes=1)
# Bases due north of the Futian home: ~1.1 km and ~2.2 km away.
NEAR = (FUTIAN[0] + 0.01, FUTIAN[1])
FAR = (FUTIAN[0] + 0.02, FUTIAN[1])


@pytest.fixture
def desk(world):
    team = world.team("SZ")
    supervisor = world.user("supervisor", team)
    alice = world.user("collector", team)
    set_base(alice, NEAR)
    return {
        "team": team, "alice": alice, "device": device_of(alice),
        "supervisor": world.login(supervisor), "admin": world.login(world.user("admin")),
    }


def set_base(user: User, point) -> None:
    user.base_lat, user.base_lon = point
    db.session.commit()


def suggestions(client, headers, **params) -> dict:
    response = client.get("/assignments/suggestions", headers=headers, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def rules_for(client, desk, case) -> list[str]:
    items = suggestions(client, desk["supervisor"], page_size=200)["items"]
    return next(([r["id"] for r in i["rules"]] for i in items if i["case_id"] == case.id), [])


# --------------------------------------------------------------------------- each rule


@pytest.mark.parametrize("failed, expected", [(T.calls_failed_min - 1, False),
                                              (T.calls_failed_min, True)])
def test_calls_failed_at_its_threshold(client, world, desk, failed, expected):
    case = cases(world, 1, team=desk["team"])[0]
    old = now() - timedelta(days=T.calls_failed_days) - MINUTE  # outside the window
    call(case, desk["alice"], desk["device"], old)
    for k in range(failed):
        call(case, desk["alice"], desk["device"], now() - timedelta(hours=k + 1))
    assert ("calls_failed" in rules_for(client, desk, case)) is expected


def test_a_connected_call_or_a_visit_after_the_failures_answers_them(client, world, desk):
    reached, visited, failing = cases(world, 3, team=desk["team"])
    for case in (reached, visited, failing):
        for k in range(T.calls_failed_min):
            call(case, desk["alice"], desk["device"], now() - timedelta(days=2, hours=k))
    call(reached, desk["alice"], desk["device"], now() - timedelta(days=1),
         ContactOutcome.CONNECTED)
    visit(visited, desk["alice"], desk["device"], today_local())
    # The window's first failure is just inside it: still counted.
    call(failing, desk["alice"], desk["device"],
         now() - timedelta(days=T.calls_failed_days) + MINUTE)
    assert rules_for(client, desk, reached) == []
    assert rules_for(client, desk, visited) == []
    assert rules_for(client, desk, failing) == ["calls_failed"]


@pytest.mark.parametrize("dead, expected", [(T.contact_lost_calls - 1, False),
                                            (T.contact_lost_calls, True)])
def test_contact_lost_at_its_threshold(client, world, desk, dead, expected):
    case = cases(world, 1, team=desk["team"])[0]
    call(case, desk["alice"], desk["device"], now() - timedelta(days=3), ContactOutcome.CONNECTED)
    for k in range(dead):
        call(case, desk["alice"], desk["device"], now() - timedelta(hours=k + 1),
             ContactOutcome.WRONG_NUMBER)
    assert ("contact_lost" in rules_for(client, desk, case)) is expected


def test_contact_lost_without_a_phone_or_with_a_new_address(client, world, desk):
    no_phone = cases(world, 1, team=desk["team"], phones=False)[0]
    moved, moved_visited, quiet = cases(world, 3, team=desk["team"])
    address_proposal(moved, desk["alice"], desk["device"])
    address_proposal(moved_visited, desk["alice"], desk["device"])
    visit(moved_visited, desk["alice"], desk["device"], today_local())
    assert rules_for(client, desk, no_phone) == ["contact_lost"]
    assert rules_for(client, desk, moved) == ["contact_lost"]
    assert rules_for(client, desk, moved_visited) == []
    assert rules_for(client, desk, quiet) == []
    detail = next(i for i in suggestions(client, desk["supervisor"])["items"]
                  if i["case_id"] == moved.id)["rules"][0]["detail"]
    assert "new address was proposed" in detail


@pytest.mark.parametrize("days_ago, expected", [(T.promise_broken_days + 1, False),
                                                (T.promise_broken_days, True)])
def test_a_broken_promise_within_its_lookback(client, world, desk, days_ago, expected):
    case = cases(world, 1, team=desk["team"])[0]
    promise(case, desk["alice"], desk["device"], today_local() - timedelta(days=days_ago),
            PromiseStatus.BROKEN)
    assert ("promise_broken" in rules_for(client, desk, case)) is expected


def test_a_visit_after_the_missed_date_answers_a_broken_promise(client, world, desk):
    visited_on_the_day, visited_after, partly = cases(world, 3, team=desk["team"])
    missed = today_local() - timedelta(days=5)
    for case in (visited_on_the_day, visited_after):
        promise(case, desk["alice"], desk["device"], missed, PromiseStatus.BROKEN)
    promise(partly, desk["alice"], desk["device"], missed, PromiseStatus.PARTLY_KEPT)
    visit(visited_on_the_day, desk["alice"], desk["device"], missed)
    visit(visited_after, desk["alice"], desk["device"], missed + timedelta(days=1))
    assert rules_for(client, desk, visited_on_the_day) == ["promise_broken"]
    assert rules_for(client, desk, visited_after) == []
    assert rules_for(client, desk, partly) == ["promise_broken"]


def test_the_latest_promise_is_the_one_that_counts(client, world, desk):
    replaced, kept = cases(world, 2, team=desk["team"])
    missed = today_local() - timedelta(days=5)
    promise(replaced, desk["alice"], desk["device"], missed, PromiseStatus.BROKEN)
    promise(replaced, desk["alice"], desk["device"], today_local() + timedelta(days=3),
            signed_days_ago=2)  # a new promise, signed after the broken one
    promise(kept, desk["alice"], desk["device"], today_local(), PromiseStatus.KEPT)
    assert rules_for(client, desk, replaced) == []
    assert rules_for(client, desk, kept) == []  # paid ahead of its date: nothing to collect


@pytest.mark.parametrize("due_in, expected", [(1, False), (0, True)])
def test_a_promise_due_today(client, world, desk, due_in, expected):
    case = cases(world, 1, team=desk["team"])[0]
    promise(case, desk["alice"], desk["device"], today_local() + timedelta(days=due_in))
    assert ("promise_due" in rules_for(client, desk, case)) is expected


@pytest.mark.parametrize("dpd, expected", [(T.serious_dpd - 1, False), (T.serious_dpd, True)])
def test_serious_arrears_from_m2(client, world, desk, dpd, expected):
    case = cases(world, 1, team=desk["team"], days_past_due=dpd)[0]
    assert ("serious_arrears" in rules_for(client, desk, case)) is expected


@pytest.mark.parametrize("visited_ago, expected", [(T.serious_visit_gap_days - 1, False),
                                                   (T.serious_visit_gap_days, True)])
def test_serious_arrears_wants_a_recent_visit(client, world, desk, visited_ago, expected):
    case = cases(world, 1, team=desk["team"], days_past_due=60)[0]
    visit(case, desk["alice"], desk["device"], today_local() - timedelta(days=visited_ago))
    assert ("serious_arrears" in rules_for(client, desk, case)) is expected


DAY4 = T.business_day0_dpd + T.business_second_visit_day


@pytest.mark.parametrize("dpd, expected", [
    (T.business_day0_dpd - 1, []),
    (T.business_day0_dpd, ["business_first_visit"]),
    (DAY4 - 1, ["business_first_visit"]),
    (DAY4, ["business_second_visit"]),
    (T.business_playbook_last_dpd, ["business_second_visit"]),
    (T.business_playbook_last_dpd + 1, []),  # the serious-arrears rule takes over
])
def test_the_business_debtor_playbook_days(client, world, desk, dpd, expected):
    machinery = cases(world, 1, team=desk["team"], days_past_due=dpd,
                      product=Product.MACHINERY_FINANCE)[0]
    consumer = cases(world, 1, team=desk["team"], days_past_due=dpd)[0]
    serious = ["serious_arrears"] if dpd >= T.serious_dpd else []
    assert rules_for(client, desk, machinery) == expected + serious
    assert rules_for(client, desk, consumer) == serious


def test_the_playbook_visits_are_answered_by_a_visit_on_their_day(client, world, desk):
    site = (FUTIAN[0] - 0.05, FUTIAN[1])
    first = cases(world, 1, team=desk["team"], days_past_due=T.business_day0_dpd + 1,
                  worksite=site)[0]  # a car loan, but the debtor has a worksite: a business
    second, second_early = cases(world, 2, team=desk["team"], days_past_due=DAY4 + 2,
                                 product=Product.MACHINERY_FINANCE)
    assert rules_for(client, desk, first) == ["business_first_visit"]
    item = next(i for i in suggestions(client, desk["supervisor"])["items"]
                if i["case_id"] == first.id)
    assert item["address"]["kind"] == "worksite"  # the business site, not the home
    day0 = today_local() - timedelta(days=1)
    visit(first, desk["alice"], desk["device"], day0)
    visit(second, desk["alice"], desk["device"], today_local() - timedelta(days=2))  # day 4
    visit(second_early, desk["alice"], desk["device"], today_local() - timedelta(days=3))
    assert rules_for(client, desk, first) == []
    assert rules_for(client, desk, second) == []
    assert rules_for(client, desk, second_early) == ["business_second_visit"]


def test_the_list_names_every_rule_and_puts_the_most_urgent_first(client, world, desk):
    serious = cases(world, 1, team=desk["team"], days_past_due=80)[0]
    due = cases(world, 1, team=desk["team"], days_past_due=10)[0]
    promise(due, desk["alice"], desk["device"], today_local())
    body = suggestions(client, desk["supervisor"])
    assert [r["id"] for r in body["rules"]] == list(RULES)
    assert "31 or more days past due" in body["rules"][-1]["sentence"]
    assert [i["case_id"] for i in body["items"]] == [due.id, serious.id]
    assert body["items"][0]["accept_reason"] == "suggestion:promise_due"
    assert body["page"]["total"] == 2
    only = suggestions(client, desk["supervisor"], rule=["serious_arrears"])
    assert [i["case_id"] for i in only["items"]] == [serious.id]
    paged = suggestions(client, desk["supervisor"], page=2, page_size=1)
    assert [i["case_id"] for i in paged["items"]] == [serious.id]


# --------------------------------------------------------------------------- who should go


def test_the_nearest_base_wins_with_the_figures(client, world, desk):
    bob = world.user("collector", desk["team"])
    set_base(bob, FAR)
    case = cases(world, 1, team=desk["team"], days_past_due=45)[0]
    item = suggestions(client, desk["supervisor"])["items"][0]
    chosen = item["suggested_collector"]
    assert chosen["collector_id"] == desk["alice"].id
    assert chosen["distance_m"] == pytest.approx(geodesic_m(*NEAR, *FUTIAN), abs=0.1)
    assert [c["collector_id"] for c in item["candidates"]] == [desk["alice"].id, bob.id]
    assert item["candidates"][1]["distance_m"] == pytest.approx(
        geodesic_m(*FAR, *FUTIAN), abs=0.1)
    assert "1.1 km from base" in chosen["why"] and "the nearest of 2" in chosen["why"]
    assert item["address"]["lat"] == FUTIAN[0] and item["case_id"] == case.id


def test_a_heavier_load_outweighs_a_shorter_drive(client, world, desk):
    """Alice is ~1.1 km nearer; each open case she holds weighs `km_per_open_case`."""
    bob = world.user("collector", desk["team"])
    set_base(bob, FAR)
    gap_km = (geodesic_m(*FAR, *FUTIAN) - geodesic_m(*NEAR, *FUTIAN)) / 1000
    just_below = int(gap_km / T.km_per_open_case)  # still cheaper than Bob
    cases(world, just_below, team=desk["team"], collector=desk["alice"], days_past_due=0)
    case = cases(world, 1, team=desk["team"], days_past_due=45)[0]
    chosen = suggestions(client, desk["supervisor"])["items"][0]["suggested_collector"]
    assert chosen["collector_id"] == desk["alice"].id
    assert chosen["open_cases"] == just_below
    cases(world, 1, team=desk["team"], collector=desk["alice"], days_past_due=0)
    item = suggestions(client, desk["supervisor"])["items"][0]
    assert item["case_id"] == case.id
    chosen = item["suggested_collector"]
    assert chosen["collector_id"] == bob.id and chosen["open_cases"] == 0
    assert [c["open_cases"] for c in item["candidates"]] == [0, just_below + 1]


def test_suggestions_in_one_list_spread_the_load(client, world, desk):
    bob = world.user("collector", desk["team"])
    set_base(bob, NEAR)  # the same base as Alice
    cases(world, 3, team=desk["team"], days_past_due=45)
    items = suggestions(client, desk["supervisor"])["items"]
    chosen = [i["suggested_collector"] for i in items]
    assert [c["collector_id"] for c in chosen] == [desk["alice"].id, bob.id, desk["alice"].id]
    assert [c["planned"] for c in chosen] == [0, 0, 1]
    assert "+1 suggested above" in chosen[2]["why"]


def test_a_held_case_stays_with_its_active_holder_and_unlocated_ranks_last(client, world, desk):
    bob = world.user("collector", desk["team"])  # no base
    far_away = world.user("collector", desk["team"])
    set_base(far_away, (23.11667, 113.25))  # Guangzhou
    held = cases(world, 1, team=desk["team"], collector=bob, days_past_due=45)[0]
    free = cases(world, 1, team=desk["team"], days_past_due=44)[0]
    items = {i["case_id"]: i for i in suggestions(client, desk["supervisor"])["items"]}
    assert items[held.id]["suggested_collector"]["collector_id"] == bob.id
    assert items[held.id]["suggested_collector"]["why"].startswith("already holds the case")
    ranked = [c["collector_id"] for c in items[free.id]["candidates"]]
    assert ranked == [desk["alice"].id, far_away.id, bob.id]
    assert items[free.id]["candidates"][2]["distance_m"] is None
    unassigned = suggestions(client, desk["supervisor"], unassigned=True)["items"]
    assert [i["case_id"] for i in unassigned] == [free.id]


def test_accepting_a_suggestion_assigns_with_its_rule_as_the_reason(client, world, desk):
    case = cases(world, 1, team=desk["team"], days_past_due=45)[0]
    item = suggestions(client, desk["supervisor"])["items"][0]
    response = client.post("/assignments", headers=desk["supervisor"], json={
        "case_ids": [item["case_id"]],
        "collector_id": item["suggested_collector"]["collector_id"],
        "reason": item["accept_reason"], "reason_code": "suggestion"})
    assert response.status_code == 200, response.get_json()
    detail = client.get(f"/cases/{case.id}", headers=desk["supervisor"]).get_json()
    assert detail["collector_id"] == desk["alice"].id
    assert detail["assignments"][-1]["reason"] == "suggestion:serious_arrears"


# --------------------------------------------------------------------------- who may ask


def test_suggestions_are_audited_and_kept_to_the_team(client, world, desk):
    other = world.team("GZ")
    cases(world, 1, team=other, days_past_due=50)
    mine = cases(world, 2, team=desk["team"], days_past_due=50)
    suggestions(client, desk["supervisor"])
    row = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "assignment.suggestions")).one()
    assert set(json.loads(row.detail)["case_ids"]) == {c.id for c in mine}
    refused = client.get("/assignments/suggestions", headers=desk["supervisor"],
                         query_string={"team_id": other.id})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["fields"] == {"team_id": ["not your team"]}
    no_team = client.get("/assignments/suggestions", headers=desk["admin"])
    assert no_team.status_code == 422 and "team_id" in no_team.get_json()["error"]["fields"]
    theirs = suggestions(client, desk["admin"], team_id=other.id)["items"]
    assert len(theirs) == 1 and theirs[0]["suggested_collector"] is None
    for role in ("collector", "legal"):
        headers = world.login(world.user(role, desk["team"] if role == "collector" else None))
        assert client.get("/assignments/suggestions", headers=headers).status_code == 403


# --------------------------------------------------------------------------- the base


def vectors():
    """Published WGS-84 -> GCJ-02 (eviltransform, Shanghai) and WGS-84 -> BD-09 (hutool)
    pairs: an administrator sends the map's point, the server stores the WGS-84 one."""
    with (DATA / "coord_transform_vectors.csv").open() as f:
        rows = {r["label"]: r for r in csv.DictReader(f)}
    return rows["shanghai"], rows["wgs84toBd09"]


def metres_from(body: dict, row: dict) -> float:
    return geodesic_m(body["base_lat"], body["base_lon"],
                      float(row["from_lat"]), float(row["from_lon"]))


def test_a_collectors_base_in_the_admin_user_api_is_stored_in_wgs84(client, world, desk):
    gcj, bd = vectors()
    team = desk["team"]
    created = client.post("/admin/users", headers=desk["admin"], json={
        "username": "zhou", "full_name": "Zhou Min", "role": "collector", "team_id": team.id,
        "password": "a long password", "base_lat": float(gcj["to_lat"]),
        "base_lon": float(gcj["to_lon"]), "base_datum": "GCJ02"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert "base_datum" not in body
    assert metres_from(body, gcj) < 0.5  # GCJ-02 is offset by hundreds of metres
    assert geodesic_m(body["base_lat"], body["base_lon"],
                      float(gcj["to_lat"]), float(gcj["to_lon"])) > 100
    user_id = body["id"]
    shown = client.get(f"/admin/users/{user_id}", headers=desk["admin"]).get_json()
    assert (shown["base_lat"], shown["base_lon"]) == (body["base_lat"], body["base_lon"])

    moved = client.patch(f"/admin/users/{user_id}", headers=desk["admin"], json={
        "base_lat": float(bd["to_lat"]), "base_lon": float(bd["to_lon"]),
        "base_datum": "BD09"})
    assert moved.status_code == 200, moved.get_json()
    assert metres_from(moved.get_json(), bd) < 0.25  # BD-09's closed-form inverse
    plain = client.patch(f"/admin/users/{user_id}", headers=desk["admin"],
                         json={"base_lat": 22.5, "base_lon": 114.0})
    assert (plain.get_json()["base_lat"], plain.get_json()["base_lon"]) == (22.5, 114.0)
    cleared = client.patch(f"/admin/users/{user_id}", headers=desk["admin"],
                           json={"base_lat": None, "base_lon": None})
    assert (cleared.get_json()["base_lat"], cleared.get_json()["base_lon"]) == (None, None)
    without = client.post("/admin/users", headers=desk["admin"], json={
        "username": "wulei", "full_name": "Wu Lei", "role": "collector", "team_id": team.id,
        "password": "a long password"})
    assert without.status_code == 201, without.get_json()
    assert (without.get_json()["base_lat"], without.get_json()["base_lon"]) == (None, None)


@pytest.mark.parametrize("body, field", [
    ({"base_lat": 22.5}, "base_lon"),
    ({"base_lon": 114.0}, "base_lat"),
    ({"base_lat": 22.5, "base_lon": None}, "base_lon"),
    ({"base_lat": 91.0, "base_lon": 114.0}, "base_lat"),
    ({"base_lat": 22.5, "base_lon": -181.0}, "base_lon"),
    ({"base_datum": "GCJ02"}, "base_datum"),
    ({"base_lat": 22.5, "base_lon": 114.0, "base_datum": "ITRF"}, "base_datum"),
])
def test_a_bad_base_is_a_422_naming_the_field_and_changes_nothing(client, desk, body, field):
    alice = desk["alice"]
    response = client.patch(f"/admin/users/{alice.id}", headers=desk["admin"], json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    db.session.expire_all()
    assert (db.session.get(User, alice.id).base_lat, db.session.get(User, alice.id).base_lon) == (
        NEAR)
    created = client.post("/admin/users", headers=desk["admin"], json={
        "username": "lina", "full_name": "Li Na", "role": "collector",
        "team_id": desk["team"].id, "password": "a long password", **body})
    assert created.status_code == 422
    assert field in created.get_json()["error"]["fields"]
