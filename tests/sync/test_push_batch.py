"""A push batch is one transaction: each touched case's document is rebuilt once, a refusal
rolls back only its own mutation, and a transient failure late in the batch keeps (and
answers) what came before it."""

import pytest
from sqlalchemy import func, select, text

from api.extensions import db
from api.models import Address, ContactAttempt, Device, DeviceMutation, SyncChange
from tests.field.test_field_work import HOME, report
from tests.sync.test_protocol import attempt, push


def visit(mutation_id, case_id, address_id):
    return {"mutation_id": mutation_id, "type": "visit_report",
            "client_time": "2026-11-20T10:00:00+08:00",
            "payload": report(case_id, address_id)}


def changes_of(case_id: int) -> list[int]:
    db.session.rollback()
    return list(db.session.scalars(select(SyncChange.tx_id).where(
        SyncChange.entity == "case", SyncChange.entity_id == case_id, SyncChange.op == "put")))


def test_a_batch_rebuilds_each_touched_document_once(client, world):
    alice = world.user("collector", world.team())
    phone = world.login(alice)
    one, two = world.case(collector=alice), world.case(collector=alice)
    before = {case.id: len(changes_of(case.id)) for case in (one, two)}
    batch = [attempt(1, one.id), attempt(2, two.id), attempt(3, one.id), attempt(4, one.id)]
    answer = push(client, phone, batch).get_json()
    assert [r["status"] for r in answer["results"]] == ["applied"] * 4
    for case in (one, two):
        assert len(changes_of(case.id)) == before[case.id] + 1  # one put, not one per mutation
    assert len(set(changes_of(one.id)[-1:] + changes_of(two.id)[-1:])) == 1  # one transaction


def test_a_refusal_inside_a_batch_rolls_back_only_itself(client, world):
    alice = world.user("collector", world.team())
    phone = world.login(alice)
    case = world.case(collector=alice)
    stranger = world.case()  # never held: refused like a missing case
    batch = [attempt(1, case.id), attempt(2, stranger.id), attempt(3, case.id)]
    answer = push(client, phone, batch).get_json()
    assert [r["status"] for r in answer["results"]] == ["applied", "rejected", "applied"]
    assert answer["last_mutation_id"] == 3
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ContactAttempt).where(
        ContactAttempt.case_id == stranger.id)) == 0
    rows = db.session.scalars(select(DeviceMutation).where(
        DeviceMutation.device_id == phone["X-Device-Id"]))
    ledger = {row.mutation_id: row.status for row in rows}
    assert ledger == {1: "applied", 2: "rejected", 3: "applied"}
    replay = push(client, phone, batch).get_json()
    assert [r["original"]["status"] for r in replay["results"]] == [
        "applied", "rejected", "applied"]


def test_a_transient_failure_late_in_a_batch_keeps_what_came_before(app, client, world):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite: the batch holds the database's write lock, nothing can block it")
    alice = world.user("collector", world.team())
    phone = world.login(alice)
    case = world.case(collector=alice, lat=HOME[0], lon=HOME[1])
    home = db.session.scalar(select(Address).where(Address.debtor_id == case.debtor_id,
                                                   Address.lender_ref == "A1"))
    home_id = home.id
    db.session.rollback()
    config = app.config["FIELDVISIT"]
    saved, config.sync_lock_timeout_ms = config.sync_lock_timeout_ms, 200
    # A good fix at the address confirms it (an UPDATE of its row): another transaction holds
    # that row, so the second mutation times out on its lock.
    batch = [attempt(1, case.id), visit(2, case.id, home_id), attempt(3, case.id)]
    blocker = db.engine.connect()
    blocker.execute(text("SELECT 1 FROM addresses WHERE id = :id FOR UPDATE"), {"id": home_id})
    try:
        response = push(client, phone, batch)
    finally:
        blocker.rollback()
        blocker.close()
        config.sync_lock_timeout_ms = saved
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert [r["status"] for r in body["results"]] == ["applied", "not_applied", "not_applied"]
    assert body["last_mutation_id"] == 1
    db.session.rollback()
    assert db.session.get(Device, phone["X-Device-Id"]).last_mutation_id == 1
    assert db.session.scalar(select(func.count()).select_from(ContactAttempt).where(
        ContactAttempt.case_id == case.id)) == 1
    retry = push(client, phone, batch).get_json()
    assert [r["status"] for r in retry["results"]] == ["duplicate", "applied", "applied"]
    assert retry["results"][0]["original"]["status"] == "applied"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ContactAttempt).where(
        ContactAttempt.case_id == case.id)) == 2
