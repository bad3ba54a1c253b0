"""Import throughput: 10,000 generated cases, then the same file again, on SQLite and PostgreSQL.

Each engine gets a fresh database built by the real Alembic migrations (PostgreSQL: a temporary
database, dropped afterwards). The file comes from `api.services.imports.demo.book` with every case
assigned to a collector, so the import's assignment path runs too. Printed: seconds for the
first import and for the unchanged re-import (each including its commit; "cpu" is this
process's CPU time, which excludes the PostgreSQL server), cases per second, and the ratio
re-import / import. Usage:

    .venv/bin/python bench/import_bench.py [--cases 10000] [--engines sqlite,postgresql]
                                           [--no-collectors] [--later DAYS]
                                           [--profile PREFIX]

`--later DAYS` imports the same file once more as of DAYS later, as a daily file would arrive:
the figures of most cases move, so most cases are updated. `--profile PREFIX` writes a cProfile
of each timed import to PREFIX-ENGINE-PHASE.prof (read them with `python -m pstats`); timings
then include the profiler's overhead. The SQL statements each import sends through SQLAlchemy
are counted too (a PostgreSQL COPY is one statement the count does not see).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import current_app  # noqa: E402
from sqlalchemy import event  # noqa: E402

from api import create_app  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.models import Role  # noqa: E402
from api.services.identity import accounts  # noqa: E402
from api.services.imports.demo.book import generate_cases_file  # noqa: E402
from api.services.imports.demo.places import DEFAULT_TEAMS, TEAM_NAMES  # noqa: E402
from api.services.imports.demo.seed import assign_collectors  # noqa: E402
from api.services.imports.runs import import_cases  # noqa: E402
from bench.databases import database  # noqa: E402

AS_OF = date(2026, 11, 21)
COLLECTORS_PER_TEAM = 5


def build_file(n_cases: int, assign: bool = True) -> tuple[dict, dict[str, list[str]], str]:
    doc = generate_cases_file(n_cases, seed=7, as_of=AS_OF)
    collectors = {code: [f"{code.lower()}-c{j}" for j in range(1, COLLECTORS_PER_TEAM + 1)]
                  for code, _ in DEFAULT_TEAMS}
    if assign:
        assign_collectors(doc, collectors)
    sha = hashlib.sha256(json.dumps(doc, ensure_ascii=False, sort_keys=True).encode())
    return doc, collectors, sha.hexdigest()


def run_import(doc: dict, sha: str, actor_id: int, profile: str | None = None,
               as_of: date = AS_OF) -> tuple[float, str]:
    """Seconds for one import and its commit, and what the run reports."""
    cipher = current_app.extensions["fieldvisit.pii"]
    statements = [0]

    def count(*_args) -> None:
        statements[0] += 1

    event.listen(db.engine, "before_cursor_execute", count)
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    try:
        run = import_cases(db.session, cipher, doc, actor_id=actor_id,
                           filename="bench-cases.json", file_sha256=sha, as_of=as_of)
        db.session.commit()
    finally:
        if profiler is not None:
            profiler.disable()
        event.remove(db.engine, "before_cursor_execute", count)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler is not None:
        profiler.dump_stats(profile)
    errors = json.loads(run.errors or "[]")
    summary = (f"cpu {cpu:.1f} s; {statements[0]} SQL statements; {run.created} created, "
               f"{run.updated} updated, {run.unchanged} unchanged, {len(errors)} row errors")
    db.session.expunge_all()  # the re-import starts cold, as a new process would
    return elapsed, summary


def bench(engine: str, doc: dict, collectors: dict[str, list[str]], sha: str,
          profile: str | None = None, later: int | None = None) -> None:
    with database(engine) as url, tempfile.TemporaryDirectory() as blobs:
        app = create_app(Config(database_url=url, blob_store=f"local:{blobs}",
                                secret_key="bench-secret", debug=True))
        with app.app_context():
            admin = accounts.create_user(db.session, username="bench-admin", full_name="Bench",
                                         role=Role.ADMIN, password="bench-password")
            for code, group in DEFAULT_TEAMS:
                team = accounts.create_team(db.session, code, TEAM_NAMES[group])
                for username in collectors[code]:
                    accounts.create_user(db.session, username=username, full_name=username,
                                         role=Role.COLLECTOR, password="bench-password",
                                         team_id=team.id)
            db.session.commit()
            admin_id = admin.id
            n = len(doc["cases"])
            first, run = run_import(doc, sha, admin_id,
                                    profile and f"{profile}-{engine}-import.prof")
            print(f"{engine:<11} import    {first:7.1f} s  {n / first:7.0f} cases/s  "
                  f"({run})")
            again, run = run_import(doc, sha, admin_id,
                                    profile and f"{profile}-{engine}-reimport.prof")
            print(f"{engine:<11} re-import {again:7.1f} s  {n / again:7.0f} cases/s  "
                  f"({run})")
            print(f"{engine:<11} ratio re-import / import = {again / first:.2f}")
            if later is not None:
                moved, run = run_import(doc, sha, admin_id,
                                        profile and f"{profile}-{engine}-later.prof",
                                        as_of=AS_OF + timedelta(days=later))
                print(f"{engine:<11} {later} days later {moved:5.1f} s  {n / moved:7.0f} "
                      f"cases/s  ({run})")
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--no-collectors", action="store_true",
                        help="leave collector_username out (cases go to their team only)")
    parser.add_argument("--later", type=int, metavar="DAYS",
                        help="then import the same file as of DAYS later (figures move)")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="write a cProfile of each import to PREFIX-ENGINE-PHASE.prof")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # migrations and the app log at INFO
    started = time.perf_counter()
    doc, collectors, sha = build_file(args.cases, assign=not args.no_collectors)
    size = len(json.dumps(doc, ensure_ascii=False).encode())
    print(f"generated {args.cases:,} cases ({size / 1e6:.1f} MB of JSON) "
          f"in {time.perf_counter() - started:.1f} s; collectors named: {not args.no_collectors}")
    one, five, fifteen = os.getloadavg()
    print(f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs")
    for engine in args.engines.split(","):
        bench(engine, doc, collectors, sha, args.profile, args.later)


if __name__ == "__main__":
    main()
