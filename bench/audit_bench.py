"""Audit appends per second on PostgreSQL: the one global chain against the sharded keyed one.

* **old** — the chain as it was before d3c9f5a7b123, reimplemented here: a database-wide
  advisory lock on every append, the newest row by id read as the previous hash, unkeyed
  SHA-256;
* **new** — `api.services.identity.audit.record`: a lock per shard (the actor's, or the next
  free one), the shard's newest row by its index, HMAC-SHA256.

Each writer is a thread with its own connection appending one row per transaction, as an
audited read does; `--work-ms` keeps each transaction open that long after its append (the rest
of the request: building and sending the answer), which is where a global lock hurts. Writers
act as different users. Prints appends per second for 1 and 4 writers and the ratio new / old
(the median of `--repeat` runs, old and new taking turns, as the machine is shared); then checks
that the new chain verifies and how fast. `--async-commit` sets synchronous_commit off, so a
commit does not wait for the disk and what is left is the appends' own cost.

Usage:

    .venv/bin/python bench/audit_bench.py [--seconds 5] [--writers 1,4] [--work-ms 0,5] \
        [--repeat 3] [--async-commit]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from api import create_app  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.models import AuditEvent, Role  # noqa: E402
from api.models.types import utcnow  # noqa: E402
from api.services.identity import accounts, audit  # noqa: E402
from api.services.identity.accounts import Principal  # noqa: E402
from bench.databases import database  # noqa: E402

OLD_LOCK_KEY = 0x66_76_61_75


def old_record(session: Session, principal: Principal, action: str, detail: dict) -> None:
    """The base commit's append: one lock for the whole database, the newest row by id."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": OLD_LOCK_KEY})
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        occurred_at=utcnow(), actor_id=principal.user_id, device_id=None, action=action,
        case_id=None, detail=json.dumps(detail, sort_keys=True, separators=(",", ":")),
        shard=0, key_id=0, prev_hash=prev or audit.GENESIS,
    )
    event.hash = audit._legacy_hash(event)
    session.add(event)
    session.flush()


def new_record(session: Session, principal: Principal, action: str, detail: dict) -> None:
    audit.record(session, principal, action, detail=detail)


def run(app, append, principals: list[Principal], seconds: float, work_s: float,
        async_commit: bool) -> float:
    """Appends per second of len(principals) writers, each its own connection."""
    keys = app.extensions["fieldvisit.audit"]
    engine = db.engine
    counts = [0] * len(principals)
    start = threading.Barrier(len(principals) + 1)
    stop = threading.Event()

    def writer(slot: int) -> None:
        with Session(engine, info={audit.SESSION_AUDIT_KEYS: keys}) as session:
            if async_commit:
                session.execute(text("SET synchronous_commit = off"))
            session.commit()
            start.wait()
            n = 0
            while not stop.is_set():
                append(session, principals[slot], "case.list", {"case_ids": [slot, n]})
                if work_s:
                    time.sleep(work_s)
                session.commit()
                n += 1
            counts[slot] = n

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(len(principals))]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--writers", default="1,4")
    parser.add_argument("--work-ms", default="0,5")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--async-commit", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    writer_counts = [int(w) for w in args.writers.split(",")]
    works = [float(w) for w in args.work_ms.split(",")]
    with database("postgresql") as url:
        app = create_app(Config(database_url=url, testing=True, argon2_profile="CHEAPEST",
                                secret_key="audit bench secret key, bench data only"))
        with app.app_context():
            users = [accounts.create_user(db.session, username=f"reader{i}",
                                          full_name=f"Reader {i}", role=Role.ADMIN,
                                          password="bench-password-1")
                     for i in range(max(writer_counts))]
            db.session.commit()
            principals = [Principal(u.id, u.role, None, None) for u in users]
            print(f"shards of the writers: {[audit.preferred_shard(p) for p in principals]}")
            print(f"{'work ms':>8} {'writers':>8} {'old /s':>10} {'new /s':>10} {'new/old':>8}")
            for work in works:
                for writers in writer_counts:
                    runs: dict[str, list[float]] = {"old": [], "new": []}
                    for _ in range(args.repeat):
                        for name, append in (("old", old_record), ("new", new_record)):
                            with db.engine.begin() as conn:
                                conn.execute(text("TRUNCATE audit_events RESTART IDENTITY"))
                            runs[name].append(run(app, append, principals[:writers],
                                                  args.seconds, work / 1000, args.async_commit))
                    rates = {name: statistics.median(r) for name, r in runs.items()}
                    print(f"{work:>8g} {writers:>8} {rates['old']:>10.0f} {rates['new']:>10.0f} "
                          f"{rates['new'] / rates['old']:>7.2f}x")
            started = time.perf_counter()
            report = audit.verify_chain(db.session)
            elapsed = time.perf_counter() - started
            print(f"new chain after the last run: {'intact' if report.ok else 'BROKEN'}, "
                  f"{report.rows} rows in {len(report.shards)} shards; "
                  f"verify: {report.rows / elapsed:,.0f} rows/s")
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
