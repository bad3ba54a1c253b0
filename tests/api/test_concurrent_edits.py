"""Two supervisors assign the same case at the same moment: one wins (200), the other is told
someone else changed it (409) — never a 500, and nothing of the loser is kept."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from sqlalchemy import select, text

from api.extensions import db
from api.models import Assignment, Case

ROUNDS = 5


def waiting_to_write(threads: list[threading.Thread]) -> bool:
    """Whether every thread is inside the database driver with a write statement (so, with
    the case row locked by the test, waiting for it)."""
    frames = sys._current_frames()
    for thread in threads:
        frame, writing = frames.get(thread.ident), False
        while frame is not None and not writing:
            statement = frame.f_locals.get("statement") if frame.f_code.co_name == "do_execute" \
                else None
            writing = isinstance(statement, str) and statement.lstrip().startswith("UPDATE")
            frame = frame.f_back
        if not writing:
            return False
    return True


def hold_the_case(case_id: int):
    """A connection of the test's own holding the row lock on the case until it ends."""
    conn = db.engine.connect()
    conn.execute(text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": case_id})
    return conn


@pytest.fixture
def story(app, world):
    team = world.team()
    collector_ids = [world.user("collector", team).id for _ in range(2 * ROUNDS)]
    case = world.case(team=team)
    case_id = case.id
    supervisors = [world.login(world.user("supervisor", team)) for _ in range(2)]
    db.session.commit()

    def assign(n: int, answers: dict, barrier: threading.Barrier | None = None) -> None:
        """Supervisor n % 2 gives the case to collector n (a new holder every time)."""
        if barrier is not None:
            barrier.wait()
        with app.app_context():  # a request's own, as in a server's worker thread
            answers[n] = app.test_client().put(
                f"/cases/{case_id}/assignment",
                json={"collector_id": collector_ids[n], "reason": f"supervisor {n}"},
                headers=supervisors[n % 2],
            )

    return {"case": case, "assign": assign}


def assert_whole(case_id: int, assignments_added: int, collector_id: int) -> None:
    """The winner's assignment is kept whole, the loser's not at all."""
    db.session.rollback()  # a fresh snapshot
    assert db.session.get(Case, case_id).collector_id == collector_id
    rows = db.session.scalars(
        select(Assignment).where(Assignment.case_id == case_id).order_by(Assignment.id)
    ).all()
    assert len(rows) == 1 + assignments_added  # the factory's first assignment, then these
    assert [r.ended_at is None for r in rows].count(True) == 1
    assert rows[-1].collector_id == collector_id


def test_two_assignments_of_one_case_at_once_are_one_200_and_one_409(story):
    """PostgreSQL: both read the case, both wait on its row, one commits, the other's version
    no longer matches."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite refuses a second writer at once: see the test below")
    case, answers = story["case"], {}
    blocker = hold_the_case(case.id)
    threads = [threading.Thread(target=story["assign"], args=(n, answers)) for n in (0, 1)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while not waiting_to_write(threads) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert waiting_to_write(threads), "both requests should have read the case by now"
    finally:
        blocker.rollback()
        blocker.close()
    for thread in threads:
        thread.join(60)

    statuses = sorted(a.status_code for a in answers.values())
    assert statuses == [200, 409], [a.get_data(as_text=True) for a in answers.values()]
    assert next(a for a in answers.values() if a.status_code == 409).get_json()["error"][
        "code"] == "conflict"
    winner = next(a for a in answers.values() if a.status_code == 200).get_json()
    assert_whole(case.id, 1, winner["collector_id"])


def test_racing_assignments_never_break_and_never_half_save(story):
    """Both engines, no choreography: the loser of each race is a 409 (what it read changed)
    or a 503 with Retry-After (SQLite: another writer holds the lock), never a 500."""
    case, added = story["case"], 0
    for round_ in range(ROUNDS):
        answers: dict = {}
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=story["assign"], args=(n, answers, barrier))
                   for n in (2 * round_, 2 * round_ + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        ok = [a for a in answers.values() if a.status_code == 200]
        for answer in answers.values():
            assert answer.status_code in (200, 409, 503), answer.get_data(as_text=True)
            if answer.status_code == 503:
                assert int(answer.headers["Retry-After"]) > 0
        assert ok, [a.get_data(as_text=True) for a in answers.values()]
        added += len(ok)
        last = max(ok, key=lambda a: a.get_json()["assignments"][-1]["started_at"]).get_json()
        assert_whole(case.id, added, last["collector_id"])
