"""Import throughput: 10,000 generated cases, then the same file again, on SQLite and PostgreSQL.

Each import goes the way of `POST /imports` and `fieldvisit import FILE`: the file, on disk, is
checked as it is read and stored, then its job takes it in, reading the stored file as a stream
and committing every `--chunk` records (default FIELDVISIT_IMPORT_CHUNK_ROWS, 2,000); `--direct`
loads the file whole and imports it in one transaction instead, as before imports were jobs
(publishing as the job does: new cases set-based, digests kept). A file of more than 200,000
cases is generated case by case (see `write_file`), so `--cases 1000000` (3.5 GB of JSON) runs
in about a gigabyte of memory; the peak RSS is printed.

Each engine gets a fresh database built by the real Alembic migrations (PostgreSQL: a temporary
database, dropped afterwards). The file comes from `api.services.imports.demo.book` with every case
assigned to a collector, so the import's assignment path runs too. Printed: seconds for the
first import and for the unchanged re-import (each including its commit; "cpu" is this
process's CPU time, which excludes the PostgreSQL server), cases per second, and the ratio
re-import / import. Usage:

    .venv/bin/python bench/import_bench.py [--cases 10000] [--engines sqlite,postgresql]
                                           [--no-collectors] [--later DAYS]
                                           [--direct] [--chunk ROWS] [--users N]
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
import resource
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from flask import current_app  # noqa: E402
from sqlalchemy import event  # noqa: E402

from api import create_app, jobs  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import WRITE_INTENT, db  # noqa: E402
from api.jobs.imports import AFTER_CHUNK, ask_for_job  # noqa: E402
from api.models import ImportRun, Role  # noqa: E402
from api.services.compliance import authorisations  # noqa: E402
from api.services.identity import accounts  # noqa: E402
from api.services.imports import users as users_import  # noqa: E402
from api.services.imports.demo.book import generate_cases_file, iter_cases  # noqa: E402
from api.services.imports.demo.places import DEFAULT_TEAMS, TEAM_NAMES  # noqa: E402
from api.services.imports.demo.seed import assign_collectors  # noqa: E402
from api.services.imports.runs import import_cases, queue_import  # noqa: E402
from bench.databases import database  # noqa: E402
from mobile_sync.changelog import Publisher  # noqa: E402

AS_OF = date(2026, 11, 21)
COLLECTORS_PER_TEAM = 5


IN_MEMORY_UP_TO = 200_000  # larger files are generated case by case (see `write_file`)


@dataclass(frozen=True)
class LenderFile:
    path: Path
    cases: int
    sha256: str


def write_file(n_cases: int, folder: Path, assign: bool = True) -> tuple[LenderFile,
                                                                          dict[str, list[str]]]:
    """The cases file on disk, and the collectors it names. Up to IN_MEMORY_UP_TO cases: the
    demo book's document (`generate_cases_file`, collectors by `assign_collectors`), as the
    figures of earlier sessions were measured with. Larger: written case by case in constant
    memory (`iter_cases`, second loans of the last 20,000 debtors, each debtor's collector
    picked by its ref), so a file of a million cases needs no 15 GB of objects."""
    collectors = {code: [f"{code.lower()}-c{j}" for j in range(1, COLLECTORS_PER_TEAM + 1)]
                  for code, _ in DEFAULT_TEAMS}
    path = folder / f"cases-{n_cases}.json"
    if n_cases <= IN_MEMORY_UP_TO:
        doc = generate_cases_file(n_cases, seed=7, as_of=AS_OF)
        if assign:
            assign_collectors(doc, collectors)
        data = orjson.dumps(doc)
        path.write_bytes(data)
        return LenderFile(path, n_cases, hashlib.sha256(data).hexdigest()), collectors
    digest = hashlib.sha256()
    with path.open("wb") as out:
        def write(data: bytes) -> None:
            digest.update(data)
            out.write(data)

        write(b'{"format":"fieldvisit.cases.v1","as_of":"' + AS_OF.isoformat().encode()
              + b'","cases":[')
        for n, case in enumerate(iter_cases(n_cases, seed=7, as_of=AS_OF, remember=20_000)):
            if assign:
                names = collectors[case["team_code"]]
                ref = case["debtor"]["ref"].encode()
                case["collector_username"] = names[zlib.crc32(ref) % len(names)]
            write((b"," if n else b"") + orjson.dumps(case))
        write(b"]}")
    return LenderFile(path, n_cases, digest.hexdigest()), collectors


def progress_printer(every: int):
    """An AFTER_CHUNK hook printing, every `every` records, the rate (wall and CPU) since the
    last line: how the import's speed moves as the tables grow."""
    last = [0, time.perf_counter(), time.process_time()]

    def hook(_run_id: int, done: int, _total: int | None) -> None:
        if done - last[0] < every:
            return
        now, cpu = time.perf_counter(), time.process_time()
        print(f"    {done:>9,} records: {(done - last[0]) / (now - last[1]):6.0f} cases/s, "
              f"{(cpu - last[2]) * 1e3 / (done - last[0]):5.2f} ms CPU a case; "
              f"peak RSS {peak_rss():,.0f} MB", flush=True)
        last[:] = [done, now, cpu]

    return hook


