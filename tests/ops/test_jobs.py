"""Background jobs (api/jobs): sent after commit, run once, progress, cancel, failure, and the
same jobs through real brokers (Redis, RabbitMQ) to a worker."""

from __future__ import annotations

import threading
import uuid

import pytest
from flask import current_app

from api import jobs
from api.extensions import db
from api.jobs.queue import JobQueue
from api.models import Job, JobStatus

GATE = threading.Event()
SEEN: list[int] = []


@jobs.job_kind("test.count")
def _count(ctx: jobs.JobContext) -> dict:
    n = ctx.payload["n"]
    for i in range(n):
        if ctx.payload.get("gate") and i == 1:
            assert GATE.wait(10)
        ctx.checkpoint(i + 1, n)
    SEEN.append(ctx.job_id)
    return {"counted": n}


@jobs.job_kind("test.fail")
def _fail(ctx: jobs.JobContext) -> None:
    raise RuntimeError("boom 13800138000")  # a value that must not reach the job row


def test_a_job_runs_after_commit_with_its_progress(app):
    SEEN.clear()
    job = jobs.enqueue(db.session, "test.count", {"n": 3})
    job_id = job.id
    db.session.rollback()  # never committed: never sent, never run
    assert db.session.get(Job, job_id) is None
    job = jobs.enqueue(db.session, "test.count", {"n": 3})
    db.session.commit()
    done = jobs.wait(db.session, job.id, 30)
    assert (done.status, done.done, done.total, done.percent) == ("done", 3, 3, 100.0)
    assert done.result == '{"counted": 3}'
    assert SEEN.count(job.id) == 1


def test_a_cancelled_job_stops_at_its_next_checkpoint_and_keeps_what_it_committed(app):
    GATE.clear()
    SEEN.clear()
    job = jobs.enqueue(db.session, "test.count", {"n": 5, "gate": True})
    db.session.commit()
    for _ in range(500):
        db.session.rollback()
        if db.session.get(Job, job.id, populate_existing=True).done == 1:
            break
        threading.Event().wait(0.01)
    running = db.session.get(Job, job.id, populate_existing=True)
    assert running.status == JobStatus.RUNNING and running.percent == 20.0
    db.session.rollback()
    jobs.request_cancel(db.session, db.session.get(Job, job.id))
    db.session.commit()
    GATE.set()
    end = jobs.wait(db.session, job.id, 30)
    assert end.status == "cancelled" and end.done == 2  # the checkpoint that saw the request
    assert job.id not in SEEN


def test_a_queued_job_cancelled_never_runs(app):
    job = Job(kind="test.count", payload='{"n": 1}')
    db.session.add(job)
    db.session.commit()
    jobs.request_cancel(db.session, job)
    db.session.commit()
    jobs.run(db.session, job.id)  # a late message for it
    assert db.session.get(Job, job.id, populate_existing=True).status == "cancelled"


def test_a_failing_job_is_recorded_without_its_values(app, caplog):
    job = jobs.enqueue(db.session, "test.fail")
    db.session.commit()
    end = jobs.wait(db.session, job.id, 30)
    assert end.status == "failed" and "internal error" in end.error
    assert "13800138000" not in end.error


def test_recovery_fails_a_dead_workers_job_and_sends_queued_ones_again(app):
    from datetime import timedelta

    from api.models.types import utcnow

    dead = Job(kind="test.count", payload="{}", status="running",
               heartbeat_at=utcnow() - timedelta(hours=1))
    waiting = Job(kind="test.count", payload='{"n": 1}')
    db.session.add_all([dead, waiting])
    db.session.commit()
    assert jobs.recover(db.session) == [waiting.id]
    assert db.session.get(Job, dead.id, populate_existing=True).status == "failed"


@pytest.mark.parametrize("broker_url", ["redis://127.0.0.1:6379/15", "amqp://guest:guest@127.0.0.1:5672/"])
def test_jobs_travel_through_a_real_broker_to_a_worker(app, broker_url):
    name = f"fieldvisit-test-{uuid.uuid4().hex[:12]}"  # its own: no other test's worker takes it
    queue = JobQueue(current_app._get_current_object(), broker_url, threads=2, queue_name=name)
    original = current_app.extensions["fieldvisit.jobs"]
    current_app.extensions["fieldvisit.jobs"] = queue
    try:
        marker = uuid.uuid4().int % 1000 + 2
        job = jobs.enqueue(db.session, "test.count", {"n": marker})
        db.session.commit()  # sent to the broker; no worker yet
        db.session.rollback()
        assert db.session.get(Job, job.id, populate_existing=True).status == "queued"
        queue.start_worker()
        end = jobs.wait(db.session, job.id, 30)
        assert (end.status, end.done) == ("done", marker)
    finally:
        queue.stop_worker()
        queue.broker.flush(name)
        if broker_url.startswith("amqp"):
            for suffix in ("", ".DQ", ".XQ"):
                queue.broker.channel.queue_delete(f"{name}{suffix}")
        queue.broker.close()
        current_app.extensions["fieldvisit.jobs"] = original
