"""A supervisor hands hundreds of cases from one collector to another in one request: every
case moves (with its history and from phone to phone) or none does. And the queue of cases
nobody works."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from api.extensions import db
from api.models import Assignment, AuditEvent, Case, CaseStatus, PromiseStatus, SyncChange
from clients.device import DeviceClient, FlaskTransport
from tests.api.supervision_story import cases, device_of, promise, today_local, visit
from tests.factories import PASSWORD


@pytest.fixture
def branch(world):
    """Team A (supervisor, Alice and Bob, and Carol who has left) and team B (its supervisor
    and Dave); an administrator and legal staff."""
    a, b = world.team("A"), world.team("B")
    people = {
        "supervisor_a": world.user("supervisor", a),
        "alice": world.user("collector", a),
        "bob": world.user("collector", a),
        "carol": world.user("collector", a),
        "supervisor_b": world.user("supervisor", b),
        "dave": world.user("collector", b),
        "admin": world.user("admin"),
        "legal": world.user("legal"),
    }
    people["carol"].is_active = False
    db.session.commit()
    headers = {name: world.login(u) for name, u in people.items() if name != "carol"}
    return {"a": a, "b": b, "people": people, "headers": headers}


def assign(client, headers, case_ids, collector_id, **extra):
    return client.post("/assignments", headers=headers, json={
        "case_ids": case_ids, "collector_id": collector_id, "reason": "workload", **extra})


def holders(case_ids) -> set:
    db.session.expire_all()
    return set(db.session.execute(
        select(Case.team_id, Case.collector_id).where(Case.id.in_(case_ids))).all())


def history_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(Assignment))


def phone(tmp_path, client, user) -> DeviceClient:
    return DeviceClient(str(tmp_path / f"{user.username}.db"), FlaskTransport(client),
                        username=user.username, password=PASSWORD)


def test_three_hundred_cases_move_from_alices_phone_to_bobs_in_one_request(
        client, world, branch, tmp_path):
    p = branch["people"]
    moved = cases(world, 300, team=branch["a"], collector=p["alice"])
    kept = cases(world, 2, team=branch["a"], collector=p["alice"])
    ids = [c.id for c in moved]
    alice, bob = phone(tmp_path, client, p["alice"]), phone(tmp_path, client, p["bob"])
    assert alice.sync().ok and bob.sync().ok
    assert len(alice.cases()) == 302 and bob.cases() == {}

    response = assign(client, branch["headers"]["supervisor_a"], ids, p["bob"].id,
                      reason="Alice is on leave", reason_code="leave")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["assigned"], body["unchanged"]) == (300, 0)
    assert body["assigned_case_ids"] == ids and body["unchanged_case_ids"] == []
    assert (body["team_id"], body["collector_id"]) == (branch["a"].id, p["bob"].id)
    assert body["reason"] == "leave: Alice is on leave"

    pulled_by_alice, pulled_by_bob = alice.pull(), bob.pull()
    assert pulled_by_alice.removes == 300 and pulled_by_alice.puts == 0
    assert pulled_by_bob.puts == 300
    assert set(alice.cases()) == {c.id for c in kept}
    assert set(bob.cases()) == set(ids)
    assert bob.case(ids[0])["contract_no"] == moved[0].contract_no

    rows = db.session.scalars(select(Assignment).where(Assignment.case_id == ids[0])
                              .order_by(Assignment.id)).all()
    assert [(r.collector_id, r.ended_at is None) for r in rows] == [
        (p["alice"].id, False), (p["bob"].id, True)]
    assert rows[1].reason == "leave: Alice is on leave"
    assert rows[1].assigned_by_id == p["supervisor_a"].id

    # The same request again changes nothing: no history, nothing for the phones.
    before = (history_rows(), db.session.scalar(select(func.count()).select_from(SyncChange)))
    again = assign(client, branch["headers"]["supervisor_a"], ids, p["bob"].id).get_json()
    assert (again["assigned"], again["unchanged"], again["unchanged_case_ids"]) == (0, 300, ids)
    after = (history_rows(), db.session.scalar(select(func.count()).select_from(SyncChange)))
    assert after == before
    assert bob.pull().puts == 0


@pytest.mark.parametrize("offence", [
    "another_teams_case", "missing_case", "closed_case", "collector_of_another_team",
    "inactive_collector", "case_named_twice",
])
def test_one_bad_item_and_nothing_is_saved(client, world, branch, tmp_path, offence):
    p = branch["people"]
    good = cases(world, 20, team=branch["a"], collector=p["alice"])
    ids = [c.id for c in good]
    collector = p["bob"].id
    if offence == "another_teams_case":
        theirs = cases(world, 1, team=branch["b"], collector=p["dave"])[0]
        ids.insert(7, theirs.id)
        bad, field = [theirs.id], "case_ids"
    elif offence == "missing_case":
        ids.append(10**9)
        bad, field = [10**9], "case_ids"
    elif offence == "closed_case":
        settled = cases(world, 1, team=branch["a"], status=CaseStatus.SETTLED)[0]
        ids.append(settled.id)
        bad, field = [settled.id], "case_ids"
    elif offence == "collector_of_another_team":
        collector, bad, field = p["dave"].id, [], "collector_id"
    elif offence == "inactive_collector":
        collector, bad, field = p["carol"].id, [], "collector_id"
    else:
        ids.append(ids[3])
        bad, field = [ids[3]], "case_ids"
    alice = phone(tmp_path, client, p["alice"])
    assert alice.sync().ok
    rows_before = history_rows()

    response = assign(client, branch["headers"]["supervisor_a"], ids, collector)
    assert response.status_code in (403, 422), response.get_json()
    error = response.get_json()["error"]
    assert field in error["fields"], error
    for case_id in bad:
        assert str(case_id) in " ".join(error["fields"][field])
    assert holders([c.id for c in good]) == {(branch["a"].id, p["alice"].id)}
    assert history_rows() == rows_before
    pulled = alice.pull()
    assert (pulled.puts, pulled.removes) == (0, 0)


def test_every_offending_case_is_listed_at_once(client, world, branch):
    p = branch["people"]
    good = cases(world, 3, team=branch["a"], collector=p["alice"])
    theirs = cases(world, 2, team=branch["b"])
    closed = cases(world, 1, team=branch["a"], status=CaseStatus.WRITTEN_OFF)
    ids = [good[0].id, theirs[0].id, closed[0].id, good[1].id, theirs[1].id]
    response = assign(client, branch["headers"]["supervisor_a"], ids, p["bob"].id)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["message"].startswith("3 of 5 cases cannot be assigned")
    assert error["fields"]["case_ids"] == [
        f"no such case, or not yours to assign: {theirs[0].id}, {theirs[1].id}",
        f"settled or written off, cannot go to a collector: {closed[0].id}",
    ]


@pytest.mark.parametrize("actor, status", [
    ("alice", 403), ("legal", 403), ("supervisor_b", 422), ("supervisor_a", 200), ("admin", 200),
])
def test_who_may_bulk_assign_team_as_cases(client, world, branch, actor, status):
    """Team B's supervisor names team A's cases: they are not theirs to see, so the 422 names
    them as "no such case, or not yours" (a missing id reads the same: nothing leaks)."""
    p = branch["people"]
    ours = cases(world, 5, team=branch["a"], collector=p["alice"])
    target = p["dave"].id if actor == "supervisor_b" else p["bob"].id
    response = assign(client, branch["headers"][actor], [c.id for c in ours], target)
    assert response.status_code == status, response.get_json()
    expected = p["bob"].id if status == 200 else p["alice"].id
    assert holders([c.id for c in ours]) == {(branch["a"].id, expected)}
    if actor == "supervisor_b":
        assert "not yours to assign" in response.get_json()["error"]["fields"]["case_ids"][0]


def test_a_supervisor_cannot_move_cases_to_another_team(client, world, branch):
    p = branch["people"]
    ours = cases(world, 2, team=branch["a"], collector=p["alice"])
    response = assign(client, branch["headers"]["supervisor_a"], [c.id for c in ours], None,
                      team_id=branch["b"].id)
    assert response.status_code == 403
    assert response.get_json()["error"]["fields"] == {"team_id": ["not your team"]}
    response = assign(client, branch["headers"]["supervisor_a"], [c.id for c in ours],
                      p["dave"].id)
    assert response.status_code == 403
    assert response.get_json()["error"]["fields"] == {"collector_id": ["not your team"]}
    assert holders([c.id for c in ours]) == {(branch["a"].id, p["alice"].id)}


def test_an_administrator_moves_cases_between_teams(client, world, branch):
    p = branch["people"]
    moving = cases(world, 4, team=branch["a"], collector=p["alice"])
    ids = [c.id for c in moving]
    response = assign(client, branch["headers"]["admin"], ids, p["dave"].id,
                      reason="branch A closes", reason_code="other")
    assert response.status_code == 200, response.get_json()
    assert holders(ids) == {(branch["b"].id, p["dave"].id)}
    seen_by_b = client.get(f"/cases/{ids[0]}", headers=branch["headers"]["supervisor_b"])
    seen_by_a = client.get(f"/cases/{ids[0]}", headers=branch["headers"]["supervisor_a"])
    assert (seen_by_b.status_code, seen_by_a.status_code) == (200, 404)
    # Back to team A, nobody's: they wait in A's queue.
    response = assign(client, branch["headers"]["admin"], ids, None, team_id=branch["a"].id)
    assert response.status_code == 200
    assert holders(ids) == {(branch["a"].id, None)}
    queue = client.get("/assignments/queue", headers=branch["headers"]["supervisor_a"])
    assert {i["id"] for i in queue.get_json()["items"]} == set(ids)


def test_a_collector_for_the_wrong_team_or_an_unknown_team_names_the_field(client, world, branch):
    p = branch["people"]
    ours = cases(world, 1, team=branch["a"], collector=p["alice"])
    wrong = assign(client, branch["headers"]["admin"], [ours[0].id], p["dave"].id,
                   team_id=branch["a"].id)
    assert wrong.status_code == 422
    assert wrong.get_json()["error"]["fields"] == {"collector_id": ["not in the team"]}
    unknown = assign(client, branch["headers"]["admin"], [ours[0].id], None, team_id=10**9)
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["fields"] == {"team_id": ["no such team"]}


def test_request_shape_is_checked_before_anything_is_read(client, world, branch):
    p = branch["people"]
    headers = branch["headers"]["supervisor_a"]
    too_many = assign(client, headers, list(range(1, 1002)), p["bob"].id)
    assert too_many.status_code == 422 and "case_ids" in too_many.get_json()["error"]["fields"]
    empty = assign(client, headers, [], p["bob"].id)
    assert empty.status_code == 422 and "case_ids" in empty.get_json()["error"]["fields"]
    no_reason = client.post("/assignments", headers=headers,
                            json={"case_ids": [1], "collector_id": p["bob"].id})
    assert no_reason.get_json()["error"]["fields"] == {"reason": ["Missing data for required "
                                                                  "field."]}
    blank = assign(client, headers, [1], p["bob"].id, reason="   ")
    assert "reason" in blank.get_json()["error"]["fields"]
    code = assign(client, headers, [1], p["bob"].id, reason_code="whim")
    assert "reason_code" in code.get_json()["error"]["fields"]


def test_an_accepted_suggestion_names_a_real_rule(client, world, branch):
    p = branch["people"]
    ours = cases(world, 2, team=branch["a"])
    ids = [c.id for c in ours]
    headers = branch["headers"]["supervisor_a"]
    bogus = assign(client, headers, ids, p["bob"].id, reason="suggestion:gut_feeling")
    assert bogus.status_code == 422 and "reason" in bogus.get_json()["error"]["fields"]
    vague = assign(client, headers, ids, p["bob"].id, reason="looked good",
                   reason_code="suggestion")
    assert vague.status_code == 422
    accepted = assign(client, headers, ids, p["bob"].id, reason="suggestion:calls_failed",
                      reason_code="suggestion")
    assert accepted.status_code == 200
    assert accepted.get_json()["reason"] == "suggestion:calls_failed"
    db.session.expire_all()
    assert db.session.scalars(select(Assignment.reason).where(
        Assignment.case_id == ids[0], Assignment.ended_at.is_(None))).one() == (
        "suggestion:calls_failed")


def test_the_single_case_put_shares_the_rules(client, world, branch):
    """`PUT /cases/{id}/assignment` refuses what the bulk refuses, with the same fields."""
    p = branch["people"]
    case = cases(world, 1, team=branch["a"], collector=p["alice"])[0]
    headers = branch["headers"]["supervisor_a"]
    for collector, field in ((p["carol"].id, "collector_id"), (p["dave"].id, "collector_id")):
        single = client.put(f"/cases/{case.id}/assignment", headers=headers,
                            json={"collector_id": collector})
        bulk = assign(client, headers, [case.id], collector)
        assert single.status_code == bulk.status_code
        assert single.get_json()["error"]["fields"] == bulk.get_json()["error"]["fields"]
        assert field in single.get_json()["error"]["fields"]
    closed = cases(world, 1, team=branch["a"], status=CaseStatus.SETTLED)[0]
    single = client.put(f"/cases/{closed.id}/assignment", headers=headers,
                        json={"collector_id": p["bob"].id})
    assert single.status_code == 422
    assert single.get_json()["error"]["fields"] == {"collector_id": ["case is closed"]}
    ok = client.put(f"/cases/{case.id}/assignment", headers=headers,
                    json={"collector_id": p["bob"].id, "reason": "nearer"})
    assert ok.status_code == 200
    assert ok.get_json()["assignments"][-1]["reason"] == "nearer"


# --------------------------------------------------------------------------- the queue


def queue(client, headers, **params):
    response = client.get("/assignments/queue", headers=headers, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_queue_is_open_cases_nobody_works_most_urgent_first(client, world, branch):
    p = branch["people"]
    a = branch["a"]
    m1 = cases(world, 1, team=a, days_past_due=20)[0]
    m2_small = cases(world, 1, team=a, days_past_due=40)[0]
    m2_late = cases(world, 1, team=a, days_past_due=55)[0]
    m2_broken = cases(world, 1, team=a, days_past_due=35)[0]
    m3_plus = cases(world, 1, team=a, days_past_due=120)[0]
    stranded = cases(world, 1, team=a, collector=p["carol"], days_past_due=25)[0]
    cases(world, 1, team=a, collector=p["alice"], days_past_due=200)  # worked: not queued
    cases(world, 1, team=a, days_past_due=300, status=CaseStatus.SETTLED)  # closed
    cases(world, 1, team=branch["b"], days_past_due=90)  # another team's
    device = device_of(p["alice"])
    promise(m2_broken, p["alice"], device, today_local(), status=PromiseStatus.BROKEN)
    visit(m2_late, p["alice"], device, today_local())

    body = queue(client, branch["headers"]["supervisor_a"])
    order = [i["id"] for i in body["items"]]
    assert order == [m3_plus.id, m2_broken.id, m2_late.id, m2_small.id, stranded.id, m1.id]
    assert body["page"]["total"] == 6
    by_id = {i["id"]: i for i in body["items"]}
    assert by_id[stranded.id]["holder_inactive"] is True
    assert by_id[stranded.id]["collector_id"] == p["carol"].id
    assert by_id[m2_broken.id]["promise_broken"] is True
    assert by_id[m2_late.id]["last_visit_on"] == today_local().isoformat()
    assert by_id[m1.id]["debtor_name"] == m1.debtor.name

    page2 = queue(client, branch["headers"]["supervisor_a"], page=2, page_size=4)
    assert [i["id"] for i in page2["items"]] == order[4:]
    only_m2 = queue(client, branch["headers"]["supervisor_a"], bucket=["M2"])
    assert [i["id"] for i in only_m2["items"]] == [m2_broken.id, m2_late.id, m2_small.id]
    admin_a = queue(client, branch["headers"]["admin"], team_id=a.id)
    assert [i["id"] for i in admin_a["items"]] == order
    assert queue(client, branch["headers"]["admin"])["page"]["total"] == 7


def test_the_queue_is_audited_and_kept_to_the_team(client, world, branch):
    p = branch["people"]
    waiting = cases(world, 2, team=branch["a"])
    body = queue(client, branch["headers"]["supervisor_a"])
    row = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "assignment.queue")).one()
    assert set(json.loads(row.detail)["case_ids"]) == {c.id for c in waiting}
    assert row.actor_id == p["supervisor_a"].id
    assert len(body["items"]) == 2
    other = client.get("/assignments/queue", headers=branch["headers"]["supervisor_a"],
                       query_string={"team_id": branch["b"].id})
    assert other.status_code == 403
    assert queue(client, branch["headers"]["supervisor_b"])["items"] == []
    for role in ("alice", "legal"):
        assert client.get("/assignments/queue",
                          headers=branch["headers"][role]).status_code == 403
