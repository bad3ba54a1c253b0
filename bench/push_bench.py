"""A phone's push of 50 visit reports and one signed promise, on SQLite and PostgreSQL.

One collector holds 60 generated cases; each run pushes 51 mutations (a visit report on each of
50 cases, with its address and a GPS fix, then a promise on the first) through the WSGI app
(token check, schemas, the push, the change log; no sockets). Printed per engine: the push's
wall time (p50 and best of `--runs`), and the SQL statements and commits it sent (counted with
SQLAlchemy's `before_cursor_execute` and `commit` engine events), plus the promise PDF's time to
be ready when it is rendered by a job. Usage:

    .venv/bin/python bench/push_bench.py [--engines sqlite,postgresql] [--runs 15]
        [--profile DIR] [--sql]

`--profile DIR` writes the counted pushes' cProfile to DIR/push-<engine>.prof (read it with
`python -m pstats`); `--sql` prints the last push's statements, grouped by their first words.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter as Tally
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select  # noqa: E402

from api import create_app  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.models import Address, Case, EvidenceFile, RepaymentPromise, Role  # noqa: E402
from api.services.compliance import authorisations  # noqa: E402
from api.services.identity import accounts  # noqa: E402
from api.services.imports.demo.book import generate_cases_file  # noqa: E402
from api.services.imports.runs import import_cases  # noqa: E402
from bench.databases import database  # noqa: E402

AS_OF = date(2026, 11, 21)
PASSWORD = "bench-password"
CASES = 60
VISITS = 50


class Counter:
    """Statements and commits an engine sends from this thread while `on` (not a job's)."""

    def __init__(self, engine):
        self.on, self.statements, self.commits = False, 0, 0
        self.sql: list[str] = []
        self.thread = threading.get_ident()
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, _conn, _cursor, statement, *_args):
        if self.on and threading.get_ident() == self.thread:
            self.statements += 1
            self.sql.append(" ".join(statement.split()[:4])[:70])

    def _commit(self, *_args):
        if self.on and threading.get_ident() == self.thread:
            self.commits += 1


def seed(app) -> tuple[int, list[tuple[int, int | None, float | None, float | None]]]:
    """One collector holding CASES cases: (user id, [(case id, address id, lat, lon)])."""
    with app.app_context():
        team = accounts.create_team(db.session, "B1", "Bench branch")
        user = accounts.create_user(db.session, username="c1", full_name="c1",
                                    role=Role.COLLECTOR, password=PASSWORD, team_id=team.id)
        authorisations.grant(db.session, user, certificate_no="CERT-c1",
                             valid_from=date(2000, 1, 1), **authorisations.STANDARD)
        db.session.commit()
        doc = generate_cases_file(CASES, seed=11, as_of=AS_OF)
        for case in doc["cases"]:
            case["team_code"], case["collector_username"] = "B1", "c1"
        run = import_cases(db.session, app.extensions["fieldvisit.pii"], doc, as_of=AS_OF)
        db.session.commit()
        assert run.errors in ("[]", ""), run.errors[:500]
        targets = []
        for case in db.session.scalars(select(Case).where(Case.collector_id == user.id)
                                       .order_by(Case.id).limit(VISITS)):
            address = db.session.scalar(select(Address).where(
                Address.debtor_id == case.debtor_id).order_by(Address.id).limit(1))
            targets.append((case.id, address and address.id, address and address.lat,
                            address and address.lon))
        user_id = user.id
        db.session.remove()
        return user_id, targets


def visit(case_id, address_id, lat, lon, started: datetime) -> dict:
    return {
        "id": str(uuid.uuid4()), "case_id": case_id, "address_id": address_id,
        "started_at": started.isoformat(),
        "ended_at": (started + timedelta(minutes=12)).isoformat(), "co_collectors": [],
        "fixes": [{"lat": lat or 22.5455, "lon": lon or 114.0683, "accuracy_m": 12.0,
                   "provider": "gps", "mock": False, "fix_time": started.isoformat()}],
        "met": "debtor", "outcome": "promise_to_pay", "reason": "business_cash_flow",
        "promised_fen": 500_000, "next_step": "revisit", "follow_up_on": "2026-11-27",
        "notes": "Shop open, debtor present.",
    }


def promise(case_id, visit_id, signed: datetime) -> dict:
    return {
        "id": str(uuid.uuid4()), "case_id": case_id, "visit_report_id": visit_id,
        "plan": [{"due_on": "2026-12-01", "amount_fen": 300_000},
                 {"due_on": "2027-01-01", "amount_fen": 200_000}],
        "method": "bank_transfer", "signer_name": "张伟",
        "signer_national_id": "440308199901101512",
        "signature_strokes": [[[0, 0], [10, 5], [20, 0]], [[5, 10], [15, 10]]],
        "witness_name": "李娜", "place_text": "深圳市福田区", "lat": 22.5455, "lon": 114.0683,
        "signed_at": signed.isoformat(),
    }


