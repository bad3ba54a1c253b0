"""The queue under the jobs: dramatiq, with an in-process worker by default.

`inprocess` (the embedded default) keeps messages in memory (dramatiq's StubBroker) and runs
them on worker threads inside the server process, started with the first job; `redis://...` or
`amqp://...` put them on that broker, for `fieldvisit worker` processes to take. Either way the
message carries only the job's id: the job's state lives in the database (`api.jobs`).

A job that fails and has retries left raises `jobs.RetryLater`: dramatiq's retries middleware
sends it again after an exponential backoff (`retry_backoff_ms`, doubling, at most
`MAX_BACKOFF_MS`); the attempt number travels in the message (its `retries` option)."""

from __future__ import annotations

import threading

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage
from flask import Flask

from api import jobs
from api.extensions import WRITE_INTENT, db

QUEUE_NAME = "fieldvisit"
TIME_LIMIT_MS = 24 * 3600 * 1000  # an import of millions of rows may run for an hour or more
MAX_BACKOFF_MS = 5 * 60 * 1000


def _retry_when(_retries: int, exception: BaseException) -> bool:
    """Only a job `api.jobs.run` gave another attempt is sent again (it counts them)."""
    return isinstance(exception, jobs.RetryLater)


def make_broker(url: str) -> dramatiq.Broker:
    if url == "inprocess":
        return StubBroker()
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(url=url)


class JobQueue:
    """One app's queue: its broker, the actor that runs a job, and (in-process) its worker."""

    def __init__(self, app: Flask, url: str, threads: int, queue_name: str = QUEUE_NAME,
                 retry_backoff_ms: int = 2000):
        self.app, self.url, self.threads, self.queue_name = app, url, threads, queue_name
        self.broker = make_broker(url)
        self.broker.add_middleware(CurrentMessage())
        self.broker.declare_queue(queue_name)
        self._worker: dramatiq.Worker | None = None
        self._lock = threading.Lock()

        def perform(job_id: int) -> None:
            message = CurrentMessage.get_current_message()
            attempt = message.options.get("retries", 0) if message is not None else 0
            with app.app_context():
                db.session.info[WRITE_INTENT] = True
                try:
                    jobs.run(db.session, job_id, attempt=attempt)
                finally:
                    db.session.remove()

        self.actor = dramatiq.actor(perform, broker=self.broker, actor_name="fieldvisit_job",
                                    queue_name=queue_name, retry_when=_retry_when,
                                    min_backoff=retry_backoff_ms,
                                    max_backoff=max(retry_backoff_ms, MAX_BACKOFF_MS),
                                    time_limit=TIME_LIMIT_MS)

    @property
    def in_process(self) -> bool:
        return self.url == "inprocess"

    def send(self, job_id: int) -> None:
        if self.in_process:
            self.start_worker()
        self.actor.send(job_id)

    def start_worker(self) -> dramatiq.Worker:
        """Start this process's worker (once); it first takes back what a stopped one left."""
        with self._lock:
            if self._worker is None:
                worker = dramatiq.Worker(self.broker, queues={self.queue_name},
                                         worker_threads=self.threads, worker_timeout=100)
                worker.start()
                self._worker = worker
                with self.app.app_context():
                    try:
                        for job_id in jobs.recover(db.session):
                            self.actor.send(job_id)
                    finally:
                        db.session.remove()
            return self._worker

    def drain(self, timeout_s: float = 60) -> None:
        """In-process: wait until every job sent so far has run (tests, benchmarks)."""
        if self.in_process and self._worker is not None:
            self.broker.join(self.queue_name, timeout=int(timeout_s * 1000))
            self._worker.join()

    def stop_worker(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.stop()
                self._worker = None


def install(app: Flask) -> JobQueue:
    from api.extensions import AppSession
    from api.jobs import (  # noqa: F401 (the kinds)
        evidence_pack,
        imports,
        promise_pdf,
        retention_purge,
        thumbnail,
    )

    config = app.config["FIELDVISIT"]
    queue = JobQueue(app, config.job_broker, config.job_threads, config.job_queue,
                     config.job_retry_backoff_ms)
    app.extensions["fieldvisit.jobs"] = queue
    jobs.install(AppSession)
    return queue
