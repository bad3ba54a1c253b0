"""The reference device client against the real app: stories of phones in the field."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import itsdangerous
import pytest
from sqlalchemy import delete, func, select, update
from werkzeug.serving import make_server

from api.extensions import db
from api.models import (
    Case,
    CaseNote,
    ContactAttempt,
    Device,
    DeviceMutation,
    SyncChange,
)
from api.models.cases import CaseStatus
from api.models.sync import CaseDocument
from clients.device import DeviceClient, FlaskTransport, HttpTransport, NetworkError
from mobile_sync.compaction import compact
from mobile_sync.documents import open_document
from tests.factories import PASSWORD

CST = timezone(timedelta(hours=8))


class Killed(Exception):
    """Stands for the process dying: it escapes the client, which never catches it."""


class Scripted:
    """A transport that forwards to the app, and fails the way a test asks it to.

    `rules` is a list of (predicate(method, path, n), action): the n-th request (1-based) that
    matches runs `action`: "offline" (raise NetworkError, the server sees nothing), "lose"
    (the server answers, the answer is lost), "kill_before" / "kill_after" (the process dies
    before sending / after the server committed)."""

    def __init__(self, inner, rules=()):
        self.inner, self.rules, self.seen = inner, list(rules), []

    def request(self, method, path, **kwargs):
        self.seen.append((method, path))
        n = sum(1 for m, p in self.seen if (m, p) == (method, path))
        action = next((a for match, a in self.rules if match(method, path, n)), None)
        if action == "offline":
            raise NetworkError("no signal")
        if action == "kill_before":
            raise Killed(path)
        answer = self.inner.request(method, path, **kwargs)
        if action == "lose":
            raise NetworkError("connection reset")
        if action == "kill_after":
            raise Killed(path)
        return answer


class AppTransport(FlaskTransport):
    """The app through its test client. (Pulls on PostgreSQL wait only for transactions of
    this database, so other test workers and benchmarks cannot hold them back.)"""


def nth(method, path, n):
    return lambda m, p, k: (m, p, k) == (method, path, n)


def always(m, p, k):
    return True


def count(model, **where) -> int:
    stmt = select(func.count()).select_from(model).filter_by(**where)
    return db.session.scalar(stmt)


def server_document(app, case_id):
    row = db.session.get(CaseDocument, case_id)
    return json.loads(open_document(app.extensions["fieldvisit.pii"], row.sealed))


@pytest.fixture
def team(world):
    team = world.team()
    alice, bob = world.user("collector", team), world.user("collector", team)
    return {"alice": alice, "bob": bob, "supervisor": world.login(world.user("supervisor", team))}


@pytest.fixture
def phone(client, tmp_path):
    """phone(user, transport=None) -> the user's DeviceClient. Calling it again for the same
    user opens the same store file: that is how a test restarts a killed app."""

    def make(user, transport=None):
        name = user.username
        path = tmp_path / f"{name}.db"
        return DeviceClient(
            str(path),
            transport or AppTransport(client),
            username=user.username,
            password=PASSWORD,
            label=f"{name} phone",
        )

    return make


def attempt(case_id, when, outcome="no_answer"):
    return {
        "case_id": case_id,
        "channel": "visit_attempt",
        "outcome": outcome,
        "occurred_at": when.isoformat(),
    }


def test_two_days_offline_then_everything_arrives_once(app, world, team, phone):
    cases = [world.case(collector=team["alice"]) for _ in range(2)]
    alice = phone(team["alice"])
    assert alice.sync().ok and sorted(alice.cases()) == sorted(c.id for c in cases)
    assert "contact_outcomes" in alice.reference

    alice.transport = Scripted(alice.transport, [(always, "offline")])  # the mountains
    made = []
    for day in range(2):
        for hour in (9, 11, 14, 16):
            when = datetime(2026, 11, 20 + day, hour, tzinfo=CST)
            case = cases[hour % 2]
            made.append(alice.record("contact_attempt", attempt(case.id, when), client_time=when))
        made.append(
            alice.record(
                "case_note",
                {"case_id": cases[0].id, "text": f"day {day}"},
                client_time=datetime(2026, 11, 20 + day, 18, tzinfo=CST),
            )
        )
        report = alice.sync()
        assert report.push.stopped == "network" and report.pull.stopped == "network"
    assert [m for m, _ in made] == list(range(1, 11)) and alice.outbox_size() == 10

    alice.transport = alice.transport.inner  # back in town
    report = alice.sync(batch_size=4)
    assert report.ok and report.push.applied == 10 and report.push.requests == 3
    assert alice.outbox_size() == 0
    assert count(ContactAttempt) == 8 and count(CaseNote) == 2
    assert count(DeviceMutation, device_id=alice.device_id) == 10
    assert {r.status for r in alice.records()} == {"applied"}
    first = db.session.get(ContactAttempt, made[0][1])
    assert first.client_time == datetime(2026, 11, 20, 9, tzinfo=CST)
    # The pull after the push brings the phone's own work back inside the case documents.
    shown = {a["id"] for c in alice.cases().values() for a in c["recent_contacts"]}
    assert shown == {r.record_id for r in alice.records() if r.type == "contact_attempt"}
    assert alice.server_last_mutation_id == 10
    again = alice.sync()
    assert again.ok and again.pushed == 0 and again.pull.changes == 0


@pytest.mark.parametrize("moment", ["kill_after", "kill_before"])
def test_killed_mid_push_resumes_exactly_once(app, client, world, team, phone, moment):
    case = world.case(collector=team["alice"])
    alice = phone(team["alice"])
    alice.sync()
    for minute in range(5):
        when = datetime(2026, 11, 20, 10, minute, tzinfo=CST)
        alice.record("contact_attempt", attempt(case.id, when), client_time=when)
    alice.transport = Scripted(alice.transport, [(nth("POST", "/sync/push", 2), moment)])
    with pytest.raises(Killed):
        alice.push(batch_size=2)
    committed = 4 if moment == "kill_after" else 2
    assert count(ContactAttempt) == committed

    # The app starts again: a new client on the same store file.
    reborn = phone(team["alice"])
    assert reborn.device_id == alice.device_id and reborn.outbox_size() == 3
    report = reborn.sync(batch_size=2)
    assert report.ok and report.push.applied == 5 - committed
    assert report.push.duplicate == (2 if moment == "kill_after" else 0)
    assert reborn.outbox_size() == 0
    assert count(ContactAttempt) == 5
    assert count(DeviceMutation, device_id=alice.device_id) == 5
    assert {r.status for r in reborn.records()} == {"applied"}
    assert len(reborn.case(case.id)["recent_contacts"]) == 5


@pytest.mark.parametrize("moment", ["kill_before", "kill_after"])
def test_killed_between_pull_pages_resumes_consistently(app, world, team, phone, moment):
    cases = [world.case(collector=team["alice"]) for _ in range(5)]
    alice = phone(
        team["alice"],
        transport=Scripted(
            AppTransport(app.test_client()), [(nth("GET", "/sync/pull", 2), moment)]
        ),
    )
    with pytest.raises(Killed):
        alice.sync(page_limit=2)
    reborn = phone(team["alice"])
    # What the dead app left is one whole page with its cursor, never half of one.
    assert sorted(reborn.cases()) == [c.id for c in cases[:2]]
    report = reborn.sync(page_limit=2)
    assert report.ok and report.pull.pages == 2  # resumed at page 2, not a new bootstrap
    assert sorted(reborn.cases()) == [c.id for c in cases]

    # Killed in the middle of a delta too: a case moves away, two arrive.
    world.case(collector=team["bob"])
    news = [world.case(collector=team["alice"]) for _ in range(2)]
    client = app.test_client()
    client.put(
        f"/cases/{cases[0].id}/assignment",
        headers=team["supervisor"],
        json={"collector_id": team["bob"].id},
    )
    reborn.transport = Scripted(reborn.transport, [(nth("GET", "/sync/pull", 2), moment)])
    with pytest.raises(Killed):
        reborn.sync(page_limit=1)
    third = phone(team["alice"])
    assert third.sync(page_limit=1).ok
    held = third.cases()
    assert sorted(held) == sorted(c.id for c in cases[1:] + news)
    assert all(doc == server_document(app, case_id) for case_id, doc in held.items())


def test_a_reset_keeps_the_outbox(app, world, team, phone):
    case = world.case(collector=team["alice"])
    alice = phone(team["alice"])
    assert alice.sync().ok
    when = datetime(2026, 11, 21, 15, tzinfo=CST)
    alice.record("contact_attempt", attempt(case.id, when), client_time=when)
    alice.record("case_note", {"case_id": case.id, "text": "gate locked"}, client_time=when)
    newer = world.case(collector=team["alice"])
    # The change log was compacted up to its newest row, which this phone has not seen.
    (_tx, _seq), deleted = compact(db.session, keep_rows=0)
    db.session.commit()
    assert deleted > 0

    report = alice.pull()
    assert report.resets == 1 and report.complete
    assert sorted(alice.cases()) == sorted([case.id, newer.id])
    assert alice.outbox_size() == 2 and {r.status for r in alice.records()} == {"pending"}
    report = alice.sync()
    assert report.ok and report.push.applied == 2 and report.pull.resets == 0  # no reset loop
    assert count(ContactAttempt) == 1 and count(CaseNote) == 1


def test_reassignment_removes_the_case_but_keeps_unsent_work(app, client, world, team, phone):
    case, other = world.case(collector=team["alice"]), world.case(collector=team["alice"])
    alice, bob = phone(team["alice"]), phone(team["bob"])
    assert alice.sync().ok and bob.sync().ok and bob.cases() == {}
    when = datetime(2026, 11, 22, 10, tzinfo=CST)
    _, visit = alice.record(
        "contact_attempt", attempt(case.id, when, "nobody_home"), client_time=when
    )
    _, note = alice.record(
        "case_note", {"case_id": case.id, "text": "neighbour says moved"}, client_time=when
    )
    response = client.put(
        f"/cases/{case.id}/assignment",
        headers=team["supervisor"],
        json={"collector_id": team["bob"].id},
    )
    assert response.status_code == 200

    report = alice.sync()
    assert report.ok and report.push.applied == 2 and report.pull.removes == 1
    assert sorted(alice.cases()) == [other.id]
    kept = {r.record_id: r for r in alice.records()}
    assert kept[visit].status == "applied" and kept[visit].result["flags"] == ["case_reassigned"]
    assert db.session.get(ContactAttempt, visit).case_reassigned is True
    assert db.session.get(CaseNote, note).case_reassigned is True
    assert bob.sync().ok and sorted(bob.cases()) == [case.id]
    assert [a["id"] for a in bob.case(case.id)["recent_contacts"]] == [visit]


def test_a_server_that_lost_mutations_is_sent_them_again(app, world, team, phone):
    case = world.case(collector=team["alice"])
    alice = phone(team["alice"])
    for minute in range(3):
        when = datetime(2026, 11, 20, 10, minute, tzinfo=CST)
        alice.record("contact_attempt", attempt(case.id, when), client_time=when)
    assert alice.sync().push.applied == 3 and alice.outbox_size() == 0
    # The server is restored from a backup taken after mutation 1: 2 and 3 are gone.
    device = alice.device_id
    db.session.execute(delete(ContactAttempt).where(ContactAttempt.mutation_id > 1))
    db.session.execute(
        delete(DeviceMutation).where(
            DeviceMutation.device_id == device, DeviceMutation.mutation_id > 1
        )
    )
    db.session.execute(update(Device).where(Device.id == device).values(last_mutation_id=1))
    db.session.commit()

    when = datetime(2026, 11, 20, 11, tzinfo=CST)
    alice.record("case_note", {"case_id": case.id, "text": "after the restore"}, client_time=when)
    report = alice.sync()  # [4] answers gap, expecting 2: 2 and 3 go again from `sent`
    assert report.ok and report.push.applied == 3 and alice.outbox_size() == 0
    assert count(ContactAttempt) == 3 and count(CaseNote) == 1
    ledger = db.session.scalars(
        select(DeviceMutation.mutation_id).where(DeviceMutation.device_id == device)
    ).all()
    assert sorted(ledger) == [1, 2, 3, 4]
    assert {r.status for r in alice.records()} == {"applied"}


def test_a_case_settled_without_a_flush_is_published_in_its_transaction(app, world, team, phone):
    case = world.case(collector=team["alice"])
    alice = phone(team["alice"])
    assert alice.sync().ok and case.id in alice.cases()
    db.session.get(Case, case.id).status = CaseStatus.SETTLED
    db.session.commit()  # no explicit flush: the commit flushes
    assert count(SyncChange, entity_id=case.id, op="remove") == 1
    assert alice.sync().ok and case.id not in alice.cases()


def test_an_expired_token_is_refreshed_and_a_lost_refresh_signs_in_again(
    app, world, team, phone, monkeypatch
):
    case = world.case(collector=team["alice"])
    alice = phone(team["alice"])
    assert alice.sync().ok
    later = int(time.time()) + 3600  # an hour on: the access token has expired
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: later)
    script = Scripted(alice.transport)
    alice.transport = script
    when = datetime(2026, 11, 22, 10, tzinfo=CST)
    alice.record("contact_attempt", attempt(case.id, when), client_time=when)
    assert alice.sync().ok and alice.outbox_size() == 0
    assert ("POST", "/auth/refresh") in script.seen and ("POST", "/auth/login") not in script.seen

    # The next refresh is committed but its answer lost: the stored refresh token is spent.
    later += 3600
    script.rules = [(nth("POST", "/auth/refresh", 2), "lose")]
    report = alice.sync()
    assert report.push.stopped is None and report.pull.stopped == "network"
    report = alice.sync()  # the spent refresh token is refused: sign in again
    assert report.ok and ("POST", "/auth/login") in script.seen


def test_http_transport_against_a_real_server(app, world, team, tmp_path):
    case = world.case(collector=team["alice"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        transport = HttpTransport(f"http://127.0.0.1:{server.server_port}", timeout=10)
        alice = DeviceClient(
            str(tmp_path / "alice.db"),
            transport,
            username=team["alice"].username,
            password=PASSWORD,
        )
        when = datetime(2026, 11, 22, 10, tzinfo=CST)
        alice.record("case_note", {"case_id": case.id, "text": "over the wire"}, client_time=when)
        report = alice.sync()
        assert report.ok and report.push.applied == 1
        assert [n["text"] for n in alice.case(case.id)["notes"]] == ["over the wire"]
        refused = transport.request(
            "GET",
            "/sync/pull",
            params={"cursor": "garbage"},
            headers={"Authorization": "Bearer nope"},
        )
        assert refused.status == 401 and refused.body_json["error"]["code"] == "bad_token"
    finally:
        server.shutdown()
        thread.join()
    dead = HttpTransport(f"http://127.0.0.1:{server.server_port}", timeout=2)
    server.server_close()
    with pytest.raises(NetworkError):
        dead.request("GET", "/sync/pull")
