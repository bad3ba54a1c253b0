"""`GET /visits` page times with a team of 30 collectors and 200,000 visit reports, on SQLite
and PostgreSQL.

Rows are bulk-inserted with SQLAlchemy Core (bypassing the push) into a schema built by the
real Alembic migrations: two teams (30 and 10 collectors, 300 cases each, debtors split between
Asia/Shanghai and Asia/Urumqi), `--visits` reports on the big team's cases and `--other` on the
small team's, over 180 days, with the flag mix a field team produces; then `ANALYZE`. Timed
through the WSGI app (token check, query parsing, the service, the audit row, JSON), page of 50.
Usage:

    .venv/bin/python bench/visits_bench.py [--visits N] [--other N] [--runs N]
        [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from api import create_app  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.models import Case, Debtor, Device, Role, Team, User, VisitReport  # noqa: E402
from api.services.identity.accounts import hash_password  # noqa: E402
from bench.databases import database  # noqa: E402

PASSWORD = "bench-password"
CASES_PER_COLLECTOR = 300
CHUNK = 5000
FIRST_DAY = date(2026, 6, 1)
DAYS = 180
ZONES = ("Asia/Shanghai", "Asia/Urumqi")
# Share of reports carrying each flag (a lone collector is common, a mock location rare).
FLAG_RATES = {
    "too_few_collectors": 0.30,
    "unverified_co_collector": 0.03,
    "outside_visit_hours": 0.04,
    "far_from_address": 0.08,
    "location_uncertain": 0.05,
    "no_gps_fix": 0.02,
    "mock_location": 0.005,
    "device_clock_offset": 0.01,
}
OUTCOMES = ("promise_to_pay", "paid", "partial_payment", "refused", "debtor_absent", "moved")


class Book:
    """Teams, users, devices, debtors, cases and visit reports, made once for both engines."""

    def __init__(self, n_visits: int, n_other: int, seed: int = 5):
        rng = random.Random(seed)
        now = datetime.now(UTC)
        pw = hash_password(PASSWORD)
        self.teams = [{"id": t, "code": f"T{t}", "name": f"Team {t}", "timezone": ZONES[0],
                       "created_at": now} for t in (1, 2)]
        self.users = [self._user(1, "admin", Role.ADMIN, None, pw, now)]
        self.collectors: dict[int, list[int]] = {}
        for team, size in ((1, 30), (2, 10)):
            self.users.append(self._user(len(self.users) + 1, f"sup{team}", Role.SUPERVISOR,
                                         team, pw, now))
            self.collectors[team] = []
            for j in range(size):
                uid = len(self.users) + 1
                self.collectors[team].append(uid)
                self.users.append(self._user(uid, f"col{team}-{j}", Role.COLLECTOR, team, pw, now))
        self.devices = [{"id": str(uuid.UUID(int=u["id"])), "user_id": u["id"], "label": "bench",
                         "platform": "android", "registered_at": now, "last_mutation_id": 0}
                        for u in self.users if u["role"] == "collector"]
        self.debtors, self.cases, self.case_owner = [], [], {}
        for team, ids in self.collectors.items():
            for uid in ids:
                for _ in range(CASES_PER_COLLECTOR):
                    n = len(self.cases) + 1
                    self.debtors.append({
                        "id": n, "lender_ref": f"D{n}", "name": f"Debtor {n}",
                        "national_id_cipher": b"x", "national_id_digest": f"{n:064d}",
                        "national_id_last4": "0000", "mobile_phone": None, "home_phone": None,
                        "work_phone": None, "employer": None, "risk_notes": None,
                        "timezone": ZONES[n % 2], "created_at": now, "updated_at": now})
                    self.cases.append({
                        "id": n, "contract_no": f"HT-{n:07d}", "debtor_id": n,
                        "product": "car_loan", "currency": "CNY", "principal_fen": 1,
                        "disbursed_on": date(2025, 1, 1), "status": "active",
                        "lender_bucket": "M2", "penalty_fen": 0, "fees_fen": 0,
                        "penalty_basis": None, "figures_as_of": FIRST_DAY, "total_due_fen": 1,
                        "paid_fen": 0, "overdue_fen": 1, "outstanding_fen": 1,
                        "outstanding_principal_fen": 1, "days_past_due": 45,
                        "periods_overdue": 2, "bucket": "M2", "reminder_class": "C",
                        "next_due_on": None, "team_id": team, "collector_id": uid, "version": 1,
                        "created_at": now, "updated_at": now})
                    self.case_owner[n] = uid
        self.visits = self._visits(rng, 1, n_visits) + self._visits(rng, 2, n_other)

    def _visits(self, rng: random.Random, team: int, n: int) -> list[dict]:
        cases = [c["id"] for c in self.cases if c["team_id"] == team]
        rows = []
        for _ in range(n):
            case_id = rng.choice(cases)
            author = self.case_owner[case_id]
            zone = ZoneInfo(ZONES[case_id % 2])
            local = datetime.combine(FIRST_DAY + timedelta(days=rng.randrange(DAYS)),
                                     datetime.min.time(), zone) + timedelta(
                minutes=rng.randint(7 * 60, 22 * 60))
            started = local.astimezone(UTC)
            flags = [f for f, rate in FLAG_RATES.items() if rng.random() < rate]
            geofence = ("outside" if "far_from_address" in flags else
                        "uncertain" if "location_uncertain" in flags else
                        "no_fix" if "no_gps_fix" in flags else "inside")
            rows.append({
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "case_id": case_id,
                "author_id": author, "device_id": str(uuid.UUID(int=author)), "mutation_id": 1,
                "client_time": started, "received_at": started, "case_reassigned": False,
                "supersedes_id": None, "address_id": None, "started_at": started,
                "ended_at": started + timedelta(minutes=20), "local_day": local.date(),
                "collector_ids": json.dumps([author]), "co_collectors": "[]",
                "fixes": "[]", "lat": 22.5, "lon": 114.0, "accuracy_m": 10.0, "met": "debtor",
                "met_contact_id": None, "outcome": rng.choice(OUTCOMES), "reason": None,
                "promised_fen": None, "collected_fen": None, "next_step": "revisit",
                "follow_up_on": None, "notes": "bench", "distance_m": 30.0,
                "geofence": geofence, "flags": json.dumps(flags), "device_clock_offset_s": None})
        return rows

    @staticmethod
    def _user(uid: int, name: str, role: Role, team_id: int | None, pw: str, now) -> dict:
        return {"id": uid, "username": name, "full_name": name, "role": role.value,
                "team_id": team_id, "password_hash": pw, "is_active": True,
                "token_generation": 0, "created_at": now}

    def load(self) -> float:
        started = time.perf_counter()
        with db.engine.begin() as conn:
            for model, rows in ((Team, self.teams), (User, self.users), (Device, self.devices),
                                (Debtor, self.debtors), (Case, self.cases),
                                (VisitReport, self.visits)):
                for k in range(0, len(rows), CHUNK):
                    conn.execute(insert(model.__table__), rows[k:k + CHUNK])
            if conn.dialect.name == "postgresql":
                for table in ("teams", "users", "debtors", "cases"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                      f"(SELECT max(id) FROM {table}))"))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # VACUUM too on PostgreSQL: it sets the visibility map autovacuum keeps in a live
            # database, without which counts cannot use index-only scans.
            pg = conn.dialect.name == "postgresql"
            conn.execute(text("VACUUM ANALYZE" if pg else "ANALYZE"))
        return time.perf_counter() - started


def login(client, username: str) -> dict:
    response = client.post("/auth/login", json={
        "username": username, "password": PASSWORD,
        "device": {"id": str(uuid.uuid4()), "label": "bench", "platform": "web"}})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def timed(client, headers: dict, query: dict, runs: int) -> tuple[float, float, int]:
    def call():
        response = client.get("/visits", headers=headers, query_string=query)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["page"]["total"]

    for _ in range(3):
        call()
    samples, total = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        total = call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)]
    return statistics.median(samples), p95, total


def bench(engine: str, book: Book, runs: int) -> None:
    with database(engine) as url, tempfile.TemporaryDirectory() as blobs:
        app = create_app(Config(database_url=url, blob_store=f"local:{blobs}",
                                secret_key="bench-secret"))
        with app.app_context():
            load_s = book.load()
            print(f"\n{engine}: loaded {len(book.visits):,} visits, {len(book.cases):,} cases, "
                  f"{len(book.users)} users in {load_s:.1f} s")
            client = app.test_client()
            supervisor, admin = login(client, "sup1"), login(client, "admin")
            collector = login(client, "col1-0")
            day = (FIRST_DAY + timedelta(days=DAYS // 2)).isoformat()
            queries = [
                ("supervisor: own team, newest first", supervisor, {"team_id": 1}),
                ("supervisor: team, page 40", supervisor, {"team_id": 1, "page": 40}),
                ("supervisor: team + one day", supervisor,
                 {"team_id": 1, "date_from": day, "date_to": day}),
                ("supervisor: team + far_from_address", supervisor,
                 {"team_id": 1, "flag": "far_from_address"}),
                ("supervisor: team + mock_location", supervisor,
                 {"team_id": 1, "flag": "mock_location"}),
                ("supervisor: team + day + flag", supervisor,
                 {"team_id": 1, "date_from": day, "date_to": day, "flag": "far_from_address"}),
                ("admin: team filter", admin, {"team_id": 1}),
                ("collector: own cases", collector, {}),
            ]
            print(f"{'query':<40} {'total':>8} {'median ms':>10} {'p95 ms':>8}")
            for label, headers, query in queries:
                median, p95, total = timed(client, headers, query, runs)
                print(f"{label:<40} {total:>8,} {median:>10.1f} {p95:>8.1f}")
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visits", type=int, default=200_000)
    parser.add_argument("--other", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # migrations and the app log at INFO
    started = time.perf_counter()
    book = Book(args.visits, args.other)
    print(f"generated {len(book.visits):,} visits in {time.perf_counter() - started:.1f} s; "
          f"{args.runs} timed runs per query (after 3 warm-up runs), page size 50")
    for engine in args.engines.split(","):
        bench(engine, book, args.runs)


if __name__ == "__main__":
    main()