def batch(targets, first_id: int, day: int) -> tuple[list[dict], str]:
    """51 mutations numbered from `first_id`: the visits of one day, then the promise."""
    start = datetime(2026, 11, 2, 9, tzinfo=UTC) + timedelta(days=day)
    mutations = []
    for n, (case_id, address_id, lat, lon) in enumerate(targets):
        started = start + timedelta(minutes=10 * n)
        mutations.append({"type": "visit_report", "client_time": started.isoformat(),
                          "payload": visit(case_id, address_id, lat, lon, started)})
    signed = start + timedelta(minutes=5)
    pledge = promise(targets[0][0], mutations[0]["payload"]["id"], signed)
    mutations.append({"type": "repayment_promise", "client_time": signed.isoformat(),
                      "payload": pledge})
    for n, mutation in enumerate(mutations):
        mutation["mutation_id"] = first_id + n
    return mutations, pledge["id"]


def pdf_ready_ms(app, promise_id: str, started: float, timeout_s: float = 30) -> float | None:
    """Wall time from the push's start until the promise's PDF is stored (None: not seen)."""
    with app.app_context():
        while time.perf_counter() - started < timeout_s:
            db.session.rollback()
            stored = db.session.get(RepaymentPromise, promise_id, populate_existing=True)
            pdf = stored and stored.pdf_file_id and db.session.get(
                EvidenceFile, stored.pdf_file_id, populate_existing=True)
            if pdf is not None and pdf.status.value == "complete":
                db.session.remove()
                return (time.perf_counter() - started) * 1000
            time.sleep(0.005)
        db.session.remove()
    return None


def bench(engine: str, runs: int, profile: Path | None = None, sql: bool = False) -> None:
    with database(engine) as url, tempfile.TemporaryDirectory() as tmp:
        app = create_app(Config(database_url=url, blob_store=f"local:{tmp}/blobs",
                                secret_key="bench-secret", debug=True, argon2_profile="CHEAPEST"))
        _, targets = seed(app)
        client = app.test_client()
        login = client.post("/auth/login", json={"username": "c1", "password": PASSWORD,
                                                 "device": {"id": str(uuid.uuid4())}}).get_json()
        headers = {"Authorization": f"Bearer {login['access_token']}"}
        with app.app_context():
            counter = Counter(db.engine)
        times, statements, commits, ready = [], [], [], []
        profiler = cProfile.Profile() if profile else None
        next_id = 1
        for run in range(runs + 1):  # the first run warms caches and is not counted
            mutations, promise_id = batch(targets, next_id, run)
            next_id += len(mutations)
            counter.statements = counter.commits = 0
            counter.sql = []
            counter.on = True
            if profiler and run:
                profiler.enable()
            started = time.perf_counter()
            answer = client.post("/sync/push", headers=headers, json={
                "device_id": login["device_id"], "mutations": mutations})
            elapsed = (time.perf_counter() - started) * 1000
            if profiler:
                profiler.disable()
            counter.on = False
            results = answer.get_json()["results"]
            statuses = {r["status"] for r in results}
            assert answer.status_code == 200 and statuses == {"applied"}, (
                answer.status_code, [r for r in results if r["status"] != "applied"][:2])
            made = pdf_ready_ms(app, promise_id, started)
            if run:
                times.append(elapsed)
                statements.append(counter.statements)
                commits.append(counter.commits)
                if made is not None:
                    ready.append(made)
        print(f"{engine}: push of {VISITS} visit reports + 1 promise ({VISITS + 1} mutations), "
              f"{runs} runs")
        print(f"  wall time p50 {statistics.median(times):7.1f} ms, best {min(times):7.1f} ms "
              f"({statistics.median(times) / (VISITS + 1):.2f} ms per mutation)")
        print(f"  SQL statements {statistics.median(statements):.0f}, "
              f"commits {statistics.median(commits):.0f} (p50)")
        if ready:
            print(f"  promise PDF stored {statistics.median(ready):7.1f} ms after the push began "
                  f"(p50)")
        if sql:
            for words, n in Tally(counter.sql).most_common():
                print(f"    {n:4d}  {words}")
        if profiler:
            profile.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(profile / f"push-{engine}.prof")
        with app.app_context():
            queue = app.extensions.get("fieldvisit.jobs")
            if queue is not None:
                queue.stop_worker()
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--profile", type=Path, help="write cProfile stats to this folder")
    parser.add_argument("--sql", action="store_true", help="print the last push's statements")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # migrations and the app log at INFO
    for engine in args.engines.split(","):
        bench(engine, args.runs, args.profile, args.sql)


if __name__ == "__main__":
    main()
