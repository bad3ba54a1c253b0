"""Progress and leaderboard query times for a team of 30 collectors with 50,000 cases, on
SQLite and PostgreSQL.

Rows are bulk-inserted with SQLAlchemy Core into a schema built by the real Alembic migrations:
the big team (30 collectors, `--cases` cases) and a second team (10 collectors, `--other`
cases) whose rows every query must skip. Each case has a 12-instalment schedule and the
payments that put it in its bucket at the start of June 2026 (the demo bucket mix), an
assignment since January (5% handed to another collector on 10 June); in June, payments on
~35% of the cases, field receipts on 5% (half of them posted later by the lender, by receipt
number or as a same-amount payment), promises on 15% (kept, partly kept, broken, pending) and
about six visits a collector a day over 90 days with the flag mix of a field team; plus the
month's targets. Then `ANALYZE`. Timed: `team_progress` for the month, a week and a day, as of
20 June 12:00, for the supervisor and for one collector, and the leaderboard; each call is
rolled back. Usage:

    .venv/bin/python bench/progress_bench.py [--cases N] [--other N] [--runs N]
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
from api.models import (  # noqa: E402
    Assignment,
    Case,
    Debtor,
    Device,
    FieldReceipt,
    Instalment,
    Payment,
    RepaymentPromise,
    Role,
    Target,
    Team,
    User,
    VisitReport,
)
from api.services.casefile.loan_figures import bucket_for  # noqa: E402
from api.services.identity.accounts import Principal  # noqa: E402
from api.services.imports.demo.loans import random_days_past_due  # noqa: E402
from api.services.supervision.leaderboard import leaderboard  # noqa: E402
from api.services.supervision.progress import team_progress  # noqa: E402
from bench.databases import database  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
MONTH = date(2026, 6, 1)
EVE = MONTH - timedelta(days=1)
AS_OF = datetime(2026, 6, 20, 12, tzinfo=ZONE)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)
HANDOVER = datetime(2026, 6, 10, 10, tzinfo=ZONE)
CHUNK = 5000
VISITS_PER_DAY = 6
VISIT_DAYS = 90
FLAG_RATES = {"too_few_collectors": 0.30, "outside_visit_hours": 0.04,
              "far_from_address": 0.08, "location_uncertain": 0.05, "no_gps_fix": 0.02}


def local(day: date, minutes: int) -> datetime:
    return (datetime.combine(day, datetime.min.time(), ZONE)
            + timedelta(minutes=minutes)).astimezone(UTC)


class Book:
    """Every row, made once for both engines."""

    def __init__(self, n_cases: int, n_other: int, seed: int = 9):
        rng = random.Random(seed)
        now = datetime.now(UTC)
        self.rows: dict[type, list[dict]] = {m: [] for m in (
            Team, User, Device, Debtor, Case, Instalment, Assignment, Payment, FieldReceipt,
            RepaymentPromise, VisitReport, Target)}
        r = self.rows
        r[Team] = [{"id": t, "code": f"T{t}", "name": f"Team {t}", "timezone": "Asia/Shanghai",
                    "created_at": now} for t in (1, 2)]
        r[User].append(self._user(1, "admin", Role.ADMIN, None, now))
        self.collectors: dict[int, list[int]] = {}
        for team, size in ((1, 30), (2, 10)):
            r[User].append(self._user(len(r[User]) + 1, f"sup{team}", Role.SUPERVISOR, team, now))
            self.collectors[team] = []
            for j in range(size):
                uid = len(r[User]) + 1
                self.collectors[team].append(uid)
                r[User].append(self._user(uid, f"col{team}-{j}", Role.COLLECTOR, team, now))
        r[Device] = [{"id": str(uuid.UUID(int=u["id"])), "user_id": u["id"], "label": "bench",
                      "platform": "android", "registered_at": now, "last_mutation_id": 0}
                     for u in r[User] if u["role"] == "collector"]
        self.holder: dict[int, int] = {}
        for team, count in ((1, n_cases), (2, n_other)):
            for _ in range(count):
                self._case(rng, team, now)
        self._visits(rng)
        for team, ids in self.collectors.items():
            sup = next(u["id"] for u in r[User] if u["username"] == f"sup{team}")
            per = len([c for c in r[Case] if c["team_id"] == team]) // len(ids)
            for collector_id in [None, *ids]:
                scale = len(ids) if collector_id is None else 1
                r[Target].append({
                    "month": MONTH, "team_id": team, "collector_id": collector_id,
                    "recovered_fen": per * 20_000 * scale, "m1_fen": per * 8_000 * scale,
                    "m2_fen": per * 6_000 * scale, "m3_plus_fen": per * 3_000 * scale,
                    "m2_account_share_bp": 3500, "visits": 150 * scale, "set_by_id": sup,
                    "set_at": now})

    def _case(self, rng: random.Random, team: int, now: datetime) -> None:
        r = self.rows
        n = len(r[Case]) + 1
        collector = rng.choice(self.collectors[team])
        self.holder[n] = collector
        dpd = random_days_past_due(rng)
        amount = rng.randint(500, 15_000) * 100
        # Twelve monthly instalments, `paid_before` of them paid before June; the next one is
        # the oldest unpaid: `dpd` days past due at the end of May (or due in June).
        paid_before = rng.randint(0, 4)
        base = EVE - timedelta(days=dpd) if dpd else EVE + timedelta(days=rng.randint(1, 30))
        dues = [base + timedelta(days=30 * (k - paid_before)) for k in range(12)]
        r[Debtor].append({
            "id": n, "lender_ref": f"D{n}", "name": f"Debtor {n}", "national_id_cipher": b"x",
            "national_id_digest": f"{n:064d}", "national_id_last4": "0000",
            "mobile_phone": None, "home_phone": None, "work_phone": None, "employer": None,
            "risk_notes": None, "timezone": "Asia/Shanghai", "created_at": now,
            "updated_at": now})
        r[Case].append({
            "id": n, "contract_no": f"HT-{n:07d}", "debtor_id": n, "product": "car_loan",
            "currency": "CNY", "principal_fen": amount * 12, "disbursed_on": date(2025, 1, 1),
            "status": "active", "lender_bucket": bucket_for(dpd), "penalty_fen": 0,
            "fees_fen": 0, "penalty_basis": None, "figures_as_of": EVE,
            "total_due_fen": amount * 12, "paid_fen": amount * paid_before,
            "overdue_fen": amount, "outstanding_fen": amount * (12 - paid_before),
            "outstanding_principal_fen": amount * (12 - paid_before), "days_past_due": dpd,
            "periods_overdue": math.ceil(dpd / 30), "bucket": bucket_for(dpd),
            "reminder_class": "C", "next_due_on": None, "team_id": team,
            "collector_id": collector, "version": 1, "created_at": now, "updated_at": now})
        for k, due in enumerate(dues):
            r[Instalment].append({"case_id": n, "seq": k + 1, "due_on": due, "amount_fen": amount,
                                  "principal_fen": amount * 9 // 10})
        for k in range(paid_before):
            r[Payment].append({"case_id": n, "lender_ref": f"H{k}", "paid_on": dues[k],
                               "amount_fen": amount, "method": "bank"})
        if rng.random() < 0.05:  # handed to a colleague on 10 June
            other = rng.choice([c for c in self.collectors[team] if c != collector])
            r[Assignment] += [
                {"case_id": n, "team_id": team, "collector_id": collector, "started_at": LONG_AGO,
                 "ended_at": HANDOVER, "assigned_by_id": None, "reason": "bench"},
                {"case_id": n, "team_id": team, "collector_id": other, "started_at": HANDOVER,
                 "ended_at": None, "assigned_by_id": None, "reason": "bench"}]
            self.holder[n] = other
        else:
            r[Assignment].append({"case_id": n, "team_id": team, "collector_id": collector,
                                  "started_at": LONG_AGO, "ended_at": None,
                                  "assigned_by_id": None, "reason": "bench"})
        for k in range(rng.choice((0, 0, 0, 0, 1, 1, 2)) if rng.random() < 0.5 else 0):
            r[Payment].append({"case_id": n, "lender_ref": f"J{k}",
                               "paid_on": MONTH + timedelta(days=rng.randrange(30)),
                               "amount_fen": rng.randint(1, 10) * amount // 4, "method": "bank"})
        if rng.random() < 0.05:
            taken = local(MONTH + timedelta(days=rng.randrange(25)), rng.randint(540, 1200))
            cash = rng.randint(1, 20) * 10_000
            receipt_no = f"R{n:07d}"
            r[FieldReceipt].append({
                **self._field(n, collector, taken), "visit_report_id": None,
                "receipt_no": receipt_no, "amount_fen": cash, "method": "cash",
                "payer_name": "bench", "paid_at": taken})
            if rng.random() < 0.5:  # the lender posts it a few days later
                posted = taken.astimezone(ZONE).date() + timedelta(days=rng.randint(1, 5))
                r[Payment].append({"case_id": n, "paid_on": posted, "amount_fen": cash,
                                   "lender_ref": receipt_no if rng.random() < 0.5 else "C1",
                                   "method": "cash deposit"})
        if rng.random() < 0.15:
            signed = local(MONTH + timedelta(days=rng.randrange(25)), rng.randint(540, 1200))
            due = signed.astimezone(ZONE).date() + timedelta(days=rng.randint(1, 14))
            total = rng.randint(1, 20) * 10_000
            r[RepaymentPromise].append({
                **self._field(n, collector, signed), "visit_report_id": None,
                "plan": json.dumps([{"due_on": due.isoformat(), "amount_fen": total}]),
                "total_fen": total, "first_due_on": due, "last_due_on": due, "method": "cash",
                "signer_name": "bench", "signed_at": signed,
                "status": rng.choice(("pending", "kept", "partly_kept", "broken")),
                "paid_toward_fen": 0})

    def _visits(self, rng: random.Random) -> None:
        by_collector: dict[int, list[int]] = {}
        for case_id, uid in self.holder.items():
            by_collector.setdefault(uid, []).append(case_id)
        first = MONTH + timedelta(days=29 - VISIT_DAYS)
        for uid, cases in by_collector.items():
            for d in range(VISIT_DAYS):
                day = first + timedelta(days=d)
                for _ in range(VISITS_PER_DAY):
                    started = local(day, rng.randint(7 * 60, 22 * 60))
                    flags = [f for f, rate in FLAG_RATES.items() if rng.random() < rate]
                    self.rows[VisitReport].append({
                        **self._field(rng.choice(cases), uid, started), "supersedes_id": None,
                        "address_id": None, "started_at": started,
                        "ended_at": started + timedelta(minutes=20),
                        "local_day": started.astimezone(ZONE).date(),
                        "collector_ids": json.dumps([uid]), "co_collectors": "[]",
                        "fixes": "[]", "lat": 22.5, "lon": 114.0, "accuracy_m": 10.0,
                        "met": "debtor", "met_contact_id": None, "outcome": "refused",
                        "reason": None, "promised_fen": None, "collected_fen": None,
                        "next_step": "revisit", "follow_up_on": None, "notes": None,
                        "distance_m": 30.0,
                        "geofence": "outside" if "far_from_address" in flags else "inside",
                        "flags": json.dumps(flags), "device_clock_offset_s": None})

    @staticmethod
    def _field(case_id: int, author: int, when: datetime) -> dict:
        return {"id": str(uuid.uuid4()), "case_id": case_id, "author_id": author,
                "device_id": str(uuid.UUID(int=author)), "mutation_id": 1, "client_time": when,
                "received_at": when + timedelta(minutes=3), "case_reassigned": False}

    @staticmethod
    def _user(uid: int, name: str, role: Role, team_id: int | None, now) -> dict:
        return {"id": uid, "username": name, "full_name": name, "role": role.value,
                "team_id": team_id, "password_hash": "x", "is_active": True,
                "token_generation": 0, "created_at": now}

    def load(self) -> float:
        started = time.perf_counter()
        with db.engine.begin() as conn:
            for model, rows in self.rows.items():
                for k in range(0, len(rows), CHUNK):
                    conn.execute(insert(model.__table__), rows[k:k + CHUNK])
            if conn.dialect.name == "postgresql":
                for table in ("teams", "users", "debtors", "cases"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                      f"(SELECT max(id) FROM {table}))"))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            pg = conn.dialect.name == "postgresql"
            conn.execute(text("VACUUM ANALYZE" if pg else "ANALYZE"))
        return time.perf_counter() - started


def timed(fn, runs: int) -> tuple[float, float, object]:
    for _ in range(2):
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
            counts = ", ".join(f"{len(rows):,} {model.__tablename__}"
                               for model, rows in book.rows.items() if len(rows) > 100)
            print(f"\n{engine}: loaded {counts} in {load_s:.1f} s")
            sup = next(u["id"] for u in book.rows[User] if u["username"] == "sup1")
            supervisor = Principal(sup, Role.SUPERVISOR, 1, None)
            collector = Principal(book.collectors[1][0], Role.COLLECTOR, 1, None)
            queries = [
                ("progress: month, team of 30", lambda: team_progress(
                    db.session, supervisor, team_id=1, month=MONTH, as_of=AS_OF)),
                ("progress: week", lambda: team_progress(
                    db.session, supervisor, team_id=1, period="week", day=date(2026, 6, 17),
                    as_of=AS_OF)),
                ("progress: day", lambda: team_progress(
                    db.session, supervisor, team_id=1, period="day", day=date(2026, 6, 19),
                    as_of=AS_OF)),
                ("progress: month, one collector", lambda: team_progress(
                    db.session, collector, team_id=1, month=MONTH, as_of=AS_OF)),
                ("leaderboard: month", lambda: leaderboard(
                    db.session, supervisor, team_id=1, month=MONTH, as_of=AS_OF)),
            ]
            print(f"{'query':<34} {'recovered fen':>15} {'median ms':>10} {'p95 ms':>8}")
            for label, call in queries:
                median, p95, result = timed(call, runs)
                if "collectors" in result and result.get("team"):
                    money = result["team"]["recovered"]["total_fen"]
                elif "rank" in (result["collectors"] or [{}])[0]:
                    money = sum(c["recovered_fen"] for c in result["collectors"])
                else:
                    money = result["collectors"][0]["recovered"]["total_fen"]
                print(f"{label:<34} {money:>15,} {median:>10.1f} {p95:>8.1f}")
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--other", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    started = time.perf_counter()
    book = Book(args.cases, args.other)
    print(f"generated in {time.perf_counter() - started:.1f} s; {args.runs} timed runs per "
          f"query (after 2 warm-up runs), as of {AS_OF.isoformat()}")
    for engine in args.engines.split(","):
        bench(engine, book, args.runs)


if __name__ == "__main__":
    main()
