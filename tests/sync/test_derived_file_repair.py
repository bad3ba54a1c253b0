"""A derived file whose job gave up is made again at the administrator's request
(`POST /admin/server-files/{file_id}/retry`, the exceptions feed's item naming the file): real
jobs on a real queue, a render made to fail by its data (a stored signature that no longer
parses) or by the blob store (a directory where the thumbnail goes). The phone is told each
state of its promise's PDF (`pdf_status`) by its delta pull."""

from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import select, update

from api.extensions import db
from api.models import AuditEvent, EvidenceFile, Job, JobStatus, RepaymentPromise, UploadStatus
from api.services.evidence.custody import SERVER_FILE_RETRIED
from api.services.evidence.thumbnails import THUMBNAIL_JOB, THUMBNAIL_RETRIES
from api.services.fieldwork.promises import PDF_JOB, PDF_RETRIES, derived_id
from tests.field.conftest import declaration
from tests.field.test_evidence import visit  # noqa: F401 (a fixture)
from tests.field.test_field_work import HOME, promise
from tests.sync.test_derived_file_failures import (  # noqa: F401 (a fixture)
    retrying_queue,
    thumbnail_refused,
)
from tests.sync.test_protocol import pull_all, push
from tests.sync.test_push_jobs import unserved_queue  # noqa: F401 (a fixture)


def push_promise(client, phone, case_id: int) -> tuple[dict, str]:
    """Push one signed promise due in the future (a scan leaves it open, on the phone)."""
    signed = promise(case_id, plan=[{"due_on": "2099-01-01", "amount_fen": 300_000},
                                    {"due_on": "2099-02-01", "amount_fen": 200_000}])
    answer = push(client, phone, [{"mutation_id": 1, "type": "repayment_promise",
                                   "client_time": "2026-11-20T10:00:00+08:00",
                                   "payload": signed}]).get_json()
    assert answer["results"][0]["status"] == "applied", answer
    return signed, derived_id(signed["id"], "promise_pdf")


def retry_path(file_id: str) -> str:
    return f"/admin/server-files/{file_id}/retry"


def run(queue, job_id: int) -> Job:
    """A worker takes the job (and its retries) to its end; the job as it ended."""
    queue.send(job_id)
    queue.drain()
    db.session.rollback()
    return db.session.get(Job, job_id, populate_existing=True)


def open_promise(changes: list[dict], case_id: int) -> dict:
    (change,) = [c for c in changes if c["id"] == case_id]
    (promised,) = change["data"]["open_promises"]
    return promised


def feed_item(client, desk, file_id: str) -> dict | None:
    """The file's item after a scan (None: it has none)."""
    assert client.post("/exceptions/scan", headers=desk).status_code == 200
    items = client.get("/exceptions", headers=desk, query_string={
        "page_size": 200, "kind": "server_file_failed"}).get_json()["items"]
    mine = [i for i in items if i["subject_id"] == file_id]
    assert len(mine) <= 1
    return mine[0] if mine else None


def audited(file_id: str) -> list[dict]:
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == SERVER_FILE_RETRIED)
                              .order_by(AuditEvent.id)).all()
    return [d for d in (json.loads(r.detail) for r in rows) if d["file_id"] == file_id]


@pytest.fixture
def failed_pdf(app, client, world, unserved_queue, retrying_queue):  # noqa: F811 (fixtures)
    """A promise pushed by its collector whose PDF's job gave up (its signature was stored
    corrupt), with the phone's pull after the failure."""
    team = world.team()
    alice = world.user("collector", team)
    phone, desk = world.login(alice), world.login(world.user("admin"))
    case = world.case(collector=alice)
    _, cursor = pull_all(client, phone)
    signed, pdf_id = push_promise(client, phone, case.id)
    changes, cursor = pull_all(client, phone, cursor)
    assert (open_promise(changes, case.id)["pdf_status"], open_promise(changes, case.id)[
        "pdf_ready"]) == ("pending", False)
    db.session.execute(update(RepaymentPromise).where(RepaymentPromise.id == signed["id"])
                       .values(signature_strokes="[[not json"))
    db.session.commit()
    job_id = db.session.scalars(select(Job.id).where(Job.kind == PDF_JOB)).one()
    db.session.rollback()
    assert run(retrying_queue, job_id).status == JobStatus.FAILED
    return {"team": team, "phone": phone, "desk": desk, "case": case, "signed": signed,
            "pdf_id": pdf_id, "cursor": cursor, "job_id": job_id}


def test_the_phone_is_told_its_promise_pdf_failed(client, failed_pdf):
    f = failed_pdf
    changes, _ = pull_all(client, f["phone"], f["cursor"])  # a delta pull, not a bootstrap
    promised = open_promise(changes, f["case"].id)
    assert (promised["pdf_file_id"], promised["pdf_status"], promised["pdf_ready"]) == (
        f["pdf_id"], "failed", False)


