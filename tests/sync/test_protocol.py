"""The sync protocol, request by request, as a phone sees it."""

import gzip
import json
import uuid

import pytest
from sqlalchemy import func, select

from api.extensions import db
from api.models import ContactAttempt, DeviceMutation


def pull(client, headers, cursor=None, **params):
    query = {"cursor": cursor, **params} if cursor else params
    response = client.get("/sync/pull", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def pull_all(client, headers, cursor=None, **params):
    """Follow pages until has_more is false; returns (changes, cursor)."""
    changes = []
    while True:
        page = pull(client, headers, cursor, **params)
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return changes, cursor


def push(client, headers, mutations):
    return client.post(
        "/sync/push",
        headers=headers,
        json={"device_id": headers["X-Device-Id"], "mutations": mutations},
    )


def attempt(mutation_id, case_id, **payload):
    return {
        "mutation_id": mutation_id,
        "type": "contact_attempt",
        "client_time": "2026-11-20T10:00:00+08:00",
        "payload": {
            "id": str(uuid.uuid4()),
            "case_id": case_id,
            "channel": "call",
            "outcome": "no_answer",
            "occurred_at": "2026-11-20T10:00:00+08:00",
            **payload,
        },
    }


@pytest.fixture
def team(world):
    team = world.team()
    alice, bob = world.user("collector", team), world.user("collector", team)
    supervisor = world.user("supervisor", team)
    return {
        "team": team,
        "alice": alice,
        "bob": bob,
        "alice_phone": world.login(alice),
        "bob_phone": world.login(bob),
        "supervisor": world.login(supervisor),
    }


def test_bootstrap_carries_exactly_the_assigned_cases(client, world, team):
    mine = [world.case(collector=team["alice"]) for _ in range(3)]
    world.case(collector=team["bob"])
    changes, _ = pull_all(client, team["alice_phone"], limit=2)
    assert sorted(c["id"] for c in changes) == sorted(c.id for c in mine)
    doc = changes[0]["data"]
    assert doc["debtor"]["masked"] is False and len(doc["debtor"]["national_id"]) == 18
    assert doc["schedule"] and doc["collateral"][0]["vin"] == "LSJA24U62JG269225"
    first = pull(client, team["alice_phone"])
    assert first["bootstrap"] is True and "contact_outcomes" in first["reference"]


def test_a_pull_with_nothing_new_is_tiny(client, world, team):
    world.case(collector=team["alice"])
    version = pull(client, team["alice_phone"])["reference"]["version"]
    _, cursor = pull_all(client, team["alice_phone"])
    response = client.get(
        "/sync/pull",
        query_string={"cursor": cursor, "ref_version": version},
        headers={**team["alice_phone"], "Accept-Encoding": "gzip"},
    )
    assert response.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(response.data))
    assert body["changes"] == [] and body["has_more"] is False and "reference" not in body
    assert len(response.data) < 1024


def test_reassignment_moves_the_case_between_phones(client, world, team):
    case = world.case(collector=team["alice"])
    _, alice_cursor = pull_all(client, team["alice_phone"])
    _, bob_cursor = pull_all(client, team["bob_phone"])
    response = client.put(
        f"/cases/{case.id}/assignment",
        headers=team["supervisor"],
        json={"collector_id": team["bob"].id},
    )
    assert response.status_code == 200
    alice_changes, _ = pull_all(client, team["alice_phone"], alice_cursor)
    bob_changes, _ = pull_all(client, team["bob_phone"], bob_cursor)
    assert alice_changes == [{"op": "remove", "entity": "case", "id": case.id}]
    assert [(c["op"], c["id"]) for c in bob_changes] == [("put", case.id)]


def test_push_is_exactly_once(client, world, team):
    case = world.case(collector=team["alice"])
    phone = team["alice_phone"]
    first = attempt(1, case.id)
    response = push(client, phone, [first, attempt(2, case.id, outcome="connected")])
    assert response.status_code == 200
    assert [r["status"] for r in response.get_json()["results"]] == ["applied", "applied"]
    # The answer was lost; the phone sends the same batch again, and a third time.
    for _ in range(2):
        again = push(client, phone, [first, attempt(2, case.id)]).get_json()
        assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"]
        assert again["last_mutation_id"] == 2
    assert db.session.scalar(select(func.count()).select_from(ContactAttempt)) == 2
    # The attempts show on the phone at the next pull.
    changes, _ = pull_all(client, phone)
    assert len(changes[0]["data"]["recent_contacts"]) == 2