def run_import(file: LenderFile, actor_id: int, profile: str | None = None,
               as_of: date = AS_OF, direct: bool = False,
               progress=None) -> tuple[float, str]:
    """Seconds for one import, and what the run reports. As a job (default): the file checked
    as it is read from disk and stored, as `POST /imports` and `fieldvisit import` do, then the
    job run here, reading the stored file as a stream and committing a chunk at a time;
    `direct`: the file loaded whole and `import_cases` run in one transaction, as before
    imports were jobs."""
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
        if direct:
            run = import_cases(db.session, cipher, orjson.loads(file.path.read_bytes()),
                               actor_id=actor_id, filename="bench-cases.json",
                               file_sha256=file.sha256, as_of=as_of,
                               publish=Publisher(cipher))
            db.session.commit()
        else:
            db.session.info[WRITE_INTENT] = True
            principal = accounts.Principal(actor_id, Role.ADMIN, None, None)
            with file.path.open("rb") as upload:
                run = queue_import(db.session, current_app.extensions["fieldvisit.blobs"],
                                   upload, kind="cases", file_format="json",
                                   principal=principal, filename="bench-cases.json",
                                   as_of=as_of)
            print(f"    upload checked and stored in {time.perf_counter() - started:.1f} s",
                  flush=True)
            job = ask_for_job(db.session, run, send=False)
            db.session.commit()
            if progress:
                AFTER_CHUNK.append(progress)
            try:
                jobs.run(db.session, job.id)
            finally:
                if progress:
                    AFTER_CHUNK.remove(progress)
            run = db.session.get(ImportRun, run.id, populate_existing=True)
            if run.state != "done":
                raise RuntimeError(f"the import job {run.state}: {run.job.error}")
    finally:
        if profiler is not None:
            profiler.disable()
        event.remove(db.engine, "before_cursor_execute", count)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler is not None:
        profiler.dump_stats(profile)
    errors = json.loads(run.errors or "[]")
    if errors:
        print(f"  first row error: {errors[0]}")
    peak = peak_rss()
    summary = (f"cpu {cpu:.1f} s, {file.cases / cpu:.0f} cases per CPU-second of "
               f"this process; {statements[0]} SQL statements; {run.created} created, "
               f"{run.updated} updated, {run.unchanged} unchanged, {len(errors)} row errors; "
               f"peak RSS so far {peak:,.0f} MB")
    db.session.expunge_all()  # the re-import starts cold, as a new process would
    return elapsed, summary


