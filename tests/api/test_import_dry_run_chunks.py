"""A dry run as a job: each chunk applied, then rolled back as its own transaction, and only the
run's progress committed. It reports exactly what the import of the same file then does, even
where a later chunk's record leans on what an earlier (rolled-back) chunk's record did, leaves
nothing behind, holds back no phone's pull and no SQLite writer between chunks, shows its
progress and can be cancelled."""

from __future__ import annotations

import copy
import json
from datetime import date

import pytest
from sqlalchemy import func, select, text

from api import jobs
from api.extensions import db
from api.models import Address, Assignment, Case, CaseDocument, Contact, Debtor, SyncChange
from api.services.imports import cases as case_import
from api.services.imports.demo.book import generate_cases_file
from tests.factories import PASSWORD
from tests.sync.test_client import AppTransport, DeviceClient

AS_OF = date(2026, 11, 21)


def generated(n: int, seed: int = 11) -> dict:
    doc = generate_cases_file(n, seed=seed, as_of=AS_OF)
    for case in doc["cases"]:
        case["team_code"], case["collector_username"] = "SZ-01", "collector1"
    return doc


def first_day() -> dict:
    """Seven records in chunks of two: debtor D000001's second loan (row 4, chunk 2) names no
    contact but ties a new address to contact C1, which only its first loan (row 1) gives;
    row 5 names a collector who does not exist."""
    doc = generated(7)
    first, second = doc["cases"][0], doc["cases"][3]
    second["debtor"] = copy.deepcopy(first["debtor"])
    second["contacts"] = []
    second["addresses"] = [{"ref": "A-LATE", "kind": "work", "text": "深圳市南山区科技园1号",
                            "lat": 22.54, "lon": 113.95, "datum": "WGS84",
                            "contact_ref": first["contacts"][0]["ref"]}]
    doc["cases"][4]["collector_username"] = "nobody"
    return doc


def next_day(doc: dict) -> dict:
    """The next file: D000001 is renamed (in both its loans: the second, in chunk 2, then
    changes nothing), D000002 has a new national ID (row 2), and a new debtor takes its old
    one (row 8, chunk 4)."""
    doc = copy.deepcopy(doc)
    for row in (0, 3):
        doc["cases"][row]["debtor"]["name"] = "史凤英"
    old_id = doc["cases"][1]["debtor"]["national_id"]
    doc["cases"][1]["debtor"]["national_id"] = generated(1, seed=99)["cases"][0]["debtor"][
        "national_id"]
    new = copy.deepcopy(generated(9, seed=23)["cases"][8])
    new["contract_no"], new["debtor"]["ref"], new["debtor"]["national_id"] = (
        "HT-2026-NEW-1", "D-NEW-1", old_id)
    doc["cases"].append(new)
    return doc


def post(client, headers, doc: dict, **query):
    body = json.dumps(doc, ensure_ascii=False).encode()
    query = {"kind": "cases", "as_of": AS_OF.isoformat(), **query}
    return client.post("/imports", query_string=query,
                       data=body, content_type="application/json", headers=headers)


def finished(client, headers, doc: dict, **query) -> dict:
    response = post(client, headers, doc, wait="true", **query)
    assert response.status_code == 201, response.get_json()
    run = response.get_json()
    assert run["status"] == "done", run
    return run


def end_of(client, headers, response) -> dict:
    assert response.status_code == 202, response.get_json()
    jobs.wait(db.session, response.get_json()["job_id"], 60)
    return client.get(response.headers["Location"], headers=headers).get_json()


def reported(run: dict) -> tuple:
    return (run["rows"], run["created"], run["updated"], run["unchanged"],
            [(e["row"], e["field"], e["message"]) for e in run["errors"]])


def book() -> tuple:
    """What the database holds of the lender's book (a dry run must leave it as it was)."""
    db.session.rollback()
    counts = tuple(db.session.scalar(select(func.count()).select_from(model)) for model in (
        Debtor, Contact, Address, Case, Assignment, CaseDocument, SyncChange))
    debtors = db.session.execute(select(Debtor.lender_ref, Debtor.name, Debtor.national_id_digest)
                                 .order_by(Debtor.lender_ref)).all()
    return counts, [tuple(d) for d in debtors]


