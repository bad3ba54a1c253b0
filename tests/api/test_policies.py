"""Compliance policies as data: admins create and version them, a case's lender and jurisdiction
choose one, phones receive them, and every field record keeps the version it was judged under,
so a later version never rewrites a past verdict."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from api.extensions import db
from api.models import PolicyVersion, VisitReport
from api.models.types import utcnow
from tests.field.test_field_work import HOME, report
from tests.sync.test_protocol import pull, pull_all


def push_visit(client, headers, case, address_id, *, start: str, client_time: datetime,
               mutation_id: int = 1) -> VisitReport:
    """One visit report through /sync/push, made on the phone at `client_time`."""
    payload = report(case.id, address_id, start=start, minutes=10)
    body = {"device_id": headers["X-Device-Id"], "mutations": [{
        "mutation_id": mutation_id, "type": "visit_report",
        "client_time": client_time.isoformat(), "payload": payload}]}
    response = client.post("/sync/push", headers=headers, json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["results"][0]["status"] == "applied"
    return db.session.get(VisitReport, payload["id"])


def home_of(case) -> int:
    return next(a.id for a in case.debtor.addresses if a.lender_ref == "A1")


def lender_case(world, collector, lender: str):
    case = world.case(collector=collector, lat=HOME[0], lon=HOME[1])
    case.lender = lender
    db.session.commit()
    return case


@pytest.mark.rule("visit_hours", preset="CN")
def test_a_lenders_policy_governs_its_cases_and_each_record_names_the_version(world, client):
    admin = world.login(world.user("admin"))
    created = client.post("/policies", headers=admin, json={
        "name": "acme-cn", "jurisdiction": "CN", "lender": "acme",
        "description": "Acme Bank: no visits after 21:00",
        "rules": {"visit_hours_end": "21:00"}})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["current"]["version"] == 1
    assert body["current"]["rules"]["visit_hours_end"] == "21:00"
    assert body["current"]["rules"]["min_collectors_per_visit"] == 2  # the rest: CN preset

    team = world.team()
    alice = world.user("collector", team)
    acme, other = lender_case(world, alice, "acme"), lender_case(world, alice, "zenith")
    said = client.get(f"/cases/{acme.id}/policy", headers=admin).get_json()
    assert (said["chosen_by"], said["policy"], said["version"]) == ("lender", "acme-cn", 1)
    said = client.get(f"/cases/{other.id}/policy", headers=admin).get_json()
    assert (said["chosen_by"], said["policy"]) == ("jurisdiction", "cn-default")

    phone = world.login(alice)
    now = utcnow()
    late = "2026-11-20T21:30:00+08:00"  # inside CN's 22:00, outside Acme's 21:00
    at_acme = push_visit(client, phone, acme, home_of(acme), start=late, client_time=now)
    at_other = push_visit(client, phone, other, home_of(other), start=late, client_time=now,
                          mutation_id=2)
    assert "outside_visit_hours" in at_acme.flags and at_acme.policy_ref == "acme-cn@1"
    assert "outside_visit_hours" not in at_other.flags
    assert at_other.policy_ref == "cn-default@1"
    boss = world.login(world.user("supervisor", team))
    read = client.get(f"/visits/{at_acme.id}", headers=boss).get_json()
    assert read["policy_ref"] == "acme-cn@1"


@pytest.mark.rule("visit_hours", preset="CN")
def test_a_new_version_takes_effect_at_its_time_and_leaves_past_verdicts_alone(world, client):
    admin = world.login(world.user("admin"))
    policies = client.get("/policies", query_string={"jurisdiction": "CN"}, headers=admin)
    cn = policies.get_json()["items"][0]
    assert (cn["name"], cn["current"]["version"]) == ("cn-default", 1)
    soon = utcnow() + timedelta(seconds=2)
    added = client.post(f"/policies/{cn['id']}/versions", headers=admin, json={
        "rules": {"visit_hours_end": "21:00"}, "effective_from": soon.isoformat(),
        "note": "lender asked for 21:00"})
    assert added.status_code == 201, added.get_json()
    assert added.get_json()["version"] == 2
    # Nothing may be scheduled before it: it would be overtaken, its change dropped.
    earlier = client.post(f"/policies/{cn['id']}/versions", headers=admin, json={
        "rules": {"visit_hours_end": "20:00"}, "effective_from": utcnow().isoformat()})
    assert earlier.status_code == 409 and "effective_from" in earlier.get_json()["error"]["fields"]

    alice = world.user("collector")
    case = world.case(collector=alice, lat=HOME[0], lon=HOME[1])
    phone = world.login(alice)
    late = "2026-11-20T21:30:00+08:00"
    before = push_visit(client, phone, case, home_of(case), start=late, client_time=utcnow())
    # A phone whose clock runs ahead cannot choose a version not yet in effect.
    ahead = push_visit(client, phone, case, home_of(case), start=late,
                       client_time=soon + timedelta(hours=1), mutation_id=2)
    assert (before.policy_ref, "outside_visit_hours" in before.flags) == ("cn-default@1", False)
    assert (ahead.policy_ref, "outside_visit_hours" in ahead.flags) == ("cn-default@1", False)
    said = client.get(f"/cases/{case.id}/policy", headers=admin).get_json()
    assert said["version"] == 1 and said["rules"]["visit_hours_end"] == "22:00"

    time.sleep(max(0.0, (soon - utcnow()).total_seconds()) + 0.2)  # version 2 in effect
    after = push_visit(client, phone, case, home_of(case), start=late, client_time=utcnow(),
                       mutation_id=3)
    assert (after.policy_ref, "outside_visit_hours" in after.flags) == ("cn-default@2", True)
    assert client.get(f"/cases/{case.id}/policy", headers=admin).get_json()["version"] == 2
    # The earlier verdicts were not re-judged under version 2.
    db.session.expire_all()
    for earlier_report in (before, ahead):
        kept = db.session.get(VisitReport, earlier_report.id)
        assert "outside_visit_hours" not in kept.flags and kept.policy_ref == "cn-default@1"


def test_bad_policy_input_names_the_field_and_saves_nothing(world, client):
    admin = world.login(world.user("admin"))
    cn_id = client.get("/policies", headers=admin).get_json()["items"][0]["id"]
    versions = db.session.scalar(select(func.count()).select_from(PolicyVersion))
    cases = [
        ({"effective_from": (utcnow() - timedelta(hours=1)).isoformat()}, "effective_from"),
        ({"rules": {"visit_hours_end": "07:00"}}, "rules.visit_hours_end"),
        ({"rules": {"visit_hours_start": "25:99"}}, "rules.visit_hours_start"),
        ({"rules": {"contact_hours_start": "21:00", "contact_hours_end": "09:00"}},
         "rules.contact_hours_end"),
        ({"rules": {"default_timezone": "Mars/Olympus"}}, "rules.default_timezone"),
        ({"rules": {"daily_attempt_cap": -1}}, "rules.daily_attempt_cap"),
        ({"rules": {"no_such_rule": 1}}, "rules.no_such_rule"),
        ({"effective_from": "3000-01-01T00:00:00Z"}, "effective_from"),
    ]
    for body, field in cases:
        response = client.post(f"/policies/{cn_id}/versions", headers=admin, json=body)
        assert response.status_code == 422, (body, response.get_json())
        assert field in response.get_json()["error"]["fields"], (body, response.get_json())
    taken = client.post("/policies", headers=admin,
                        json={"name": "cn-default", "jurisdiction": "IN", "lender": "x"})
    assert taken.status_code == 409 and "name" in taken.get_json()["error"]["fields"]
    twice = client.post("/policies", headers=admin,
                        json={"name": "another", "jurisdiction": "CN"})  # CN "*" exists
    assert twice.status_code == 409 and "lender" in twice.get_json()["error"]["fields"]
    unknown = client.post("/policies", headers=admin, json={"name": "xx", "jurisdiction": "XX"})
    assert unknown.status_code == 422 and "jurisdiction" in unknown.get_json()["error"]["fields"]
    assert client.get("/policies/999999", headers=admin).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(PolicyVersion)) == versions


def test_holding_a_case_to_a_policy_of_its_own_jurisdiction_only(world, client):
    admin = world.login(world.user("admin"))
    items = client.get("/policies", headers=admin).get_json()["items"]
    by_name = {p["name"]: p["id"] for p in items}
    assert set(by_name) >= {"cn-default", "us-fdcpa", "in-rbi"}
    case = world.case()
    wrong = client.put(f"/cases/{case.id}/policy", headers=admin,
                       json={"policy_id": by_name["us-fdcpa"]})
    assert wrong.status_code == 422 and "policy_id" in wrong.get_json()["error"]["fields"]
    missing = client.put(f"/cases/{case.id}/policy", headers=admin, json={"policy_id": 999999})
    assert missing.status_code == 422
    strict = client.post("/policies", headers=admin, json={
        "name": "cn-strict", "jurisdiction": "CN", "lender": "strict-bank",
        "rules": {"visit_hours_end": "20:00"}}).get_json()
    held = client.put(f"/cases/{case.id}/policy", headers=admin, json={"policy_id": strict["id"]})
    assert held.status_code == 200, held.get_json()
    assert (held.get_json()["chosen_by"], held.get_json()["policy"]) == ("case", "cn-strict")
    back = client.put(f"/cases/{case.id}/policy", headers=admin, json={"policy_id": None})
    assert back.get_json()["policy"] == "cn-default"


def test_who_may_read_and_change_policies(world, client):
    team = world.team()
    collector = world.login(world.user("collector", team))
    supervisor = world.login(world.user("supervisor", team))
    legal = world.login(world.user("legal"))
    theirs = world.case(collector=world.user("collector"))
    assert client.get("/policies", headers=collector).status_code == 403
    for reader in (supervisor, legal):
        assert client.get("/policies", headers=reader).status_code == 200
        assert client.post("/policies", headers=reader,
                           json={"name": "mine", "jurisdiction": "IN"}).status_code == 403
        assert client.post("/policies/1/versions", headers=reader, json={}).status_code == 403
    # Another team's case is not found, whatever it is held to.
    assert client.get(f"/cases/{theirs.id}/policy", headers=supervisor).status_code == 404
    assert client.get(f"/cases/{theirs.id}/policy", headers=collector).status_code == 404
    assert client.put(f"/cases/{theirs.id}/policy", headers=supervisor,
                      json={"policy_id": None}).status_code == 403


def test_phones_carry_the_policies_and_each_case_says_which_applies(world, client):
    admin = world.login(world.user("admin"))
    alice = world.user("collector")
    case = lender_case(world, alice, "acme")
    phone = world.login(alice)
    changes, cursor = pull_all(client, phone)
    first = pull(client, phone)  # a bootstrap carries the reference data
    reference = first["reference"]
    names = {p["name"]: p for p in reference["policies"]}
    assert set(names) >= {"cn-default", "us-fdcpa", "in-rbi"}
    assert names["us-fdcpa"]["versions"][0]["rules"]["visit_hours_end"] == "21:00"
    doc = next(c["data"] for c in changes if c["entity"] == "case" and c["id"] == case.id)
    assert (doc["lender"], doc["jurisdiction"], doc["policy_id"]) == ("acme", "CN", None)

    # A scheduled version reaches the phone before it takes effect: the reference changes.
    cn_id = names["cn-default"]["id"]
    soon = datetime.now(UTC) + timedelta(days=1)
    client.post(f"/policies/{cn_id}/versions", headers=admin,
                json={"rules": {"contact_hours_end": "20:00"}, "effective_from": soon.isoformat()})
    again = pull(client, phone, cursor, ref_version=reference["version"])
    assert again["reference"]["version"] != reference["version"]
    cn = next(p for p in again["reference"]["policies"] if p["name"] == "cn-default")
    assert [v["version"] for v in cn["versions"]] == [1, 2]
    assert cn["versions"][1]["rules"]["contact_hours_end"] == "20:00"
    same = pull(client, phone, again["cursor"], ref_version=again["reference"]["version"])
    assert "reference" not in same or same["reference"] is None


def test_an_import_sets_the_lender_and_jurisdiction_that_choose_the_policy(world, client):
    from api.models import Case

    admin = world.login(world.user("admin"))
    document = {"format": "fieldvisit.cases.v1", "as_of": "2026-11-21", "cases": [{
        "contract_no": f"US-{uuid.uuid4().hex[:8]}", "product": "consumer_loan",
        "currency": "USD", "principal_fen": 500000, "lender": "midwest-credit",
        "jurisdiction": "US",
        "debtor": {"ref": "US-D1", "name": "Pat Doe", "national_id": "11010519491231002X",
                   "timezone": "America/Chicago"},
    }]}
    response = client.post("/imports", headers=admin, json=document,
                           query_string={"kind": "cases"})
    assert response.status_code in (200, 201), response.get_json()
    case = db.session.scalar(select(Case).where(
        Case.contract_no == document["cases"][0]["contract_no"]))
    assert (case.lender, case.jurisdiction) == ("midwest-credit", "US")
    said = client.get(f"/cases/{case.id}/policy", headers=admin).get_json()
    assert (said["policy"], said["rules"]["visit_hours_end"]) == ("us-fdcpa", "21:00")
    bad = {**document, "cases": [{**document["cases"][0], "jurisdiction": "FR"}]}
    rejected = client.post("/imports", headers=admin, json=bad,
                           query_string={"kind": "cases"}).get_json()
    assert "jurisdiction" in str(rejected)


@pytest.mark.rule("open_complaint_no_dispatch", preset="CN")
def test_every_refusal_is_kept_with_its_rule_and_policy_version(world, client):
    team = world.team()
    alice, bob = world.user("collector", team), world.user("collector", team)
    boss = world.login(world.user("supervisor", team))
    case = world.case(collector=alice)
    made = client.post("/complaints", headers=boss, json={
        "case_id": case.id, "received_at": "2026-11-20T10:00:00+08:00", "channel": "phone",
        "complainant": "debtor", "summary": "Called at night.", "category": "improper_hours"})
    assert made.status_code == 201, made.get_json()
    refused = client.put(f"/cases/{case.id}/assignment", headers=boss,
                         json={"collector_id": bob.id})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["rule"] == "open_complaint_no_dispatch"

    kept = client.get("/compliance/refusals", headers=boss).get_json()
    assert kept["page"]["total"] == 1
    row = kept["items"][0]
    assert (row["rule"], row["policy_ref"], row["operation"]) == (
        "open_complaint_no_dispatch", "cn-default@1", "PUT /cases/<int:case_id>/assignment")
    assert row["sentence"] == refused.get_json()["error"]["message"]
    assert row["team_id"] == team.id and row["fields"]
    # Nothing of the refused assignment was saved; the refusal was.
    db.session.expire_all()
    assert case.collector_id == alice.id

    other_boss = world.login(world.user("supervisor"))
    assert client.get("/compliance/refusals", headers=other_boss).get_json()["items"] == []
    legal = world.login(world.user("legal"))
    filtered = client.get("/compliance/refusals", headers=legal,
                          query_string={"rule": "collector_authorised"}).get_json()
    assert filtered["items"] == []
    assert client.get("/compliance/refusals", headers=legal).get_json()["page"]["total"] == 1
    assert client.get("/compliance/refusals", headers=world.login(alice)).status_code == 403
    bad = client.get("/compliance/refusals", headers=legal, query_string={"rule": "nope"})
    assert bad.status_code == 422 and "rule" in bad.get_json()["error"]["fields"]
