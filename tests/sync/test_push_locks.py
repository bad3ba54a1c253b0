"""A push batch locks its cases and their debtors once, up front, in id order (PostgreSQL); a
mutation then skips its own lock of them. A lock taken inside a savepoint is not remembered:
rolling the savepoint back releases it, so the next filing locks the row again."""

import threading

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

from api.extensions import db
from api.models import Address
from api.services import row_locks
from tests.field.test_field_work import HOME
from tests.sync.test_protocol import attempt, push
from tests.sync.test_push_batch import visit


@pytest.fixture
def postgres_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: no row is locked there")


class Locks:
    """The `FOR UPDATE` statements this thread sends while counting."""

    def __init__(self):
        self.sent: list[str] = []
        self.thread = threading.get_ident()

    def __call__(self, _conn, _cursor, statement, *_args):
        if "FOR UPDATE" in statement and threading.get_ident() == self.thread:
            self.sent.append(statement)

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_exc):
        event.remove(db.engine, "before_cursor_execute", self)


def home_of(case):
    return db.session.scalar(select(Address.id).where(Address.debtor_id == case.debtor_id,
                                                      Address.lender_ref == "A1"))


def test_a_batch_locks_its_cases_once_whatever_its_length(client, world, postgres_only):
    alice = world.user("collector", world.team())
    phone = world.login(alice)
    cases = [world.case(collector=alice, lat=HOME[0], lon=HOME[1]) for _ in range(3)]
    homes = [home_of(case) for case in cases]
    ids = [case.id for case in cases]
    db.session.rollback()
    batch = [visit(1, ids[0], homes[0]), visit(2, ids[1], homes[1]), attempt(3, ids[0]),
             visit(4, ids[2], homes[2]), visit(5, ids[0], homes[0])]
    with Locks() as locks:
        answer = push(client, phone, batch).get_json()
    assert [r["status"] for r in answer["results"]] == ["applied"] * 5
    # The device's row is an UPDATE; then the debtors' rows and the cases' rows, one each.
    assert len(locks.sent) == 2
    assert locks.sent[0].startswith("SELECT debtors.id") and "ORDER BY debtors.id" in locks.sent[0]
    assert locks.sent[1].startswith("SELECT cases.id") and "ORDER BY cases.id" in locks.sent[1]


def test_a_case_of_another_team_is_not_locked_by_naming_it(client, world, postgres_only):
    alice = world.user("collector", world.team())
    phone = world.login(alice)
    stranger = world.case()
    stranger_id = stranger.id
    db.session.rollback()
    with Locks() as locks:
        answer = push(client, phone, [attempt(1, stranger_id)]).get_json()
    assert answer["results"][0]["status"] == "rejected"
    assert locks.sent == []


def row_is_free(table: str, row_id: int) -> bool:
    """Whether another connection could lock the row now."""
    with db.engine.connect() as other:
        try:
            other.execute(text(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE NOWAIT"),
                          {"id": row_id})
            return True
        except OperationalError:
            return False
        finally:
            other.rollback()


def test_a_lock_taken_in_a_savepoint_that_rolls_back_is_taken_again(world, postgres_only):
    case = world.case()
    case_id, debtor_id = case.id, case.debtor_id
    session = db.session
    session.rollback()
    savepoint = session.begin_nested()
    row_locks.lock_cases(session, [case_id])
    assert not row_is_free("cases", case_id)
    savepoint.rollback()
    assert row_is_free("cases", case_id)  # PostgreSQL released it with the savepoint
    with Locks() as locks:
        row_locks.lock_case(session, case_id)
    assert len(locks.sent) == 2  # taken again: the debtor's row, then the case's
    assert not row_is_free("cases", case_id) and not row_is_free("debtors", debtor_id)
    session.rollback()


def test_a_lock_taken_outside_savepoints_is_held_until_the_transaction_ends(
        world, postgres_only):
    case = world.case()
    case_id, debtor_id = case.id, case.debtor_id
    session = db.session
    session.rollback()
    row_locks.lock_cases(session, [case_id])
    with session.begin_nested():
        with Locks() as locks:
            row_locks.lock_case(session, case_id)
            row_locks.lock_debtor(session, debtor_id)
        assert locks.sent == []  # held already
    failed = session.begin_nested()
    failed.rollback()
    assert not row_is_free("cases", case_id)  # a savepoint's rollback keeps the outer locks
    session.commit()
    assert row_is_free("cases", case_id)
    with Locks() as locks:
        row_locks.lock_case(session, case_id)  # a new transaction holds nothing yet
    assert len(locks.sent) == 2
    session.rollback()