@pytest.mark.parametrize("verified", [False, True])
def test_a_dry_run_in_chunks_reports_what_the_import_then_does(client, lender, chunk_rows,
                                                               monkeypatch, verified):
    """(`verified`: the records the importer spares the merge are merged anyway, and must
    find nothing left to do.)"""
    monkeypatch.setattr(case_import, "VERIFY_UNCHANGED", verified)
    chunk_rows(2)
    headers, doc = lender["headers"], first_day()
    before = book()
    dry = finished(client, headers, doc, dry_run="true")
    assert dry["dry_run"] is True and (dry["done"], dry["total"]) == (7, 7)
    assert book() == before
    real = finished(client, headers, doc)
    assert reported(dry) == reported(real) == (
        7, 6, 0, 0, [(5, "collector_username", "no such active collector")])
    late = db.session.scalar(select(Address).where(Address.lender_ref == "A-LATE"))
    assert late.contact_id is not None  # tied to C1, given by row 1 only

    tomorrow = next_day(doc)
    before = book()
    dry = finished(client, headers, tomorrow, dry_run="true")
    assert book() == before
    real = finished(client, headers, tomorrow)
    assert reported(dry) == reported(real) == (
        8, 1, 2, 4, [(5, "collector_username", "no such active collector")])
    assert book() != before


def test_a_payments_dry_run_in_chunks_reports_what_the_import_then_does(client, lender,
                                                                        chunk_rows):
    chunk_rows(2)
    headers, doc = lender["headers"], generated(4)
    finished(client, headers, doc)
    contracts = [case["contract_no"] for case in doc["cases"]]
    payments = {"format": "fieldvisit.payments.v1", "payments": [
        {"contract_no": no, "ref": f"P-NEW-{k}", "paid_on": "2026-11-20", "amount_fen": 50_000,
         "method": "bank_transfer"} for k, no in enumerate([*contracts, "HT-NOPE"])],
        "balances": [{"contract_no": contracts[1], "penalty_fen": 1_000, "fees_fen": 0,
                      "status": None}]}
    before = book()
    dry = finished(client, headers, payments, kind="payments", dry_run="true")
    assert book() == before
    real = finished(client, headers, payments, kind="payments")
    assert reported(dry) == reported(real)
    assert (real["created"], real["updated"], len(real["errors"])) == (4, 1, 1)


def test_a_dry_run_job_holds_no_transaction_between_chunks(app, client, world, lender,
                                                           chunk_rows, pause, tmp_path):
    """The dry run stops after its first chunk: no backend holds a transaction id (PostgreSQL's
    `sync_watermark()` is not held back), a supervisor's reassignment is written (on SQLite: no
    write lock is held) and the phone's pull brings it, and none of the dry run's cases."""
    chunk_rows(2)
    paused, resume, _ = pause
    outside = world.case(collector=lender["other"])
    phone = DeviceClient(str(tmp_path / "phone.db"), AppTransport(client),
                         username=lender["collector"].username, password=PASSWORD)
    assert phone.sync().ok and phone.cases() == {}
    response = post(client, lender["headers"], generated(6), dry_run="true", wait="false")
    assert paused.wait(30)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            holding = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()")).scalar()
            watermark, xmax = conn.execute(text(
                "SELECT sync_watermark(), pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
            )).one()
        assert holding == 0 and watermark == xmax
    moved = client.put(f"/cases/{outside.id}/assignment", headers=lender["supervisor"],
                       json={"collector_id": lender["collector"].id})
    assert moved.status_code == 200, moved.get_json()
    assert phone.sync().ok and set(phone.cases()) == {outside.id}

    resume.set()
    end = end_of(client, lender["headers"], response)
    assert (end["status"], end["dry_run"], end["created"], end["done"]) == ("done", True, 6, 6)
    db.session.rollback()
    assert db.session.scalars(select(Case.id)).all() == [outside.id]
    assert phone.sync().ok and set(phone.cases()) == {outside.id}


def test_a_dry_run_job_shows_its_progress_and_can_be_cancelled(client, lender, chunk_rows,
                                                               pause):
    chunk_rows(2)
    paused, resume, seen = pause
    headers = lender["headers"]
    response = post(client, headers, generated(6), dry_run="true", wait="false")
    assert paused.wait(30)
    mid = client.get(response.headers["Location"], headers=headers).get_json()
    assert (mid["status"], mid["dry_run"], mid["done"], mid["total"], mid["created"]) == (
        "running", True, 2, 6, 2)
    job = client.get(f"/jobs/{mid['job_id']}", headers=headers).get_json()
    assert (job["kind"], job["status"], job["done"]) == ("import", "running", 2)
    assert book()[0][3] == 0  # the first chunk was rolled back
    asked = client.post(f"/imports/{mid['id']}/cancel", headers=headers)
    assert asked.status_code == 200 and asked.get_json()["cancel_requested"] is True
    resume.set()
    end = end_of(client, headers, response)
    assert (end["status"], end["done"], end["created"]) == ("cancelled", 4, 4)
    # The checkpoint of 4 saw the request.
    assert [done for _, done, _ in seen] == [2] and book()[0][3] == 0
