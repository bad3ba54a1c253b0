"""Complaints through the API: recorded, assigned, noted and closed by supervisors for their
team's cases and by legal staff and administrators for all; never seen by collectors or by
another team; every read audited. While one is open or assigned, nobody is sent to the case
(`open_complaint_no_dispatch`: assignment, bulk assignment, plan); closing it lifts the block."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from api.extensions import db
from api.models import AuditEvent, Case, RoutePlan
from api.services.compliance.presets import PRESETS
from tests.api.test_routes import SHENZHEN, based, near, tomorrow

NOT_FOUND = 2**31 - 1


@pytest.fixture
def office(world):
    """Two teams, each a supervisor, a collector and cases; legal staff and an admin."""
    ours, theirs = world.team(), world.team()
    alice, bob = based(world, ours), based(world, ours)
    carol = based(world, theirs)
    cases = [world.case(collector=alice, lat=p[0], lon=p[1])
             for p in (near(SHENZHEN, *o) for o in [(1, 0), (0, 2)])]
    return {
        "ours": ours, "theirs": theirs, "alice": alice, "bob": bob, "cases": cases,
        "their_case": world.case(collector=carol),
        "boss_user": (boss := world.user("supervisor", ours)),
        "boss": world.login(boss),
        "their_boss": world.login(world.user("supervisor", theirs)),
        "alice_phone": world.login(alice),
        "legal_user": (legal := world.user("legal")),
        "legal": world.login(legal),
        "admin": world.login(world.user("admin")),
    }


def complaint(case, **changes) -> dict:
    return {"case_id": case.id, "received_at": "2026-11-20T10:00:00+08:00", "channel": "phone",
            "complainant": "debtor", "summary": "The collector called me at 23:10.",
            "category": "improper_hours", **changes}


def record(client, headers, case, **changes):
    response = client.post("/complaints", headers=headers, json=complaint(case, **changes))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def audited(action: str) -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


# ----------------------------------------------------------------------------- by role


@pytest.mark.rule("open_complaint_no_dispatch", preset="CN")
def test_complaints_are_handled_by_supervisors_legal_and_admins_never_collectors(
        client, office):
    case = office["cases"][0]
    mine = record(client, office["boss"], case)
    assert (mine["status"], mine["team_id"], mine["notes"]) == ("open", office["ours"].id, [])
    theirs = record(client, office["their_boss"], office["their_case"])

    for method, url in [("post", "/complaints"), ("get", "/complaints"),
                        ("get", f"/complaints/{mine['id']}"),
                        ("patch", f"/complaints/{mine['id']}")]:
        response = getattr(client, method)(url, headers=office["alice_phone"],
                                           json=complaint(case) if method == "post" else {})
        assert response.status_code == 403, (method, url)

    listed = client.get("/complaints", headers=office["boss"]).get_json()
    assert [c["id"] for c in listed["items"]] == [mine["id"]]
    assert client.get(f"/complaints/{theirs['id']}", headers=office["boss"]).status_code == 404
    assert client.patch(f"/complaints/{theirs['id']}", headers=office["boss"],
                        json={"note": "mine now"}).status_code == 404
    assert client.get(f"/complaints?team_id={office['theirs'].id}",
                      headers=office["boss"]).status_code == 403
    refused = client.post("/complaints", headers=office["boss"],
                          json=complaint(office["their_case"]))
    assert refused.status_code == 422 and "case_id" in refused.get_json()["error"]["fields"]
    for everyone in ("legal", "admin"):
        seen = client.get("/complaints", headers=office[everyone]).get_json()
        assert {c["id"] for c in seen["items"]} == {mine["id"], theirs["id"]}
        assert client.get(f"/complaints/{theirs['id']}", headers=office[everyone]).status_code \
            == 200
    only_theirs = client.get(f"/complaints?team_id={office['theirs'].id}",
                             headers=office["legal"]).get_json()
    assert [c["id"] for c in only_theirs["items"]] == [theirs["id"]]
    assert only_theirs["page"]["total"] == 1
    assert client.get(f"/complaints/{NOT_FOUND}", headers=office["admin"]).status_code == 404
    assert len(audited("complaint.read")) == 2  # legal's and the admin's; a 404 reads nothing
    assert len(audited("complaint.list")) == 4


def test_a_complaint_is_assigned_noted_and_closed_then_final(client, office):
    case = office["cases"][0]
    made = record(client, office["boss"], case)
    url = f"/complaints/{made['id']}"
    wrong = client.patch(url, headers=office["boss"],
                         json={"assignee_id": office["alice"].id})
    assert wrong.status_code == 422 and "assignee_id" in wrong.get_json()["error"]["fields"]
    assigned = client.patch(url, headers=office["boss"], json={
        "assignee_id": office["legal_user"].id, "note": "Called the debtor back."})
    assert assigned.status_code == 200, assigned.get_json()
    body = assigned.get_json()
    assert (body["status"], body["assignee_id"]) == ("assigned", office["legal_user"].id)
    assert [n["text"] for n in body["notes"]] == ["Called the debtor back."]
    for bad, field in [({"status": "closed"}, "outcome"), ({"outcome": "done"}, "outcome"),
                       ({"status": "open"}, "status")]:
        response = client.patch(url, headers=office["legal"], json=bad)
        assert response.status_code == 422, response.get_json()
        assert field in response.get_json()["error"]["fields"]
    closed = client.patch(url, headers=office["legal"], json={
        "status": "closed", "outcome": "Apology sent; collector retrained.", "note": "Done."})
    assert closed.status_code == 200, closed.get_json()
    body = closed.get_json()
    assert body["status"] == "closed" and body["closed_at"] is not None
    assert body["closed_by_id"] == office["legal_user"].id
    assert [n["text"] for n in body["notes"]] == ["Called the debtor back.", "Done."]
    final = client.patch(url, headers=office["admin"], json={"note": "late"})
    assert final.status_code == 409 and final.get_json()["error"]["code"] == "complaint_closed"


@pytest.mark.parametrize("changes, field", [
    ({"complainant": "contact"}, "contact_id"),
    ({"complainant": "other"}, "complainant_name"),
    ({"complainant": "debtor", "contact_id": 1}, "contact_id"),
    ({"received_at": "2099-01-01T00:00:00+08:00"}, "received_at"),
    ({"received_at": "2026-11-20T10:00:00"}, "received_at"),
    ({"channel": "pigeon"}, "channel"),
    ({"summary": ""}, "summary"),
    ({"case_id": NOT_FOUND}, "case_id"),
])
def test_a_bad_complaint_is_a_422_naming_the_field_and_saves_nothing(
        client, office, changes, field):
    response = client.post("/complaints", headers=office["boss"],
                           json=complaint(office["cases"][0], **changes))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert client.get("/complaints", headers=office["admin"]).get_json()["items"] == []


def test_a_contacts_complaint_names_a_contact_of_the_case_s_debtor(client, office):
    case = db.session.get(Case, office["cases"][0].id)
    other = db.session.get(Case, office["their_case"].id)
    foreign = client.post("/complaints", headers=office["admin"], json=complaint(
        case, complainant="contact", contact_id=other.debtor.contacts[0].id))
    assert foreign.status_code == 422 and "contact_id" in foreign.get_json()["error"]["fields"]
    made = record(client, office["admin"], case, complainant="contact",
                  contact_id=case.debtor.contacts[0].id)
    assert made["contact_id"] == case.debtor.contacts[0].id


# ----------------------------------------------------------------------------- dispatch


def holder_of(case) -> int | None:
    db.session.expire_all()
    return db.session.get(Case, case.id).collector_id


@pytest.mark.rule("open_complaint_no_dispatch", preset="CN")
def test_an_open_complaint_stops_dispatch_until_it_is_closed(client, office):
    first, second = office["cases"]
    bob = office["bob"]
    made = record(client, office["boss"], first)
    refused = client.put(f"/cases/{first.id}/assignment", headers=office["boss"],
                         json={"collector_id": bob.id})
    assert refused.status_code == 422, refused.get_json()
    error = refused.get_json()["error"]
    assert (error["code"], error["rule"], error["policy"]) == (
        "rule_breach", "open_complaint_no_dispatch", "cn-default")
    assert error["policy_version"] == 1
    assert error["message"] == (
        f"Case {first.contract_no} has an open complaint (no. {made['id']}, received "
        "2026-11-20): nobody may be sent until it is closed.")
    assert error["fields"] == {"case_id": [error["message"]]}

    bulk = client.post("/assignments", headers=office["boss"], json={
        "case_ids": [second.id, first.id], "collector_id": bob.id, "reason": "cover"})
    assert bulk.status_code == 422
    assert bulk.get_json()["error"]["rule"] == "open_complaint_no_dispatch"
    assert bulk.get_json()["error"]["fields"]["case_ids"] == [f"{error['message']} (case "
                                                              f"{first.id})"]
    assert (holder_of(first), holder_of(second)) == (office["alice"].id,) * 2

    plan = client.post("/routes", headers=office["boss"], json={
        "collector_id": office["alice"].id, "day": tomorrow().isoformat(),
        "case_ids": [second.id, first.id]})
    assert plan.status_code == 422 and plan.get_json()["error"]["rule"] == \
        "open_complaint_no_dispatch"
    assert set(plan.get_json()["error"]["fields"]) == {"case_ids.1"}
    assert db.session.scalar(select(RoutePlan.id)) is None

    queued = client.put(f"/cases/{first.id}/assignment", headers=office["boss"],
                        json={"collector_id": None})
    assert queued.status_code == 200  # back to the team's queue is no dispatch

    # Assigned to a handler it still blocks; closed, it does not.
    client.patch(f"/complaints/{made['id']}", headers=office["boss"],
                 json={"assignee_id": office["boss_user"].id})
    assert client.put(f"/cases/{first.id}/assignment", headers=office["boss"],
                      json={"collector_id": bob.id}).status_code == 422
    closed = client.patch(f"/complaints/{made['id']}", headers=office["boss"],
                          json={"status": "closed", "outcome": "Debtor satisfied."})
    assert closed.status_code == 200
    lifted = client.put(f"/cases/{first.id}/assignment", headers=office["boss"],
                        json={"collector_id": bob.id})
    assert lifted.status_code == 200, lifted.get_json()
    assert holder_of(first) == bob.id


@pytest.mark.rule("open_complaint_no_dispatch", preset="CN")
def test_a_policy_that_does_not_block_on_complaints_lets_the_case_be_sent(
        client, office, use_policy):
    version = use_policy(dataclasses.replace(PRESETS["CN"], block_dispatch_on_open_complaint=False))
    assert version.block_dispatch_on_open_complaint is False
    case = office["cases"][0]
    record(client, office["boss"], case)
    response = client.put(f"/cases/{case.id}/assignment", headers=office["boss"],
                          json={"collector_id": office["bob"].id})
    assert response.status_code == 200, response.get_json()


@pytest.mark.rule("open_complaint_no_dispatch", preset="CN")
def test_suggestions_send_nobody_to_a_case_with_an_open_complaint(client, office):
    case = office["cases"][0]
    made = record(client, office["boss"], case)
    items = client.get("/assignments/suggestions", headers=office["boss"]).get_json()["items"]
    item = next(i for i in items if i["case_id"] == case.id)
    assert item["suggested_collector"] is None and item["candidates"] == []
    assert f"open complaint (no. {made['id']}" in item["dispatch_blocked"]
    other = next(i for i in items if i["case_id"] == office["cases"][1].id)
    assert other["suggested_collector"]["collector_id"] == office["alice"].id