def test_a_failed_promise_pdf_made_again_by_the_administrator_reaches_the_phone(
        client, failed_pdf, retrying_queue):  # noqa: F811 (a fixture)
    f = failed_pdf
    pdf_id, desk, phone = f["pdf_id"], f["desk"], f["phone"]
    _, cursor = pull_all(client, phone, f["cursor"])  # the phone has seen `failed`
    item = feed_item(client, desk, pdf_id)
    assert (item["state"], item["action"], item["detail"]["derived"]) == (
        "open", "repair_server_file", "promise_pdf")
    assert item["subject_type"] == "evidence_file"
    # The administrator repairs the cause (the record's data), then has the PDF made again.
    db.session.execute(update(RepaymentPromise).where(RepaymentPromise.id == f["signed"]["id"])
                       .values(signature_strokes=json.dumps(f["signed"]["signature_strokes"])))
    db.session.commit()

    answer = client.post(retry_path(item["subject_id"]), headers=desk)
    assert answer.status_code == 202, answer.get_json()
    job = answer.get_json()
    assert (job["kind"], job["status"]) == (PDF_JOB, "queued")
    assert answer.headers["Location"] == f"/jobs/{job['id']}"
    db.session.rollback()
    slot = db.session.get(EvidenceFile, pdf_id)
    assert slot.status is UploadStatus.PENDING and slot.server_error is None
    (retried,) = audited(pdf_id)
    assert (retried["derived"], retried["job_id"]) == ("promise_pdf", job["id"])
    assert "JSONDecodeError" in retried["error"]
    # Until the job has run (it waits on a queue nobody reads): pending, everywhere.
    waiting = client.get(f"/evidence/{pdf_id}/download", headers=phone)
    assert waiting.status_code == 409 and waiting.get_json()["error"]["code"] == "not_ready"
    changes, cursor = pull_all(client, phone, cursor)
    assert open_promise(changes, f["case"].id)["pdf_status"] == "pending"
    assert feed_item(client, desk, pdf_id)["state"] == "open"  # not cleared until it is made
    again = client.post(retry_path(pdf_id), headers=desk)
    assert again.status_code == 409 and again.get_json()["error"]["fields"]["file_id"] == [
        "promise_pdf is pending"]

    assert run(retrying_queue, job["id"]).status == JobStatus.DONE
    slot = db.session.get(EvidenceFile, pdf_id, populate_existing=True)
    assert slot.status is UploadStatus.COMPLETE and len(slot.sha256) == 64
    ready = client.get(f"/evidence/{pdf_id}/download", headers=phone)
    assert ready.status_code == 200, ready.get_json()
    assert client.get(ready.get_json()["url"]).data[:5] == b"%PDF-"
    gone = feed_item(client, desk, pdf_id)
    assert (gone["state"], gone["auto_resolved"]) == ("resolved", True)
    assert "made the file" in gone["resolution_note"]
    open_items = client.get("/exceptions", headers=desk, query_string={
        "state": ["open", "acknowledged"], "kind": "server_file_failed"}).get_json()["items"]
    assert pdf_id not in [i["subject_id"] for i in open_items]
    changes, _ = pull_all(client, phone, cursor)
    promised = open_promise(changes, f["case"].id)
    assert (promised["pdf_status"], promised["pdf_ready"]) == ("ready", True)
    done = client.post(retry_path(pdf_id), headers=desk)
    assert done.status_code == 409
    assert done.get_json()["error"]["fields"]["file_id"] == ["promise_pdf is complete"]


def test_a_pdf_made_again_without_repair_fails_as_before_and_stays_in_the_feed(
        client, failed_pdf, retrying_queue):  # noqa: F811 (a fixture)
    f = failed_pdf
    pdf_id, desk, phone = f["pdf_id"], f["desk"], f["phone"]
    _, cursor = pull_all(client, phone, f["cursor"])
    item = feed_item(client, desk, pdf_id)
    # Resolved by hand ("looked at it") before the retry: a second failure is not silenced.
    resolved = client.post(f"/exceptions/{item['id']}/resolve", headers=desk,
                           json={"note": "signature data repaired"})
    assert resolved.status_code == 200, resolved.get_json()

    answer = client.post(retry_path(pdf_id), headers=desk)
    assert answer.status_code == 202, answer.get_json()
    assert feed_item(client, desk, pdf_id)["state"] == "open"
    failed = run(retrying_queue, answer.get_json()["id"])
    assert failed.status == JobStatus.FAILED
    assert f"after {PDF_RETRIES + 1} attempt" in failed.error  # its retries applied again
    slot = db.session.get(EvidenceFile, pdf_id, populate_existing=True)
    assert slot.status is UploadStatus.FAILED and "JSONDecodeError" in slot.server_error
    download = client.get(f"/evidence/{pdf_id}/download", headers=phone)
    assert download.status_code == 500
    assert download.get_json()["error"]["code"] == "server_file_failed"
    assert feed_item(client, desk, pdf_id)["state"] == "open"
    changes, _ = pull_all(client, phone, cursor)
    assert open_promise(changes, f["case"].id)["pdf_status"] == "failed"


