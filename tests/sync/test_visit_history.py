"""The phone remembers what happened at the door: a collector's case documents carry the
recent visits, the promises still open, receipts and notices, even on a phone that has never
seen them being filed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select

from api.commands.sync import command as sync_command
from api.extensions import db
from api.models import Address, Case
from api.models.sync import CaseDocument
from api.services.fieldwork.promises import derived_id
from clients.device import DeviceClient, FlaskTransport
from mobile_sync import field_history
from mobile_sync.compaction import compact
from mobile_sync.documents import build_documents, open_document
from tests.factories import PASSWORD
from tests.field.conftest import finish_jobs
from tests.field.test_field_work import HOME, photo, promise, report


@pytest.fixture
def beat(world, client, tmp_path):
    """Alice holds a case; phone(name) opens one of her phones (a store file per name)."""
    team = world.team()
    alice = world.user("collector", team)
    case = world.case(collector=alice, lat=HOME[0], lon=HOME[1])
    home = db.session.scalar(
        select(Address).where(Address.debtor_id == case.debtor_id, Address.lender_ref == "A1"))

    def phone(name: str) -> DeviceClient:
        return DeviceClient(str(tmp_path / f"{name}.db"), FlaskTransport(client),
                            username=alice.username, password=PASSWORD, label=name)

    return {"case": case, "home": home, "alice": alice, "phone": phone,
            "admin": world.login(world.user("admin")), "client": client}


def visit(beat, start: str, **extra) -> dict:
    return report(beat["case"].id, beat["home"].id, start=start, **extra)


def file(device: DeviceClient, *records: tuple[str, dict]) -> list[str]:
    """Record on the phone and sync; every record must be applied. Returns the record ids."""
    ids = [device.record(kind, payload)[1] for kind, payload in records]
    report_ = device.sync()
    assert report_.ok and report_.push.applied == len(records), report_
    return ids


def import_payments(beat, as_of: str, *payments: tuple[str, str, int]) -> None:
    body = json.dumps({"format": "fieldvisit.payments.v1", "payments": [
        {"contract_no": beat["case"].contract_no, "ref": ref, "paid_on": paid_on,
         "amount_fen": amount, "method": "bank_transfer"} for ref, paid_on, amount in payments]})
    response = beat["client"].post("/imports", query_string={"kind": "payments", "as_of": as_of},
                                   data=body, content_type="application/json",
                                   headers=beat["admin"])
    assert response.status_code == 201 and response.get_json()["errors"] == [], \
        response.get_json()


def test_a_new_phone_knows_what_happened_at_the_door(beat):
    old = beat["phone"]("old phone")
    assert old.sync().ok
    case_id = beat["case"].id
    absent = visit(beat, "2026-11-18T10:00:00+08:00", outcome="debtor_absent",
                   promised_fen=None, follow_up_on="2026-11-20")
    promised = visit(beat, "2026-11-20T10:00:00+08:00")
    signed = promise(case_id, visit_report_id=promised["id"])
    receipt = {"case_id": case_id, "receipt_no": "R-000777", "amount_fen": 100_000,
               "method": "cash", "payer_name": "张伟",
               "received_at": "2026-11-20T10:40:00+08:00", "files": [photo("receipt")]}
    notice = {"case_id": case_id, "notice_type": "overdue_notice", "served_to_name": "张伟",
              "served_to_role": "debtor", "method": "in_person",
              "served_at": "2026-11-20T10:45:00+08:00", "files": [photo("notice")]}
    ids = file(old, ("visit_report", absent), ("visit_report", promised),
               ("repayment_promise", signed), ("field_receipt", receipt),
               ("notice_served", notice))

    finish_jobs()  # the promise's PDF is made by a job, whose commit puts the document again
    new = beat["phone"]("new phone")  # the old one was lost: a fresh store, a new device id
    assert new.device_id != old.device_id
    assert new.sync().ok
    doc = new.case(case_id)
    assert [v["id"] for v in doc["visits"]] == [ids[1], ids[0]]  # newest first
    latest = doc["visits"][0]
    assert latest["started_at"] == "2026-11-20T02:00:00+00:00"
    assert (latest["author_id"], latest["author_name"]) == (beat["alice"].id,
                                                            beat["alice"].full_name)
    assert (latest["outcome"], latest["next_step"], latest["follow_up_on"]) == (
        "promise_to_pay", "revisit", "2026-11-27")
    assert latest["geofence"] == "inside" and latest["distance_m"] < 50
    assert latest["address_id"] == beat["home"].id
    assert "too_few_collectors" in latest["flags"]
    assert (latest["promised_fen"], latest["collected_fen"]) == (500_000, None)
    assert doc["visits"][1]["outcome"] == "debtor_absent"

    assert doc["open_promises"] == [{
        "id": ids[2], "signed_at": "2026-11-20T02:30:00+00:00", "author_id": beat["alice"].id,
        "status": "pending",
        "plan": [{"due_on": "2026-12-01", "amount_fen": 300_000},
                 {"due_on": "2027-01-01", "amount_fen": 200_000}],
        "total_fen": 500_000, "paid_toward_fen": 0, "remaining_fen": 500_000,
        "first_due_on": "2026-12-01", "last_due_on": "2027-01-01", "method": "bank_transfer",
        "visit_report_id": ids[1], "pdf_file_id": derived_id(ids[2], "promise_pdf"),
        "pdf_ready": True, "pdf_status": "ready"}]
    assert [(r["id"], r["receipt_no"], r["amount_fen"]) for r in doc["receipts"]] == [
        (ids[3], "R-000777", 100_000)]
    assert [(n["id"], n["notice_type"], n["served_to_role"]) for n in doc["notices"]] == [
        (ids[4], "overdue_notice", "debtor")]
    assert old.sync().ok and old.case(case_id) == doc  # one document, whoever pulls it


def test_after_a_reset_the_same_phone_bootstraps_the_history_again(beat):
    device = beat["phone"]("phone")
    assert device.sync().ok
    (visit_id,) = file(device, ("visit_report", visit(beat, "2026-11-20T10:00:00+08:00")))
    case = db.session.get(Case, beat["case"].id)  # the office changes something, and the
    case.penalty_basis = "0.05% a day on the overdue amount"  # log forgets it before the
    db.session.commit()  # phone comes back
    assert compact(db.session, keep_rows=0)[1] > 0
    db.session.commit()
    pulled = device.pull()
    assert pulled.resets == 1 and pulled.complete
    assert [v["id"] for v in device.case(case.id)["visits"]] == [visit_id]


def test_only_the_newest_visits_travel_and_the_document_stays_small(beat):
    device = beat["phone"]("phone")
    start = datetime.fromisoformat("2026-11-01T10:00:00+08:00")
    long_notes = "Debtor said he would call back; neighbours confirm the shop is open. " * 40

    def visits(first_day: int, n: int) -> list[str]:
        return file(device, *(
            ("visit_report", visit(beat, (start + timedelta(days=day)).isoformat(),
                                   notes=long_notes))
            for day in range(first_day, first_day + n)))

    ids = visits(0, field_history.VISITS)
    full = device.case(beat["case"].id)
    assert [v["id"] for v in full["visits"]] == ids[::-1]
    size_at_bound = len(json.dumps(full, ensure_ascii=False))

    ids += visits(field_history.VISITS, 5)
    doc = device.case(beat["case"].id)
    assert [v["id"] for v in doc["visits"]] == ids[::-1][: field_history.VISITS]
    assert all(len(v["notes"]) <= 200 for v in doc["visits"])
    # More visits on the server, not a byte more on the phone (same shape, newer ids).
    assert len(json.dumps(doc, ensure_ascii=False)) == size_at_bound
    assert size_at_bound < 16_000


def test_open_promises_follow_the_lenders_payments(beat):
    device = beat["phone"]("phone")
    (promise_id,) = file(device, ("repayment_promise", promise(beat["case"].id)))
    assert device.case(beat["case"].id)["open_promises"][0]["status"] == "pending"

    import_payments(beat, "2026-12-05", ("P-1", "2026-11-25", 150_000))  # 3,000 due on Dec 1
    pulled = device.pull()
    assert pulled.changes == 1
    (open_,) = device.case(beat["case"].id)["open_promises"]
    assert (open_["id"], open_["status"], open_["paid_toward_fen"], open_["remaining_fen"]) == (
        promise_id, "partly_kept", 150_000, 350_000)

    import_payments(beat, "2026-12-05", ("P-1", "2026-11-25", 150_000),
                    ("P-2", "2026-12-04", 350_000))
    assert device.pull().changes == 1
    assert device.case(beat["case"].id)["open_promises"] == []  # kept: nothing left open


def test_only_the_newest_open_promises_travel(beat):
    device = beat["phone"]("phone")
    signed = [promise(beat["case"].id, signed_at=f"2026-11-{day:02d}T10:30:00+08:00")
              for day in range(1, field_history.OPEN_PROMISES + 2)]
    ids = file(device, *(("repayment_promise", p) for p in signed))
    carried = device.case(beat["case"].id)["open_promises"]
    assert [p["id"] for p in carried] == ids[::-1][: field_history.OPEN_PROMISES]


def test_documents_cost_the_same_queries_for_one_case_or_many(app, world, beat):
    """One query per kind for the whole chunk, never one per case."""
    others = [world.case(collector=beat["alice"]) for _ in range(4)]
    device = beat["phone"]("phone")
    file(device, *(("visit_report", report(c.id, None, start="2026-11-20T10:00:00+08:00"))
                   for c in others))

    def selects(case_ids) -> int:
        seen = []

        def count(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        db.session.expunge_all()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            docs = build_documents(db.session, case_ids, app.extensions["fieldvisit.pii"])
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert sorted(docs) == sorted(case_ids)
        return len(seen)

    ids = [beat["case"].id, *(c.id for c in others)]
    assert selects(ids[:1]) == selects(ids)
    db.session.rollback()


def test_the_history_is_built_for_every_case_asked(app, beat):
    """A case without any field work still carries the (empty) lists."""
    _, body = build_documents(db.session, [beat["case"].id],
                              app.extensions["fieldvisit.pii"])[beat["case"].id]
    doc = json.loads(body)
    assert {k: doc[k] for k in ("visits", "open_promises", "receipts", "notices")} == {
        "visits": [], "open_promises": [], "receipts": [], "notices": []}


def test_documents_stored_before_the_upgrade_are_republished(app, beat):
    """A document sealed before documents carried history (simulated) reaches the phone with
    its history after `fieldvisit sync republish`, as an ordinary change."""
    device = beat["phone"]("phone")
    (visit_id,) = file(device, ("visit_report", visit(beat, "2026-11-20T10:00:00+08:00")))
    cipher = app.extensions["fieldvisit.pii"]
    stored = db.session.get(CaseDocument, beat["case"].id)
    old = json.loads(open_document(cipher, stored.sealed))
    for key in ("visits", "open_promises", "receipts", "notices"):
        del old[key]
    stored.sealed = cipher.seal(json.dumps(old).encode())
    db.session.commit()
    spare = beat["phone"]("spare phone")
    assert spare.sync().ok and "visits" not in spare.case(beat["case"].id)
    result = app.test_cli_runner().invoke(sync_command, ["republish", "--batch", "1"])
    assert result.exit_code == 0 and "republished 1 case documents" in result.output
    assert spare.pull().changes == 1
    assert [v["id"] for v in spare.case(beat["case"].id)["visits"]] == [visit_id]
