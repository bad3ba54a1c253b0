"""Case search (`GET /cases?q=`) times with 100,000 cases, on SQLite and PostgreSQL.

The case book of `bench/case_list_bench.py` (debtors, addresses, cases, bulk-inserted into a
schema built by the real migrations) plus a contact with a phone for every debtor and a vehicle
(VIN and plate) for every car loan. `api.services.casefile.cases.list_cases` with `q` is timed
for each kind of query, as an admin (who sees every case, so visibility narrows nothing) and as
a collector; each call is rolled back (it writes an audit row). For each query the plan of the
search is checked: "index" when no table is read in full. Usage:

    .venv/bin/python bench/search_bench.py [--cases N] [--runs N] [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from api import create_app  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.models import Case, Collateral, Contact, Role  # noqa: E402
from api.services.casefile import search  # noqa: E402
from api.services.casefile.cases import CaseFilters, list_cases  # noqa: E402
from api.services.casefile.identifiers import vin_check_digit  # noqa: E402
from api.services.identity.access import visible_cases  # noqa: E402
from api.services.identity.accounts import Principal  # noqa: E402
from api.services.identity.pii import PiiCipher  # noqa: E402
from api.services.imports.demo.people import random_mobile  # noqa: E402
from api.services.imports.demo.places import load_places  # noqa: E402
from bench.case_list_bench import CHUNK, Book, timed  # noqa: E402
from bench.databases import database  # noqa: E402

SECRET = "bench-secret"
_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_PLATE_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O (nor Q, to stay clear of the rules)


def vehicles_and_contacts(book: Book, seed: int = 13) -> tuple[list[dict], list[dict]]:
    """A vehicle for each car loan (unique VIN and plate), a contact with a phone per debtor."""
    rng = random.Random(seed)
    places = load_places()
    vehicles, contacts, vins, plates = [], [], set(), set()
    for case in book.cases:
        debtor_id = case["debtor_id"]
        contacts.append({"debtor_id": debtor_id, "lender_ref": "C1", "name": "联系人",
                         "relation": "spouse", "role": "reference",
                         "phone": random_mobile(rng), "knows_of_loan": True})
        if case["product"] != "car_loan":
            continue
        while True:
            body = "LSJ" + "".join(rng.choice(_VIN_CHARS) for _ in range(5)) + "0N" + \
                rng.choice(_VIN_CHARS) + f"{rng.randrange(10**6):06d}"
            vin = body[:8] + vin_check_digit(body) + body[9:]
            if vin not in vins:
                vins.add(vin)
                break
        prefix = places[case["team_id"] - 1].plate_prefix
        while True:
            plate = prefix[0] + rng.choice(prefix[1:]) + "".join(
                rng.choice(_PLATE_CHARS + "0123456789") for _ in range(5))
            if plate not in plates:
                plates.add(plate)
                break
        vehicles.append({"case_id": case["id"], "lender_ref": "V1", "kind": "car", "vin": vin,
                         "engine_no": None, "plate": plate, "make": None, "model": None,
                         "colour": None, "tracker_lat": None, "tracker_lon": None,
                         "tracker_at": None, "repossession_status": "none"})
    return vehicles, contacts


def load_extra(vehicles: list[dict], contacts: list[dict]) -> None:
    with db.engine.begin() as conn:
        for table, rows in ((Collateral, vehicles), (Contact, contacts)):
            for k in range(0, len(rows), CHUNK):
                conn.execute(insert(table.__table__), rows[k:k + CHUNK])
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def full_scans(principal: Principal, q: str, cipher: PiiCipher) -> list[str]:
    """Tables (SQLite) or plan nodes (PostgreSQL) read in full by the search's page query."""
    session = db.session
    dialect = session.get_bind().dialect
    parsed = search.parse_query(q, cipher)
    stmt = (visible_cases(principal, select(Case.id))
            .where(Case.id.in_(search.matching_case_ids(parsed, dialect.name)))
            .order_by(Case.days_past_due.desc(), Case.id).limit(50))
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "sqlite":
        plan = [row[3] for row in session.execute(text("EXPLAIN QUERY PLAN " + sql))]
        found = [line.strip() for line in plan
                 if re.match(r"\s*SCAN (cases|debtors|contacts|collateral)\b", line)]
    else:
        plan = list(session.scalars(text("EXPLAIN " + sql.replace("%%", "%"))))
        found = [line.strip() for line in plan if "Seq Scan" in line]
    session.rollback()
    return found


def bench(engine: str, book: Book, vehicles: list[dict], contacts: list[dict],
          runs: int) -> None:
    with database(engine) as url, tempfile.TemporaryDirectory() as blobs:
        app = create_app(Config(database_url=url, blob_store=f"local:{blobs}", secret_key=SECRET))
        with app.app_context():
            cipher = app.extensions["fieldvisit.pii"]
            load_s = book.load()
            load_extra(vehicles, contacts)
            print(f"\n{engine}: loaded {len(book.cases):,} cases, {len(vehicles):,} vehicles, "
                  f"{len(contacts):,} contacts in {load_s:.1f} s (+ vehicles, contacts)")
            admin = Principal(1, Role.ADMIN, None, None)
            car = vehicles[len(vehicles) // 2]
            case = book.cases[car["case_id"] - 1]
            debtor = book.debtors[case["debtor_id"] - 1]
            collector = Principal(case["collector_id"], Role.COLLECTOR, case["team_id"], None)
            national_id = cipher.decrypt(debtor["national_id_cipher"])
            phone = debtor["mobile_phone"]
            queries = [
                ("plate", f"{car['plate'][:2]}·{car['plate'][2:5]} {car['plate'][5:]}"),
                ("national ID (digest)", national_id),
                ("name (prefix)", debtor["name"]),
                ("VIN last 6", car["vin"][-6:]),
                ("VIN", car["vin"]),
                ("phone", f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"),
                ("contract no", case["contract_no"]),
            ]
            print(f"{'q by':<22} {'who':<10} {'total':>6} {'median ms':>10} {'p95 ms':>8}  plan")
            for label, q in queries:
                for who, principal in (("admin", admin), ("collector", collector)):
                    filters = CaseFilters(q=q)
                    median, p95, (_items, total) = timed(
                        lambda p=principal, f=filters: list_cases(db.session, p, f, cipher), runs)
                    scans = full_scans(principal, q, cipher)
                    verdict = "index" if not scans else "SCAN: " + "; ".join(scans)
                    print(f"{label:<22} {who:<10} {total:>6,} {median:>10.2f} {p95:>8.2f}  "
                          f"{verdict}")
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    started = time.perf_counter()
    book = Book(args.cases, PiiCipher(SECRET))
    vehicles, contacts = vehicles_and_contacts(book)
    print(f"generated {args.cases:,} cases in {time.perf_counter() - started:.1f} s; "
          f"{args.runs} timed runs per query (after 3 warm-up runs), page size 50")
    for engine in args.engines.split(","):
        bench(engine, book, vehicles, contacts, args.runs)


if __name__ == "__main__":
    main()
