"""A derived file whose job keeps failing: the job is retried (dramatiq, with backoff) a bounded
number of times, then the file is `failed` by the server. Its download says so (500
`server_file_failed`, not `not_ready` forever), and the exceptions feed shows it to the
administrator as the server's fault, never as the collector's stuck upload."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import update

from api.extensions import db
from api.jobs.queue import JobQueue
from api.models import EvidenceFile, Job, JobStatus, RepaymentPromise, UploadStatus
from api.services.evidence.storage import evidence_key
from api.services.evidence.thumbnails import THUMBNAIL, THUMBNAIL_JOB, THUMBNAIL_RETRIES
from api.services.fieldwork.promises import PDF_JOB, PDF_RETRIES
from tests.field.conftest import PHOTOS, complete, declaration, put_local, upload_url
from tests.field.test_evidence import visit  # noqa: F401 (a fixture)
from tests.field.test_field_work import HOME
from tests.sync.test_push_jobs import (
    push_promise,
    unserved_queue,  # noqa: F401 (a fixture)
)


@pytest.fixture
def retrying_queue(app):
    """An in-process queue whose retries come after milliseconds, not seconds."""
    queue = JobQueue(current_app._get_current_object(), "inprocess", threads=1,
                     queue_name=f"fieldvisit-retry-{uuid.uuid4().hex[:8]}", retry_backoff_ms=5)
    yield queue
    queue.drain()
    queue.stop_worker()


def test_a_promise_pdf_that_cannot_be_made_is_retried_then_failed_by_the_server(
        app, client, world, unserved_queue, retrying_queue):  # noqa: F811 (a fixture)
    team = world.team()
    alice = world.user("collector", team)
    admin = world.user("admin")
    phone, desk = world.login(alice), world.login(admin)
    case = world.case(collector=alice)
    signed, pdf_id = push_promise(client, phone, case.id)
    # The stored signature no longer parses: rendering the PDF raises, every time.
    db.session.execute(update(RepaymentPromise).where(RepaymentPromise.id == signed["id"])
                       .values(signature_strokes="[[not json"))
    db.session.commit()
    (job,) = db.session.query(Job).filter_by(kind=PDF_JOB).all()
    job_id = job.id
    db.session.rollback()

    retrying_queue.send(job_id)  # a worker takes it: it fails, is sent again, ...
    retrying_queue.drain()
    db.session.rollback()
    failed = db.session.get(Job, job_id)
    assert failed.status == JobStatus.FAILED
    assert f"after {PDF_RETRIES + 1} attempt" in failed.error  # retried, and no more
    slot = db.session.get(EvidenceFile, pdf_id)
    assert slot.status is UploadStatus.FAILED and "JSONDecodeError" in slot.server_error

    download = client.get(f"/evidence/{pdf_id}/download", headers=phone)
    assert download.status_code == 500 and "Retry-After" not in download.headers
    error = download.get_json()["error"]
    assert error["code"] == "server_file_failed" and error["fields"]["file"]

    scanned = client.post("/exceptions/scan", headers=desk)
    assert scanned.status_code == 200, scanned.get_json()
    items = client.get("/exceptions", headers=desk, query_string={"page_size": 200}).get_json()
    mine = [i for i in items["items"] if i["subject_id"] == pdf_id]
    (item,) = mine  # one item, and not an upload stuck on the collector's phone
    assert (item["kind"], item["actor"], item["action"]) == (
        "server_file_failed", "admin", "repair_server_file")
    assert item["collector_id"] is None and "Administrator" in item["action_text"]
    assert "JSONDecodeError" in json.dumps(item["detail"])


def thumbnail_refused(app, client, on: dict) -> tuple[str, Path, int]:
    """A photo filed on the visit `on` (the `visit` fixture) and received, where the store holds
    a directory in place of its thumbnail (every write of it is refused): (its file id, that
    directory, the id of its `thumbnail` job, not yet run)."""
    declared = declaration("DSCN0010.jpg", "doorplate", lat=HOME[0], lon=HOME[1])
    on["file"](declared)
    file_id, data = declared["id"], (PHOTOS / "DSCN0010.jpg").read_bytes()
    target = upload_url(client, on["headers"], file_id).get_json()
    assert put_local(client, target, data).status_code == 200
    assert complete(client, on["headers"], file_id).status_code == 200
    blocked = app.extensions["fieldvisit.blobs"].root / evidence_key(
        on["case"].id, file_id, THUMBNAIL)
    blocked.mkdir(parents=True)
    db.session.rollback()
    (job,) = db.session.query(Job).filter_by(kind=THUMBNAIL_JOB).all()
    job_id = job.id
    db.session.rollback()
    return file_id, blocked, job_id


def test_a_thumbnail_the_blob_store_refuses_is_retried_then_failed_by_the_server(
        app, client, visit, unserved_queue, retrying_queue):  # noqa: F811 (fixtures)
    file_id, _, job_id = thumbnail_refused(app, client, visit)

    retrying_queue.send(job_id)
    retrying_queue.drain()
    db.session.rollback()
    failed = db.session.get(Job, job_id)
    assert failed.status == JobStatus.FAILED
    assert f"after {THUMBNAIL_RETRIES + 1} attempt" in failed.error
    slot = db.session.get(EvidenceFile, file_id)
    assert slot.status is UploadStatus.COMPLETE  # the collector's original is received
    assert slot.thumbnail_status is UploadStatus.FAILED and slot.thumbnail_key is None
    assert "IsADirectoryError" in slot.server_error

    legal = visit["world"].login(visit["world"].user("legal"))
    thumb = client.get(f"/evidence/{file_id}/download?variant=thumbnail", headers=legal)
    assert thumb.status_code == 500
    assert thumb.get_json()["error"]["code"] == "server_file_failed"
    assert client.get(f"/evidence/{file_id}/download", headers=legal).status_code == 200