def bench(engine: str, file: LenderFile, collectors: dict[str, list[str]], every: int | None,
          profile: str | None = None, later: int | None = None, direct: bool = False,
          chunk: int | None = None, users: int = 0) -> None:
    with database(engine) as url, tempfile.TemporaryDirectory() as blobs:
        settings = {"import_chunk_rows": chunk} if chunk else {}
        app = create_app(Config(database_url=url, blob_store=f"local:{blobs}",
                                secret_key="bench-secret", debug=True, **settings))
        with app.app_context():
            admin = accounts.create_user(db.session, username="bench-admin", full_name="Bench",
                                         role=Role.ADMIN, password="bench-password")
            for code, group in DEFAULT_TEAMS:
                team = accounts.create_team(db.session, code, TEAM_NAMES[group])
                for username in collectors[code]:
                    user = accounts.create_user(db.session, username=username,
                                                full_name=username, role=Role.COLLECTOR,
                                                password="bench-password", team_id=team.id)
                    authorisations.grant(db.session, user, certificate_no=f"B-{user.id}",
                                         valid_from=date(2000, 1, 1),
                                         **authorisations.STANDARD)
            db.session.commit()
            admin_id = admin.id
            n = file.cases
            first, run = run_import(file, admin_id,
                                    profile and f"{profile}-{engine}-import.prof",
                                    direct=direct, progress=every and progress_printer(every))
            print(f"{engine:<11} import    {first:7.1f} s  {n / first:7.0f} cases/s  "
                  f"({run})")
            again, run = run_import(file, admin_id,
                                    profile and f"{profile}-{engine}-reimport.prof",
                                    direct=direct, progress=every and progress_printer(every))
            print(f"{engine:<11} re-import {again:7.1f} s  {n / again:7.0f} cases/s  "
                  f"({run})")
            print(f"{engine:<11} ratio re-import / import = {again / first:.2f}")
            if later is not None:
                moved, run = run_import(file, admin_id,
                                        profile and f"{profile}-{engine}-later.prof",
                                        as_of=AS_OF + timedelta(days=later), direct=direct)
                print(f"{engine:<11} {later} days later {moved:5.1f} s  {n / moved:7.0f} "
                      f"cases/s  ({run})")
            if users:
                bench_users(engine, users)
            db.session.remove()
            db.engine.dispose()


def peak_rss() -> float:
    """The most memory this process has held so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_users(engine: str, n: int) -> None:
    """`fieldvisit users import`'s work for `n` collectors: one argon2 hash each."""
    records = [(k + 2, {"username": f"bulk-c{k}", "full_name": f"Bulk {k}", "role": "collector",
                        "team": DEFAULT_TEAMS[k % len(DEFAULT_TEAMS)][0],
                        "password": f"passphrase {k}", "certificate_no": f"BULK-{k}"})
               for k in range(n)]
    started = time.perf_counter()
    run = users_import.import_users(db.session, records, generate_missing=False)
    db.session.commit()
    seconds = time.perf_counter() - started
    print(f"{engine:<11} users     {seconds:7.1f} s  {len(run.created) / seconds:7.1f} users/s  "
          f"({len(run.created)} created, {len(run.errors)} errors; argon2 "
          f"{current_app.config['FIELDVISIT'].argon2_profile}, {os.cpu_count()} threads)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--no-collectors", action="store_true",
                        help="leave collector_username out (cases go to their team only)")
    parser.add_argument("--later", type=int, metavar="DAYS",
                        help="then import the same file as of DAYS later (figures move)")
    parser.add_argument("--direct", action="store_true",
                        help="import_cases in one transaction, not as a job in chunks")
    parser.add_argument("--chunk", type=int, metavar="ROWS",
                        help="records per committed chunk (FIELDVISIT_IMPORT_CHUNK_ROWS)")
    parser.add_argument("--users", type=int, default=0, metavar="N",
                        help="then create N collectors as `fieldvisit users import` does")
    parser.add_argument("--every", type=int, metavar="RECORDS",
                        help="print the rate every RECORDS records (committed chunks)")
    parser.add_argument("--profile", metavar="PREFIX",
                        help="write a cProfile of each import to PREFIX-ENGINE-PHASE.prof")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # migrations and the app log at INFO
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        file, collectors = write_file(args.cases, Path(folder), assign=not args.no_collectors)
        size = file.path.stat().st_size
        print(f"generated {args.cases:,} cases ({size / 1e6:.1f} MB of JSON) "
              f"in {time.perf_counter() - started:.1f} s; collectors named: "
              f"{not args.no_collectors}; peak RSS {peak_rss():,.0f} MB")
        one, five, fifteen = os.getloadavg()
        print(f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs")
        for engine in args.engines.split(","):
            bench(engine, file, collectors, args.every, args.profile, args.later, args.direct,
                  args.chunk, args.users)


if __name__ == "__main__":
    main()
