"""A push applies its mutations in runs, each under one savepoint flushed once; a refusal (or a
failure) in a run rolls the run back and applies it again one savepoint per mutation, with the
same answers as if each had had its own savepoint from the start."""

import json
from contextlib import contextmanager

from sqlalchemy import event, func, select

from api.extensions import db
from api.models import Address, ContactAttempt, DeviceMutation, Job, RuleRefusal, VisitReport
from api.services.compliance.presets import PRESETS
from api.services.fieldwork.promises import PDF_JOB
from mobile_sync.push import RUN
from tests.field.test_field_work import HOME, promise, report
from tests.sync.test_protocol import attempt, push


def visit(mutation_id, case_id, address_id, **payload):
    return {"mutation_id": mutation_id, "type": "visit_report",
            "client_time": "2026-11-20T10:00:00+08:00",
            "payload": {**report(case_id, address_id), **payload}}


def signed(mutation_id, case_id, **payload):
    return {"mutation_id": mutation_id, "type": "repayment_promise",
            "client_time": "2026-11-20T10:30:00+08:00", "payload": promise(case_id, **payload)}


@contextmanager
def statements():
    """The SQL statements the app's engine sends meanwhile."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def home_of(case) -> Address:
    return db.session.scalar(select(Address).where(Address.debtor_id == case.debtor_id,
                                                   Address.lender_ref == "A1"))


def ledger_of(phone) -> dict[int, str]:
    db.session.rollback()
    rows = db.session.scalars(select(DeviceMutation).where(
        DeviceMutation.device_id == phone["X-Device-Id"]))
    return {row.mutation_id: row.status for row in rows}


def test_a_batch_with_no_refusal_is_one_savepoint_and_one_insert_per_table(client, world):
    alice = world.user("collector", world.team())
    phone = world.login(alice)
    cases = [world.case(collector=alice, lat=HOME[0], lon=HOME[1]) for _ in range(3)]
    homes = [home_of(case).id for case in cases]
    db.session.rollback()
    batch = [visit(n + 1, case.id, home) for n, (case, home)
             in enumerate(zip(cases, homes, strict=True))]
    batch.append(attempt(4, cases[0].id))
    with statements() as sent:
        answer = push(client, phone, batch).get_json()
    assert [r["status"] for r in answer["results"]] == ["applied"] * 4, answer
    assert sum(s.startswith("SAVEPOINT") for s in sent) == 1
    assert sum(s.startswith("INSERT INTO visit_reports") for s in sent) == 1
    assert sum(s.startswith("UPDATE addresses") for s in sent) == 1  # the 3 confirmations
    assert ledger_of(phone) == {1: "applied", 2: "applied", 3: "applied", 4: "applied"}
    assert all(db.session.get(Address, home).confirmed_at is not None for home in homes)


def test_a_refusal_in_a_run_is_answered_as_if_each_mutation_had_its_savepoint(client, world):
    alice = world.user("collector", world.team())
    phone = world.login(alice)
    case = world.case(collector=alice, lat=HOME[0], lon=HOME[1])
    stranger = world.case()  # never held: refused like a missing case
    home = home_of(case).id
    db.session.rollback()
    first = visit(1, case.id, home)
    again = visit(3, case.id, home, id=first["payload"]["id"])  # an id filed earlier in the run
    batch = [first, attempt(2, stranger.id), again, visit(4, case.id, home)]
    answer = push(client, phone, batch).get_json()
    results = answer["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "rejected", "applied"]
    assert "payload.case_id" in results[1]["fields"]
    assert results[2]["fields"] == {"payload.id": ["already used"]}
    assert results[0]["flags"] == results[3]["flags"]  # judged alike, replayed or not
    assert answer["last_mutation_id"] == 4
    assert ledger_of(phone) == {1: "applied", 2: "rejected", 3: "rejected", 4: "applied"}
    stored = db.session.scalars(select(VisitReport.id).where(VisitReport.case_id == case.id))
    assert set(stored) == {first["payload"]["id"], batch[3]["payload"]["id"]}
    assert db.session.get(Address, home).confirmed_at is not None  # rolled back, then redone
    replay = push(client, phone, batch).get_json()["results"]
    assert [r["original"]["status"] for r in replay] == [
        "applied", "rejected", "rejected", "applied"]
    assert [r["original"].get("flags") for r in replay] == [r.get("flags") for r in results]


def test_a_rule_breach_in_a_run_is_kept_once(client, world, use_policy):
    use_policy(PRESETS["CN"])
    alice = world.user("collector", world.team())
    phone = world.login(alice)
    case = world.case(collector=alice, lat=HOME[0], lon=HOME[1])
    _spouse, friend = case.debtor.contacts
    home, friend_id = home_of(case).id, friend.id
    db.session.rollback()
    batch = [visit(1, case.id, home), signed(2, case.id, signer_contact_id=friend_id),
             signed(3, case.id)]
    results = push(client, phone, batch).get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"], results
    assert results[1]["rule"] == "third_party_no_amounts"
    db.session.rollback()
    kept = db.session.scalars(select(RuleRefusal)).all()
    assert [(r.operation, r.rule) for r in kept] == [
        ("push repayment_promise", "third_party_no_amounts")]


def test_runs_follow_one_another_and_a_refusal_replays_only_its_own(client, world):
    alice = world.user("collector", world.team())
    phone = world.login(alice)
    case, stranger = world.case(collector=alice), world.case()
    refused = RUN + 2  # the second of the second run
    batch = [attempt(n, stranger.id if n == refused else case.id) for n in range(1, RUN + 3)]
    with statements() as sent:
        results = push(client, phone, batch).get_json()["results"]
    assert [r["status"] for r in results] == ["applied"] * (RUN + 1) + ["rejected"]
    # the first run, the second, then the second again one mutation at a time
    assert sum(s.startswith("SAVEPOINT") for s in sent) == 1 + 1 + 2
    assert set(ledger_of(phone)) == set(range(1, RUN + 3))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ContactAttempt).where(
        ContactAttempt.case_id == case.id)) == RUN + 1


def test_an_id_filed_twice_in_a_run_is_refused_the_second_time(client, world):
    alice = world.user("collector", world.team())
    phone = world.login(alice)
    case = world.case(collector=alice, lat=HOME[0], lon=HOME[1])
    home = home_of(case).id
    db.session.rollback()
    first = visit(1, case.id, home)
    batch = [first, visit(2, case.id, home, id=first["payload"]["id"]), attempt(3, case.id)]
    results = push(client, phone, batch).get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"], results
    assert results[1]["fields"] == {"payload.id": ["already used"]}
    assert ledger_of(phone) == {1: "applied", 2: "rejected", 3: "applied"}


def test_a_job_asked_for_in_a_run_rolled_back_is_asked_for_once(client, world):
    alice = world.user("collector", world.team())
    phone = world.login(alice)
    case, stranger = world.case(collector=alice), world.case()
    batch = [signed(1, case.id), attempt(2, stranger.id)]
    results = push(client, phone, batch).get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected"], results
    db.session.rollback()
    asked = db.session.scalars(select(Job).where(Job.kind == PDF_JOB)).all()
    assert [json.loads(job.payload)["promise_id"] for job in asked] == [results[0]["record_id"]]
