"""A real `fieldvisit worker` process, on Redis and on RabbitMQ, runs the jobs the app enqueues:
the production shape (web processes send, worker processes run), against the test database."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from flask import current_app

from api import jobs
from api.extensions import db
from api.jobs.queue import JobQueue
from api.jobs.retention_purge import KIND
from api.models import Case, CaseStatus, Job
from tests.conftest import ROOT
from tests.ops.test_serve import FIELDVISIT, _base_env

BROKERS = {"redis": "redis://127.0.0.1:6379/14", "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/"}


def worker_env(app, broker_url: str, queue_name: str) -> dict[str, str]:
    """The worker's settings: the app under test's database, blob store and keys (a test app
    runs on the development keys, which FIELDVISIT_DEBUG accepts), and the broker."""
    config = app.config["FIELDVISIT"]
    env = _base_env()
    env.update(FIELDVISIT_DATABASE_URL=config.database_url,
               FIELDVISIT_BLOB_STORE=config.blob_store,
               FIELDVISIT_SECRET_KEY=config.secret_key,
               FIELDVISIT_DEBUG="1",
               FIELDVISIT_JOB_BROKER=broker_url,
               FIELDVISIT_JOB_QUEUE=queue_name,
               FIELDVISIT_JOB_THREADS="1")
    return env


@pytest.fixture(params=sorted(BROKERS))
def broker_queue(request, app):
    """The app sending to a real broker, on a queue of this test's own (so no other worker,
    test or tenant takes its messages), and no worker in this process."""
    url, name = BROKERS[request.param], f"fieldvisit-test-{uuid.uuid4().hex[:12]}"
    queue = JobQueue(current_app._get_current_object(), url, threads=1, queue_name=name)
    original = current_app.extensions["fieldvisit.jobs"]
    current_app.extensions["fieldvisit.jobs"] = queue
    try:
        yield queue
    finally:
        current_app.extensions["fieldvisit.jobs"] = original
        queue.broker.flush(name)
        if request.param == "rabbitmq":
            for suffix in ("", ".DQ", ".XQ"):
                queue.broker.channel.queue_delete(f"{name}{suffix}")
        queue.broker.close()


def test_a_worker_process_runs_what_the_app_enqueues(app, world, broker_queue, tmp_path):
    case = world.case()
    closed = db.session.get(Case, case.id)
    closed.status = CaseStatus.SETTLED  # closed today: within its retention period
    db.session.commit()
    job = jobs.enqueue(db.session, KIND, {"dry_run": True})
    db.session.commit()  # on the broker now; nobody here takes it
    assert db.session.get(Job, job.id, populate_existing=True).status == "queued"

    log = (tmp_path / "worker.log").open("w+")
    worker = subprocess.Popen(
        [FIELDVISIT, "worker"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env=worker_env(app, broker_queue.url, broker_queue.queue_name))
    try:
        end = jobs.wait(db.session, job.id, 60)
    except TimeoutError:
        log.seek(0)
        pytest.fail(f"the worker did not run the job: {log.read()[-2000:]}")
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    log.seek(0)
    output = log.read()
    assert end.status == "done", (end.error, output[-2000:])
    result = json.loads(end.result)
    assert result["dry_run"] is True and result["kept"] == {"within_retention": 1}
    assert f"threads on {broker_queue.url.split('@')[-1]}" in output  # that process ran it
    assert worker.returncode == 0, output[-2000:]  # stopped cleanly on SIGTERM
