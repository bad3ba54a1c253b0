"""Background jobs: what the queue adds, and a retention run as a job against the command.

* **round trip** — `--jobs` trivial jobs (one checkpoint each) enqueued and committed one by
  one, through the in-process queue, Redis and RabbitMQ (a worker of 2 threads in this
  process): jobs per second from the first commit to the last finish, and the median and p95
  of commit → `finished_at`;
* **retention dry run** — `--cases` cases (bulk-inserted as in `case_list_bench.py`, half of
  them settled three years ago) judged by `retention.run` in one transaction (the command) and
  by the `retention_purge` job in chunks of 200 that commit: time, cases per second, and the
  ratio job / command.

Usage:

    .venv/bin/python bench/jobs_bench.py [--cases 20000] [--jobs 200] \
        [--engines sqlite,postgresql] [--brokers inprocess,redis,rabbitmq]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, update  # noqa: E402

from api import create_app, jobs  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.jobs.queue import JobQueue  # noqa: E402
from api.models import Case, Job  # noqa: E402
from api.models.types import utcnow  # noqa: E402
from api.services.compliance import retention  # noqa: E402
from bench.case_list_bench import Book  # noqa: E402
from bench.databases import database  # noqa: E402

BROKERS = {"inprocess": "inprocess", "redis": "redis://127.0.0.1:6379/12",
           "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/"}


@jobs.job_kind("bench.tick")
def _tick(ctx: jobs.JobContext) -> None:
    ctx.checkpoint(1, 1)


def round_trip(app, broker: str, n: int) -> str:
    queue = JobQueue(app, BROKERS[broker], threads=2,
                     queue_name=f"fieldvisit-bench-{uuid.uuid4().hex[:8]}")
    original = app.extensions["fieldvisit.jobs"]
    app.extensions["fieldvisit.jobs"] = queue
    try:
        queue.start_worker()
        committed, ids = {}, []
        started = time.perf_counter()
        for _ in range(n):
            job_id = jobs.enqueue(db.session, "bench.tick").id  # read before the commit, so the
            db.session.commit()  # next transaction starts with its write (SQLite)
            committed[job_id] = utcnow()
            ids.append(job_id)
        for job_id in ids:
            jobs.wait(db.session, job_id, 120)
        elapsed = time.perf_counter() - started
        rows = db.session.scalars(select(Job).where(Job.id.in_(ids))).all()
        lags = sorted((r.finished_at - committed[r.id]).total_seconds() * 1000 for r in rows)
        assert all(r.status == "done" for r in rows)
    finally:
        queue.stop_worker()
        if broker != "inprocess":
            queue.broker.flush(queue.queue_name)
            if broker == "rabbitmq":
                for suffix in ("", ".DQ", ".XQ"):
                    queue.broker.channel.queue_delete(f"{queue.queue_name}{suffix}")
        queue.broker.close()
        app.extensions["fieldvisit.jobs"] = original
    p95 = lags[int(0.95 * (len(lags) - 1))]
    return (f"{n / elapsed:8.0f} jobs/s   commit→finished p50 {statistics.median(lags):6.1f} ms"
            f"  p95 {p95:6.1f} ms")


def retention_dry_run(app, n: int) -> tuple[float, float]:
    blobs, cipher = app.extensions["fieldvisit.blobs"], app.extensions["fieldvisit.pii"]
    long_ago = utcnow() - timedelta(days=3 * 365)
    db.session.execute(update(Case).where(Case.id % 2 == 0)
                       .values(status="settled", closed_at=long_ago))
    db.session.commit()
    started = time.perf_counter()
    report = retention.run(db.session, blobs, cipher, utcnow(), dry_run=True)
    db.session.commit()
    command = time.perf_counter() - started
    assert len(report.purged) == n // 2, len(report.purged)
    started = time.perf_counter()
    job_id = jobs.enqueue(db.session, "retention_purge", {"dry_run": True}).id
    db.session.commit()
    end = jobs.wait(db.session, job_id, 3600)
    as_job = time.perf_counter() - started
    assert end.status == "done" and end.done == n, (end.status, end.error, end.done)
    return command, as_job


def bench(engine: str, book: Book, args) -> None:
    with database(engine) as url, tempfile.TemporaryDirectory() as blobs:
        config = Config(database_url=url, blob_store=f"local:{blobs}", testing=True,
                        secret_key="bench-secret")
        app = create_app(dataclasses.replace(config))
        with app.app_context():
            book.load()
            for broker in args.brokers.split(","):
                print(f"{engine:10} round trip {broker:9} {round_trip(app, broker, args.jobs)}")
            command, as_job = retention_dry_run(app, args.cases)
            n = args.cases
            print(f"{engine:10} retention dry run, {n:,} cases: command {command:6.2f} s "
                  f"({n / command:7.0f} cases/s)   job {as_job:6.2f} s ({n / as_job:7.0f} "
                  f"cases/s)   job/command {as_job / command:4.2f}")
            db.session.remove()
            app.extensions["fieldvisit.jobs"].stop_worker()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--brokers", default="inprocess,redis,rabbitmq")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    from api.services.identity.pii import PiiCipher

    book = Book(args.cases, PiiCipher.for_development("bench-secret"))
    for engine in args.engines.split(","):
        bench(engine, book, args)


if __name__ == "__main__":
    main()
