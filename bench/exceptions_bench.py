"""Exceptions-feed scan and list times for a team of 30 collectors holding 50,000 cases, on
SQLite and PostgreSQL.

Rows are bulk-inserted with SQLAlchemy Core (bypassing the push) into a schema built by the real
Alembic migrations: team 1 (30 collectors, `--cases` cases) and team 2 (10 collectors, a tenth
as many), debtors in Asia/Shanghai and Asia/Urumqi; `--visits` visit reports on team 1's cases
over the last 90 days (a tenth as many on team 2's) with the flag mix of `visits_bench.py`;
photos on 93% of them (2% of photos never uploaded); a repayment promise on 8% of cases, first
instalment between 25 days ago and 20 days ahead (so many are overdue and not yet judged
broken); 600 pending and 600 reviewed proposals; one phone per collector, three silent for
days and five collectors with an old replaced phone; then ANALYZE. Timed:

* the first scan (everything is new; re-judges the overdue promises, whose cases' phone
  documents are rebuilt at commit), then the same scan again (nothing to do), a supervisor's
  scan of their team, and the next day's scan (a day later: due dates roll, uploads turn stuck);
* `GET /exceptions` through the WSGI app (token, query parsing, the service, the audit row,
  JSON), page of 50, for a supervisor, an admin and a collector.

Usage:

    .venv/bin/python bench/exceptions_bench.py [--cases N] [--visits N] [--runs N]
        [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from api import create_app  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.models import (  # noqa: E402
    Case,
    Debtor,
    Device,
    EvidenceFile,
    ExceptionItem,
    FieldProposal,
    RepaymentPromise,
    Role,
    Team,
    User,
    VisitReport,
)
from api.services.identity.passwords import hash_password  # noqa: E402
from api.services.identity.pii import PiiCipher  # noqa: E402
from api.services.supervision.exceptions_feed import ScanSettings, scan  # noqa: E402
from bench.databases import database  # noqa: E402
from bench.visits_bench import FLAG_RATES, OUTCOMES  # noqa: E402

PASSWORD = "bench-password"
SECRET = "bench-secret"
CHUNK = 5000
ZONES = ("Asia/Shanghai", "Asia/Urumqi")
VISIT_DAYS = 90


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class FieldBook:
    """Teams, people, phones, cases and what the field filed, made once for both engines."""

    def __init__(self, n_cases: int, n_visits: int, cipher: PiiCipher, seed: int = 9):
        rng = random.Random(seed)
        self.now = now = datetime.now(UTC)
        pw = hash_password(PASSWORD)
        self.teams = [{"id": t, "code": f"T{t}", "name": f"Team {t}", "timezone": ZONES[0],
                       "created_at": now} for t in (1, 2)]
        self.users = [_user(1, "admin", Role.ADMIN, None, pw, now)]
        self.collectors: dict[int, list[int]] = {}
        for team, size in ((1, 30), (2, 10)):
            self.users.append(_user(len(self.users) + 1, f"sup{team}", Role.SUPERVISOR, team,
                                    pw, now))
            self.collectors[team] = []
            for j in range(size):
                uid = len(self.users) + 1
                self.collectors[team].append(uid)
                self.users.append(_user(uid, f"col{team}-{j}", Role.COLLECTOR, team, pw, now))
        self.devices = []
        for k, uid in enumerate(u for ids in self.collectors.values() for u in ids):
            silent_days = 3 + k if k < 3 else 0
            seen = now - timedelta(days=silent_days, hours=rng.uniform(0, 20))
            self.devices.append(_device(uid, uid, seen, now))
            if 3 <= k < 8:  # replaced: the old phone is silent, the new one is not
                self.devices.append(_device(10_000 + uid, uid, now - timedelta(days=20), now))
        self.debtors, self.cases, self.owner = [], [], {}
        for team, share in ((1, n_cases), (2, n_cases // 10)):
            ids = self.collectors[team]
            for k in range(share):
                n = len(self.cases) + 1
                nid = f"44030819900101{n % 10000:04d}"
                self.debtors.append({
                    "id": n, "lender_ref": f"D{n}", "name": f"Debtor {n}",
                    "national_id_cipher": cipher.encrypt(nid),
                    "national_id_digest": f"{n:064d}", "national_id_last4": nid[-4:],
                    "mobile_phone": None, "home_phone": None, "work_phone": None,
                    "employer": None, "risk_notes": None,
                    "timezone": ZONES[0] if n % 10 else ZONES[1],
                    "created_at": now, "updated_at": now})
                self.owner[n] = ids[k % len(ids)]
                self.cases.append(_case(n, team, self.owner[n], now))
        self.visits, self.files = [], []
        for team, count in ((1, n_visits), (2, n_visits // 10)):
            self._visits(rng, team, count)
        self.promises = self._promises(rng)
        self.proposals = self._proposals(rng)

    def _visits(self, rng: random.Random, team: int, n: int) -> None:
        cases = [c["id"] for c in self.cases if c["team_id"] == team]
        for _ in range(n):
            case_id = rng.choice(cases)
            author = self.owner[case_id]
            zone = ZoneInfo(self.debtors[case_id - 1]["timezone"])
            day = (self.now - timedelta(days=rng.randrange(1, VISIT_DAYS))).astimezone(zone)
            started = day.replace(hour=0, minute=0) + timedelta(minutes=rng.randint(7 * 60,
                                                                                    22 * 60))
            flags = [f for f, rate in FLAG_RATES.items() if rng.random() < rate]
            geofence = ("outside" if "far_from_address" in flags else
                        "uncertain" if "location_uncertain" in flags else
                        "no_fix" if "no_gps_fix" in flags else "inside")
            visit_id = _id(rng)
            received = started.astimezone(UTC) + timedelta(minutes=30)
            self.visits.append({
                "id": visit_id, "case_id": case_id, "author_id": author,
                "device_id": str(uuid.UUID(int=author)), "mutation_id": 1,
                "client_time": started, "received_at": received, "case_reassigned": False,
                "supersedes_id": None, "address_id": None, "started_at": started,
                "ended_at": started + timedelta(minutes=20), "local_day": started.date(),
                "collector_ids": json.dumps([author]), "co_collectors": "[]", "fixes": "[]",
                "lat": 22.5, "lon": 114.0, "accuracy_m": 10.0, "met": "debtor",
                "met_contact_id": None, "outcome": rng.choice(OUTCOMES), "reason": None,
                "promised_fen": None, "collected_fen": None, "next_step": "revisit",
                "follow_up_on": None, "notes": "bench",
                "distance_m": 900.0 if geofence == "outside" else 30.0, "geofence": geofence,
                "flags": json.dumps(flags), "device_clock_offset_s": None})
            if rng.random() < 0.07:
                continue  # no photo declared
            for kind in ("doorplate", "site")[: rng.randint(1, 2)]:
                done = rng.random() < 0.98
                self.files.append({
                    "id": _id(rng), "case_id": case_id, "record_type": "visit_report",
                    "record_id": visit_id, "kind": kind, "sha256": "0" * 64, "size": 1000,
                    "mime": "image/jpeg", "captured_at": started, "lat": None, "lon": None,
                    "accuracy_m": None, "uploader_id": author,
                    "device_id": str(uuid.UUID(int=author)), "declared_at": received,
                    "status": "complete" if done else "pending",
                    "storage_key": f"evidence/{case_id}/{visit_id}",
                    "thumbnail_key": None, "completed_at": received if done else None,
                    "exif": None, "flags": "[]", "last_error": None})

    def _promises(self, rng: random.Random) -> list[dict]:
        rows = []
        for case in self.cases:
            if rng.random() >= 0.08:
                continue
            first = self.now.date() + timedelta(days=rng.randint(-25, 20))
            plan = [{"due_on": (first + timedelta(days=30 * k)).isoformat(),
                     "amount_fen": rng.randint(10, 500) * 1000} for k in range(rng.randint(1, 3))]
            total = sum(i["amount_fen"] for i in plan)
            paid = plan[0]["amount_fen"] if rng.random() < 0.3 else 0
            author = self.owner[case["id"]]
            signed = datetime.combine(first, datetime.min.time(), UTC) - timedelta(days=7)
            rows.append({
                "id": _id(rng), "case_id": case["id"], "author_id": author,
                "device_id": str(uuid.UUID(int=author)), "mutation_id": 2, "client_time": signed,
                "received_at": signed, "case_reassigned": False, "visit_report_id": None,
                "plan": json.dumps(plan), "total_fen": total, "first_due_on": first,
                "last_due_on": date.fromisoformat(plan[-1]["due_on"]), "method": "cash",
                "signer_name": "bench", "signer_id_cipher": None, "signer_id_last4": None,
                "signature_file_id": None, "signature_strokes": None, "witness_name": None,
                "place_text": None, "lat": None, "lon": None, "signed_at": signed,
                "pdf_file_id": None, "pdf_sha256": None, "status": "pending",
                "paid_toward_fen": paid})
        return rows

    def _proposals(self, rng: random.Random) -> list[dict]:
        cases = [c["id"] for c in self.cases if c["team_id"] == 1]
        rows = []
        for k in range(1200):
            case_id = rng.choice(cases)
            author = self.owner[case_id]
            at = self.now - timedelta(days=rng.uniform(0, 30))
            reviewed = k % 2 == 1
            rows.append({
                "id": _id(rng), "case_id": case_id, "author_id": author,
                "device_id": str(uuid.UUID(int=author)), "mutation_id": 3, "client_time": at,
                "received_at": at, "case_reassigned": False, "kind": "phone",
                "data": json.dumps({"phone": "+86 139 1234 5678"}), "note": None,
                "status": "accepted" if reviewed else "pending",
                "reviewed_by_id": 2 if reviewed else None,
                "reviewed_at": at if reviewed else None, "review_note": None})
        return rows

    def load(self) -> float:
        started = time.perf_counter()
        with db.engine.begin() as conn:
            for model, rows in ((Team, self.teams), (User, self.users), (Device, self.devices),
                                (Debtor, self.debtors), (Case, self.cases),
                                (VisitReport, self.visits), (EvidenceFile, self.files),
                                (RepaymentPromise, self.promises),
                                (FieldProposal, self.proposals)):
                for k in range(0, len(rows), CHUNK):
                    conn.execute(insert(model.__table__), rows[k:k + CHUNK])
            if conn.dialect.name == "postgresql":
                for table in ("teams", "users", "debtors", "cases"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                      f"(SELECT max(id) FROM {table}))"))
        _analyze()
        return time.perf_counter() - started


def _user(uid: int, name: str, role: Role, team_id: int | None, pw: str, now) -> dict:
    return {"id": uid, "username": name, "full_name": name, "role": role.value,
            "team_id": team_id, "password_hash": pw, "is_active": True, "token_generation": 0,
            "created_at": now}


def _device(n: int, user_id: int, seen: datetime, now: datetime) -> dict:
    return {"id": str(uuid.UUID(int=n)), "user_id": user_id, "label": "bench",
            "platform": "android", "registered_at": now - timedelta(days=60),
            "last_seen_at": seen, "last_mutation_id": 0}


def _case(n: int, team: int, collector: int, now: datetime) -> dict:
    return {"id": n, "contract_no": f"HT-{n:07d}", "debtor_id": n, "product": "car_loan",
            "currency": "CNY", "principal_fen": 1, "disbursed_on": date(2025, 1, 1),
            "status": "active", "lender_bucket": "M2", "penalty_fen": 0, "fees_fen": 0,
            "penalty_basis": None, "figures_as_of": now.date(), "total_due_fen": 1,
            "paid_fen": 0, "overdue_fen": 1, "outstanding_fen": 1,
            "outstanding_principal_fen": 1, "days_past_due": 45, "periods_overdue": 2,
            "bucket": "M2", "reminder_class": "C", "next_due_on": None, "team_id": team,
            "collector_id": collector, "version": 1, "created_at": now, "updated_at": now}


def _analyze() -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # VACUUM too on PostgreSQL: the visibility map lets counts use index-only scans.
        conn.execute(text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))


def timed_scan(settings: ScanSettings, now: datetime, team_id: int | None = None):
    """(scan ms, scan + commit ms, this process's CPU ms, counts)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = scan(db.session, now, settings, team_id=team_id)
    scanned = time.perf_counter() - started
    db.session.commit()
    return (scanned * 1000, (time.perf_counter() - started) * 1000,
            (time.process_time() - cpu) * 1000, result.counts)


def login(client, username: str) -> dict:
    response = client.post("/auth/login", json={
        "username": username, "password": PASSWORD,
        "device": {"id": str(uuid.uuid4()), "label": "bench", "platform": "web"}})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def percentiles(fn: Callable[[], int], runs: int) -> tuple[float, float, int]:
    for _ in range(3):
        fn()
    samples, total = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        total = fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1,
                                                   math.ceil(0.95 * len(samples)) - 1)], total