def test_a_gap_is_refused_and_nothing_after_it_applies(client, world, team):
    case = world.case(collector=team["alice"])
    body = push(client, team["alice_phone"], [attempt(2, case.id), attempt(3, case.id)]).get_json()
    assert [r["status"] for r in body["results"]] == ["gap", "not_applied"]
    assert body["results"][0]["expected_mutation_id"] == 1
    assert db.session.scalar(select(func.count()).select_from(ContactAttempt)) == 0


def test_a_business_refusal_still_advances(client, world, team):
    case = world.case(collector=team["alice"])
    bad = attempt(1, case.id, outcome="teleported")
    body = push(client, team["alice_phone"], [bad, attempt(2, case.id)]).get_json()
    assert [r["status"] for r in body["results"]] == ["rejected", "applied"]
    assert "payload.outcome" in body["results"][0]["fields"]
    assert body["last_mutation_id"] == 2
    ledger = db.session.scalars(
        select(DeviceMutation.status).order_by(DeviceMutation.mutation_id)
    ).all()
    assert ledger == ["rejected", "applied"]


def test_a_case_never_held_is_refused_like_a_missing_one(client, world, team):
    bobs = world.case(collector=team["bob"])
    body = push(client, team["alice_phone"], [attempt(1, bobs.id)]).get_json()
    assert body["results"][0]["status"] == "rejected"
    assert body["results"][0]["code"] == "not_found"


def test_work_on_a_case_reassigned_meanwhile_is_kept_and_flagged(client, world, team):
    case = world.case(collector=team["alice"])
    client.put(
        f"/cases/{case.id}/assignment",
        headers=team["supervisor"],
        json={"collector_id": team["bob"].id},
    )
    body = push(client, team["alice_phone"], [attempt(1, case.id)]).get_json()
    [result] = body["results"]
    assert result["status"] == "applied" and result["flags"] == ["case_reassigned"]
    stored = db.session.get(ContactAttempt, result["record_id"])
    assert stored.case_reassigned is True and stored.author_id == team["alice"].id


def test_push_for_another_device_is_forbidden(client, world, team):
    case = world.case(collector=team["alice"])
    response = client.post(
        "/sync/push",
        headers=team["alice_phone"],
        json={"device_id": str(uuid.uuid4()), "mutations": [attempt(1, case.id)]},
    )
    assert response.status_code == 403


@pytest.mark.parametrize("cursor", ["garbage", "WzEsMSwidTk5OSIsImRlbHRhIiwwLDAsMF0"])
def test_an_unusable_cursor_asks_for_a_reset(client, team, cursor):
    response = client.get(
        "/sync/pull", query_string={"cursor": cursor}, headers=team["alice_phone"]
    )
    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "sync_reset"


def test_only_collectors_sync(client, team):
    assert client.get("/sync/pull", headers=team["supervisor"]).status_code == 403


def test_a_cursor_older_than_the_kept_log_resets_and_nothing_is_lost(app, client, world, team):
    from api.commands.sync import command

    case = world.case(collector=team["alice"])
    _, stale = pull_all(client, team["alice_phone"])
    world.case(collector=team["alice"])  # more history after the phone's cursor
    _, fresh = pull_all(client, team["alice_phone"], stale)
    result = app.test_cli_runner().invoke(command, ["compact", "--keep", "0"])
    assert result.exit_code == 0 and "deleted" in result.output
    old = client.get("/sync/pull", query_string={"cursor": stale}, headers=team["alice_phone"])
    assert old.status_code == 410 and old.get_json()["error"]["code"] == "sync_reset"
    # A phone that had seen everything keeps going; a bootstrap brings every case back.
    assert pull(client, team["alice_phone"], fresh)["changes"] == []
    changes, _ = pull_all(client, team["alice_phone"])
    assert len(changes) == 2 and case.id in {c["id"] for c in changes}
