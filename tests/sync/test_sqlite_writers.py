"""SQLite serves a team: a transaction that reads and then writes (an audited read, a push)
takes the write lock when it begins, so it never loses to a writer that committed in between
(SQLite would answer "database is locked" at once, whatever the busy timeout)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from api.extensions import db, sqlite_write_intent


def test_a_reader_that_writes_does_not_lose_to_a_concurrent_writer(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL takes row locks; this is about SQLite's database lock")
    engine = db.engine
    with engine.connect() as setup:
        setup.execute(text("INSERT INTO sync_counters (name, value) VALUES ('t_a', 0), ('t_b', 0)"))
        setup.commit()
    reader = sqlite_write_intent(engine).connect()  # as a request's transaction begins
    reader.begin()
    reader.execute(text("SELECT value FROM sync_counters WHERE name = 't_a'")).scalar_one()
    wrote: list[str] = []

    def other_writer():
        with engine.connect() as conn:
            conn.execute(text("UPDATE sync_counters SET value = value + 1 WHERE name = 't_b'"))
            conn.commit()
            wrote.append("b")

    thread = threading.Thread(target=other_writer)
    thread.start()
    time.sleep(0.3)  # the other writer runs now, or waits for our lock
    reader.execute(text("UPDATE sync_counters SET value = value + 1 WHERE name = 't_a'"))
    reader.commit()
    reader.close()
    thread.join(10)
    assert wrote == ["b"]
    with engine.connect() as conn:
        values = dict(conn.execute(text(
            "SELECT name, value FROM sync_counters WHERE name IN ('t_a', 't_b')")).all())
    assert values == {"t_a": 1, "t_b": 1}


def test_requests_begin_with_write_intent_except_push(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with app.test_request_context("/cases"):
        assert db.session.get_bind().get_execution_options()["sqlite_begin"] == "BEGIN IMMEDIATE"
    with app.test_request_context("/sync/push", method="POST"):
        assert "sqlite_begin" not in db.session.get_bind().get_execution_options()
    assert "sqlite_begin" not in db.session.get_bind().get_execution_options()
