"""Derived files are made by jobs asked for inside the push's savepoints: sent only once the
batch commits, their download `not_ready` (409, Retry-After) until the job has run, and the
phone told by its next pull that the file is ready."""

from __future__ import annotations

import uuid

import pytest
from flask import current_app

from api import jobs
from api.extensions import db
from api.jobs.queue import JobQueue
from api.models import EvidenceFile, Job, JobStatus, UploadStatus
from api.services.fieldwork.promises import PDF_JOB, derived_id
from tests.field.conftest import finish_jobs
from tests.field.test_field_work import promise
from tests.sync.test_protocol import pull_all, push

RAN: list[int] = []


@jobs.job_kind("test.push_seen")
def _seen(ctx: jobs.JobContext) -> None:
    RAN.append(ctx.job_id)


def test_a_job_asked_for_in_a_savepoint_is_sent_when_the_outer_transaction_commits(app):
    RAN.clear()
    with db.session.begin_nested():  # released here: `after_commit` fires for a savepoint too
        job_id = jobs.enqueue(db.session, "test.push_seen").id
    # Sent now, a worker would look for a row it cannot see yet (and never run the job).
    app.extensions["fieldvisit.jobs"].drain()
    assert RAN == []
    savepoint = db.session.begin_nested()
    jobs.enqueue(db.session, "test.push_seen")
    savepoint.rollback()  # the savepoint only: its job is forgotten, the first one kept
    db.session.commit()
    finish_jobs()
    assert RAN.count(job_id) == 1 and len(RAN) == 1
    assert db.session.get(Job, job_id).status == JobStatus.DONE


@pytest.fixture
def unserved_queue(app):
    """Jobs go to a Redis queue no worker reads: they wait, as a busy worker's would."""
    name = f"fieldvisit-test-{uuid.uuid4().hex[:12]}"
    queue = JobQueue(current_app._get_current_object(), "redis://127.0.0.1:6379/15",
                     threads=1, queue_name=name)
    original = app.extensions["fieldvisit.jobs"]
    app.extensions["fieldvisit.jobs"] = queue
    yield queue
    app.extensions["fieldvisit.jobs"] = original
    queue.broker.flush(name)
    queue.broker.close()


def push_promise(client, phone, case_id: int) -> tuple[dict, str]:
    """Push one signed promise on `case_id`; the promise and the id of its PDF to be."""
    signed = promise(case_id)
    answer = push(client, phone, [{"mutation_id": 1, "type": "repayment_promise",
                                   "client_time": "2026-11-20T10:00:00+08:00",
                                   "payload": signed}]).get_json()
    assert answer["results"][0]["status"] == "applied", answer
    return signed, derived_id(signed["id"], "promise_pdf")


def test_a_promise_pdf_is_not_ready_until_its_job_has_run(client, world, unserved_queue):
    alice = world.user("collector", world.team())
    phone = world.login(alice)
    case = world.case(collector=alice)
    _, cursor = pull_all(client, phone)
    _, pdf_id = push_promise(client, phone, case.id)

    waiting = client.get(f"/evidence/{pdf_id}/download", headers=phone)
    assert waiting.status_code == 409 and int(waiting.headers["Retry-After"]) > 0
    assert waiting.get_json()["error"]["code"] == "not_ready"
    changes, cursor = pull_all(client, phone, cursor)
    (open_promise,) = changes[-1]["data"]["open_promises"]
    assert (open_promise["pdf_file_id"], open_promise["pdf_ready"]) == (pdf_id, False)
    refused = client.post(f"/evidence/{pdf_id}/upload-url", headers=phone)
    assert refused.status_code == 404  # the server's file: nobody uploads it

    db.session.rollback()
    (job,) = db.session.query(Job).filter_by(kind=PDF_JOB).all()
    jobs.run(db.session, job.id)  # the worker's side, as a worker reading that queue would
    assert db.session.get(Job, job.id, populate_existing=True).status == JobStatus.DONE
    slot = db.session.get(EvidenceFile, pdf_id, populate_existing=True)
    assert slot.status is UploadStatus.COMPLETE and len(slot.sha256) == 64

    ready = client.get(f"/evidence/{pdf_id}/download", headers=phone)
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["sha256"] == slot.sha256
    changes, _ = pull_all(client, phone, cursor)
    assert [c["id"] for c in changes] == [case.id]
    (open_promise,) = changes[0]["data"]["open_promises"]
    assert open_promise["pdf_ready"] is True
