"""Case-list query times with 100,000 cases, on SQLite and PostgreSQL.

Rows are bulk-inserted with SQLAlchemy Core (bypassing the import) into a schema built by the
real Alembic migrations, then `api.services.casefile.cases.list_cases` is timed for four reads:
a collector's own list, a supervisor's team list filtered by bucket sorted by days past due,
an admin's dpd-range list and "cases near a point within 5 km" (plus a collector's "near me").
Each call is rolled back (list_cases writes an audit row). Usage:

    .venv/bin/python bench/case_list_bench.py [--cases N] [--runs N] [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from api import create_app  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.models import Address, Case, Debtor, Role, Team, User  # noqa: E402
from api.services.casefile.cases import CaseFilters, list_cases  # noqa: E402
from api.services.casefile.loan_figures import bucket_for  # noqa: E402
from api.services.identity.accounts import Principal  # noqa: E402
from api.services.identity.passwords import hash_password  # noqa: E402
from api.services.imports.demo.loans import random_days_past_due  # noqa: E402
from api.services.imports.demo.people import (  # noqa: E402
    random_mobile,
    random_name,
    random_national_id,
)
from api.services.imports.demo.places import load_places, scatter_point  # noqa: E402
from bench.databases import PG_ADMIN_URL, database  # noqa: E402,F401

AS_OF = date(2026, 11, 21)
CASES_PER_COLLECTOR = 300
CHUNK = 5000


class Book:
    """Rows for teams, users, debtors, addresses and cases, made once for both engines."""

    def __init__(self, n_cases: int, cipher, seed: int = 11):
        rng = random.Random(seed)
        now = datetime.now(UTC)
        places = load_places()
        weights = [math.sqrt(p.population) for p in places]
        homes = rng.choices(range(len(places)), weights, k=n_cases)
        per_place = [homes.count(i) for i in range(len(places))]
        dummy_hash = hash_password("bench-password")
        self.teams = [{"id": i + 1, "code": f"T{p.geonameid}", "name": p.name,
                       "timezone": p.timezone, "created_at": now} for i, p in enumerate(places)]
        self.users: list[dict] = [self._user(1, "admin", Role.ADMIN, None, dummy_hash, now)]
        collectors: list[list[int]] = []
        for i, count in enumerate(per_place):
            self.users.append(self._user(len(self.users) + 1, f"sup{i}", Role.SUPERVISOR, i + 1,
                                         dummy_hash, now))
            ids = []
            for j in range(max(2, round(count / CASES_PER_COLLECTOR))):
                ids.append(len(self.users) + 1)
                self.users.append(self._user(ids[-1], f"col{i}-{j}", Role.COLLECTOR, i + 1,
                                             dummy_hash, now))
            collectors.append(ids)
        self.collectors = collectors
        self.debtors, self.addresses, self.cases = [], [], []
        used: set[str] = set()
        for n, i in enumerate(homes, start=1):
            place = places[i]
            male = rng.random() < 0.6
            born = AS_OF - timedelta(days=rng.randint(22 * 365, 60 * 365))
            nid = random_national_id(rng, rng.choice(place.districts)[1], born, male, used)
            self.debtors.append({
                "id": n, "lender_ref": f"D{n:07d}", "name": random_name(rng, male),
                "national_id_cipher": cipher.encrypt(nid), "national_id_digest": cipher.digest(nid),
                "national_id_last4": nid[-4:], "mobile_phone": random_mobile(rng),
                "home_phone": None, "work_phone": None, "employer": None, "risk_notes": None,
                "timezone": place.timezone, "created_at": now, "updated_at": now})
            for k, kind in enumerate(("home", "work")):
                lat, lon = scatter_point(rng, place.lat, place.lon, 6)
                self.addresses.append({
                    "debtor_id": n, "contact_id": None, "lender_ref": f"A{k + 1}", "kind": kind,
                    "text": f"{place.city}{place.districts[0][0]} {n}-{k}", "lat": lat, "lon": lon,
                    "coord_source": "lender", "source_datum": "WGS84", "confirmed_at": None})
            dpd = random_days_past_due(rng)
            instalment = rng.randint(500, 15_000) * 100
            overdue = instalment * (math.ceil(dpd / 30) if dpd else 0)
            outstanding = overdue + instalment * rng.randint(1, 30)
            assigned = rng.random() < 0.95
            self.cases.append({
                "id": n, "contract_no": f"HT-{n:07d}", "debtor_id": n,
                "product": rng.choice(("consumer_loan", "car_loan", "machinery_finance")),
                "currency": "CNY", "principal_fen": outstanding, "disbursed_on": date(2025, 1, 1),
                "status": "active", "lender_bucket": bucket_for(dpd), "penalty_fen": 0,
                "fees_fen": 0, "penalty_basis": None, "figures_as_of": AS_OF,
                "total_due_fen": outstanding, "paid_fen": 0, "overdue_fen": overdue,
                "outstanding_fen": outstanding, "outstanding_principal_fen": outstanding,
                "days_past_due": dpd, "periods_overdue": math.ceil(dpd / 30),
                "bucket": bucket_for(dpd), "reminder_class": "C" if dpd else "A",
                "next_due_on": AS_OF + timedelta(days=rng.randint(1, 30)), "team_id": i + 1,
                "collector_id": rng.choice(collectors[i]) if assigned else None, "version": 1,
                "created_at": now, "updated_at": now})

    @staticmethod
    def _user(uid: int, name: str, role: Role, team_id: int | None, pw: str, now) -> dict:
        return {"id": uid, "username": name, "full_name": name, "role": role.value,
                "team_id": team_id, "password_hash": pw, "is_active": True,
                "token_generation": 0, "created_at": now}

    def load(self) -> float:
        started = time.perf_counter()
        with db.engine.begin() as conn:
            for table, rows in ((Team, self.teams), (User, self.users), (Debtor, self.debtors),
                                (Address, self.addresses), (Case, self.cases)):
                for k in range(0, len(rows), CHUNK):
                    conn.execute(insert(table.__table__), rows[k:k + CHUNK])
            if conn.dialect.name == "postgresql":
                for table in ("teams", "users", "debtors", "addresses", "cases"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                      f"(SELECT max(id) FROM {table}))"))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        return time.perf_counter() - started


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float, object]:
    for _ in range(3):
        fn()
        db.session.rollback()
    samples, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
        db.session.rollback()
    samples.sort()
    p95 = samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)]
    return statistics.median(samples), p95, result


def bench(engine: str, book: Book, runs: int) -> None:
    with database(engine) as url, tempfile.TemporaryDirectory() as blobs:
        app = create_app(Config(database_url=url, blob_store=f"local:{blobs}",
                                secret_key="bench-secret", debug=True))
        with app.app_context():
            load_s = book.load()
            print(f"\n{engine}: loaded {len(book.cases):,} cases, {len(book.addresses):,} "
                  f"addresses, {len(book.users)} users in {load_s:.1f} s")
            places = load_places()
            big = max(range(len(places)), key=lambda i: len(book.collectors[i]))
            team_id, collector_id = big + 1, book.collectors[big][0]
            sup_id = next(u["id"] for u in book.users
                          if u["role"] == "supervisor" and u["team_id"] == team_id)
            collector = Principal(collector_id, Role.COLLECTOR, team_id, None)
            supervisor = Principal(sup_id, Role.SUPERVISOR, team_id, None)
            admin = Principal(1, Role.ADMIN, None, None)
            shenzhen = next(p for p in places if p.name == "Shenzhen")
            home = next(a for a in book.addresses if a["debtor_id"] == next(
                c["debtor_id"] for c in book.cases if c["collector_id"] == collector_id))
            queries = [
                ("collector: own list", collector, CaseFilters()),
                ("supervisor: team, bucket M2, by dpd", supervisor,
                 CaseFilters(buckets=["M2"], sort="-days_past_due")),
                ("admin: dpd 31-90, by dpd", admin,
                 CaseFilters(dpd_min=31, dpd_max=90, sort="-days_past_due")),
                ("admin: near Shenzhen, 5 km", admin,
                 CaseFilters(near=(shenzhen.lat, shenzhen.lon, 5000), sort="distance")),
                ("collector: near me, 5 km", collector,
                 CaseFilters(near=(home["lat"], home["lon"], 5000), sort="distance")),
            ]
            print(f"{'query':<38} {'total':>7} {'median ms':>10} {'p95 ms':>8}")
            for label, principal, filters in queries:
                median, p95, (_items, total) = timed(
                    lambda p=principal, f=filters: list_cases(db.session, p, f), runs)
                print(f"{label:<38} {total:>7,} {median:>10.1f} {p95:>8.1f}")
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # migrations and the app log at INFO
    started = time.perf_counter()
    from api.services.identity.pii import PiiCipher

    book = Book(args.cases, PiiCipher.for_development("bench-secret"))
    print(f"generated {args.cases:,} cases in {time.perf_counter() - started:.1f} s; "
          f"{args.runs} timed runs per query (after 3 warm-up runs), page size 50")
    for engine in args.engines.split(","):
        bench(engine, book, args.runs)


if __name__ == "__main__":
    main()