def bench(engine: str, book: FieldBook, runs: int) -> None:
    with database(engine) as url, tempfile.TemporaryDirectory() as blobs:
        app = create_app(Config(database_url=url, blob_store=f"local:{blobs}",
                                secret_key=SECRET, debug=True))
        with app.app_context():
            load_s = book.load()
            print(f"\n{engine}: loaded {len(book.cases):,} cases, {len(book.visits):,} visits, "
                  f"{len(book.files):,} files, {len(book.promises):,} promises, "
                  f"{len(book.proposals):,} proposals in {load_s:.0f} s")
            settings = ScanSettings.from_config(app.config["FIELDVISIT"])
            now = datetime.now(UTC)
            print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            print(f"{'scan':<38} {'scan ms':>8} {'+commit':>8} {'py cpu':>7}  "
                  "opened resolved rejudged")

            def line(label, scan_ms, total_ms, cpu_ms, counts):
                print(f"{label:<38} {scan_ms:>8.0f} {total_ms:>8.0f} {cpu_ms:>7.0f}  "
                      f"{counts['opened']:>6,} {counts['resolved']:>8,} "
                      f"{counts['promises_rejudged']:>8,}")

            line("first scan, every team", *timed_scan(settings, now))
            _analyze()
            again = [timed_scan(settings, now) for _ in range(max(3, runs // 4))]
            line(f"again, nothing new (median of {len(again)})",
                 *(statistics.median(a[i] for a in again) for i in range(3)), again[-1][3])
            line("supervisor's scan, team 1", *timed_scan(settings, now, team_id=1))
            line("the next day, every team", *timed_scan(settings, now + timedelta(days=1)))
            items = db.session.scalar(select(func.count()).select_from(ExceptionItem))
            print(f"{items:,} exception items")

            client = app.test_client()
            supervisor, admin = login(client, "sup1"), login(client, "admin")
            collector = login(client, "col1-0")
            queries = [
                ("supervisor: own team, newest first", supervisor, {}),
                ("supervisor: page 20", supervisor, {"page": 20}),
                ("supervisor: open broken promises", supervisor,
                 {"kind": "promise_broken", "state": "open"}),
                ("supervisor: visits far or after hours", supervisor,
                 {"kind": ["far_from_address", "outside_visit_hours"]}),
                ("supervisor: silent phones", supervisor, {"kind": "device_silent"}),
                ("admin: everything", admin, {}),
                ("admin: team 2, open", admin, {"team_id": 2, "state": "open"}),
                ("collector: own items", collector, {}),
            ]
            print(f"{'GET /exceptions':<38} {'total':>8} {'median ms':>10} {'p95 ms':>8}")
            for label, headers, query in queries:
                def call(h=headers, q=query) -> int:
                    response = client.get("/exceptions", headers=h, query_string=q)
                    assert response.status_code == 200, response.get_json()
                    return response.get_json()["page"]["total"]

                med, p95, total = percentiles(call, runs)
                print(f"{label:<38} {total:>8,} {med:>10.1f} {p95:>8.1f}")
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # migrations and the app log at INFO
    started = time.perf_counter()
    book = FieldBook(args.cases, args.visits, PiiCipher.for_development(SECRET))
    print(f"generated the book in {time.perf_counter() - started:.1f} s; {args.runs} timed "
          f"runs per list query (after 3 warm-up runs), page size 50")
    for engine in args.engines.split(","):
        bench(engine, book, args.runs)


if __name__ == "__main__":
    main()