def test_a_failed_thumbnail_is_made_again_and_the_feed_clears(
        app, client, visit, unserved_queue, retrying_queue):  # noqa: F811 (fixtures)
    file_id, blocked, job_id = thumbnail_refused(app, client, visit)
    assert run(retrying_queue, job_id).status == JobStatus.FAILED
    desk = visit["world"].login(visit["world"].user("admin"))
    item = feed_item(client, desk, file_id)
    assert (item["state"], item["detail"]["derived"]) == ("open", "thumbnail")

    shutil.rmtree(blocked)  # the administrator repairs the store
    answer = client.post(retry_path(file_id), headers=desk)
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["kind"] == THUMBNAIL_JOB
    db.session.rollback()
    slot = db.session.get(EvidenceFile, file_id)
    assert (slot.status, slot.thumbnail_status, slot.server_error) == (
        UploadStatus.COMPLETE, UploadStatus.PENDING, None)
    assert run(retrying_queue, answer.get_json()["id"]).status == JobStatus.DONE

    thumb = client.get(f"/evidence/{file_id}/download?variant=thumbnail", headers=desk)
    assert thumb.status_code == 200, thumb.get_json()
    assert client.get(thumb.get_json()["url"]).data[:3] == b"\xff\xd8\xff"
    assert feed_item(client, desk, file_id)["state"] == "resolved"
    custody = client.get(f"/cases/{visit['case'].id}/evidence", headers=desk).get_json()
    (shown,) = [f for f in custody["files"] if f["id"] == file_id]
    assert shown["thumbnail_status"] == "complete"
    assert next((a["action"], a["variant"]) for a in shown["accesses"]) == (
        SERVER_FILE_RETRIED, "thumbnail")


def test_a_failed_thumbnail_that_fails_again_is_failed_as_before(
        app, client, visit, unserved_queue, retrying_queue):  # noqa: F811 (fixtures)
    file_id, _, job_id = thumbnail_refused(app, client, visit)
    assert run(retrying_queue, job_id).status == JobStatus.FAILED
    desk = visit["world"].login(visit["world"].user("admin"))
    answer = client.post(retry_path(file_id), headers=desk)
    assert answer.status_code == 202, answer.get_json()
    failed = run(retrying_queue, answer.get_json()["id"])
    assert failed.status == JobStatus.FAILED
    assert f"after {THUMBNAIL_RETRIES + 1} attempt" in failed.error
    slot = db.session.get(EvidenceFile, file_id, populate_existing=True)
    assert slot.thumbnail_status is UploadStatus.FAILED and "IsADirectoryError" in (
        slot.server_error)
    thumb = client.get(f"/evidence/{file_id}/download?variant=thumbnail", headers=desk)
    assert thumb.status_code == 500
    assert feed_item(client, desk, file_id)["state"] == "open"


def test_only_an_administrator_makes_a_file_again(client, world, failed_pdf):
    """Every other role is refused (403), the file's own team's and another team's alike;
    nothing changes."""
    f = failed_pdf
    other = world.team()
    callers = {
        "its collector": f["phone"],
        "its supervisor": world.login(world.user("supervisor", f["team"])),
        "another team's collector": world.login(world.user("collector", other)),
        "another team's supervisor": world.login(world.user("supervisor", other)),
        "legal": world.login(world.user("legal")),
    }
    for who, headers in callers.items():
        refused = client.post(retry_path(f["pdf_id"]), headers=headers)
        assert refused.status_code == 403, (who, refused.get_json())
    db.session.rollback()
    assert db.session.get(EvidenceFile, f["pdf_id"]).status is UploadStatus.FAILED
    assert db.session.scalars(select(Job.id).where(Job.kind == PDF_JOB)).all() == [f["job_id"]]
    assert audited(f["pdf_id"]) == []
    assert client.post(retry_path(f["pdf_id"])).status_code == 401


def test_an_id_that_names_no_derived_file_is_404_naming_the_field(client, failed_pdf, visit):  # noqa: F811
    desk = failed_pdf["desk"]
    unknown = client.post(retry_path("00000000-0000-4000-8000-000000000000"), headers=desk)
    assert unknown.status_code == 404
    assert unknown.get_json()["error"]["fields"] == {"file_id": ["no such derived file"]}
    # A collector's photo still waiting for its upload: the server makes nothing of it yet.
    declared = declaration("DSCN0010.jpg", "doorplate", lat=HOME[0], lon=HOME[1])
    visit["file"](declared)
    original = client.post(retry_path(declared["id"]), headers=desk)
    assert original.status_code == 404
    assert original.get_json()["error"]["fields"] == {"file_id": ["no such derived file"]}
    assert client.post("/admin/server-files/not-a-uuid/retry", headers=desk).status_code == 404
