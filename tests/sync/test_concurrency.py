"""Concurrent writers and the commit-safe cursor; transient failures during a push."""

import random
import sqlite3
import threading
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.extensions import SESSION_CIPHER, db
from api.models import Case
from api.services.casefile.assignment import set_assignment
from mobile_sync import changelog
from tests.sync.test_protocol import attempt, pull, pull_all, push


@pytest.fixture
def postgres_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: commits cannot land out of order there")


class WriterSession(Session):
    """A session of a writer of its own (another worker), bound to the change log as the
    application's session is."""


changelog.install(WriterSession)


def writer_session(app) -> WriterSession:
    return WriterSession(db.engine, info={SESSION_CIPHER: app.extensions["fieldvisit.pii"]})


def assign_in(session: Session, case_id: int, collector: tuple[int, int]) -> None:
    collector_id, team_id = collector
    case = session.get(Case, case_id)
    set_assignment(
        session,
        case,
        team_id=team_id,
        collector_id=collector_id,
        assigned_by_id=None,
        reason="test",
    )


def test_a_row_committed_late_is_not_skipped(app, client, world, postgres_only):
    team = world.team()
    alice = world.user("collector", team)
    phone = world.login(alice)
    first, second = world.case(team=team), world.case(team=team)
    who = (alice.id, team.id)
    _, cursor = pull_all(client, phone)
    cipher = app.extensions["fieldvisit.pii"]

    slow, fast = writer_session(app), writer_session(app)
    try:
        assign_in(slow, first.id, who)
        changelog.publish(slow, cipher)  # its change row is written, not yet committed
        assign_in(fast, second.id, who)
        fast.commit()  # a later transaction commits first
        # A seq/updated_at cursor would serve `second` now and move past `first` for ever.
        page = pull(client, phone, cursor)
        assert page["changes"] == [] and page["cursor"] == cursor
        slow.commit()
    finally:
        slow.close()
        fast.close()
    changes, _ = pull_all(client, phone, cursor)
    assert sorted(c["id"] for c in changes) == sorted([first.id, second.id])


def test_many_concurrent_writers_and_a_puller_lose_nothing(app, client, world, postgres_only):
    team = world.team()
    alice = world.user("collector", team)
    phone = world.login(alice)
    cases = [world.case(team=team).id for _ in range(40)]
    who = (alice.id, team.id)  # plain values: ORM objects belong to this thread's session
    _, cursor = pull_all(client, phone)
    rng = random.Random(1615)
    delays = {case_id: rng.uniform(0, 0.05) for case_id in cases}
    seen: set[int] = set()
    done = threading.Event()

    def writer(case_ids):
        with app.app_context():
            for case_id in case_ids:
                session = writer_session(app)
                try:
                    assign_in(session, case_id, who)
                    changelog.publish(session, app.extensions["fieldvisit.pii"])
                    time.sleep(delays[case_id])  # commit late, out of order
                    session.commit()
                finally:
                    session.close()

    threads = [threading.Thread(target=writer, args=(cases[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        changes, cursor = pull_all(client, phone, cursor)
        seen |= {c["id"] for c in changes if c["op"] == "put"}
    done.set()
    changes, cursor = pull_all(client, phone, cursor)
    seen |= {c["id"] for c in changes if c["op"] == "put"}
    assert seen == set(cases), f"skipped: {sorted(set(cases) - seen)}"


def test_a_transient_failure_stops_the_batch_with_503(app, client, world):
    team = world.team()
    alice = world.user("collector", team)
    phone = world.login(alice)
    case = world.case(collector=alice)
    config = app.config["FIELDVISIT"]
    saved, config.sync_lock_timeout_ms = config.sync_lock_timeout_ms, 200
    if db.engine.dialect.name == "postgresql":
        blocker = db.engine.connect()
        blocker.execute(
            text("SELECT 1 FROM devices WHERE id = :id FOR UPDATE"), {"id": phone["X-Device-Id"]}
        )
    else:  # another process holding SQLite's write lock
        blocker = sqlite3.connect(db.engine.url.database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
    try:
        response = push(client, phone, [attempt(1, case.id), attempt(2, case.id)])
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        body = response.get_json()
        assert [r["status"] for r in body["results"]] == ["not_applied", "not_applied"]
        assert body["error"]["code"] == "temporarily_unavailable"
    finally:
        blocker.rollback()
        blocker.close()
        config.sync_lock_timeout_ms = saved
    retry = push(client, phone, [attempt(1, case.id), attempt(2, case.id)]).get_json()
    assert [r["status"] for r in retry["results"]] == ["applied", "applied"]


def test_two_copies_of_one_push_racing_apply_it_once(app, client, world):
    team = world.team()
    alice = world.user("collector", team)
    phone = world.login(alice)
    case = world.case(collector=alice)
    batch = [attempt(1, case.id, id=str(uuid.uuid4()))]
    answers = []

    def send():
        with app.app_context():
            answers.append(
                app.test_client()
                .post(
                    "/sync/push",
                    headers=phone,
                    json={"device_id": phone["X-Device-Id"], "mutations": batch},
                )
                .get_json()
            )

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a["results"][0]["status"] for a in answers if "results" in a)
    assert statuses.count("applied") == 1, answers
    assert set(statuses) <= {"applied", "duplicate", "not_applied"}
