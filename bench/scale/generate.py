"""A mid-size lender's case file on PostgreSQL, fast: N cases (default 1,000,000) for M collectors
(default 10,000, about 100 cases each), bulk-loaded with COPY into a database built by the real
Alembic migrations.

Per case: a debtor (national ID sealed and digested with the app's PII cipher, a valid GB 11643
number unique by construction), 1–3 contacts, 1–3 addresses (geocoded around the team's place),
a vehicle or machine for secured loans, 4–12 instalments, the open assignment, and what the
change log writes at commit (`mobile_sync.changelog.publish`): the sealed device document built
by the app's own `mobile_sync.documents.build_documents` and a `put` change row to the holder's
bucket with the loading transaction's id. Teams of 25 collectors (one place each, a supervisor
each), an admin, an authorisation for every collector (any lender, CN), one device per user;
every user has the same argon2 hash (of `bench.scale.keys.PASSWORD`).

Chunks of `--chunk` cases are generated, copied and published by `--workers` processes, each
chunk in one transaction. Usage:

    .venv/bin/python bench/scale/generate.py [--cases 1000000] [--collectors 10000]
        [--workers 2] [--chunk 5000] [--database-url URL | --name NAME] [--keep]

Without `--keep` the database is dropped at the end (a dry run of the loader's speed); with it,
the URL to hand to `bench/scale/storm.py --database-url` is printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import multiprocessing
import random
import sys
import time
import uuid
from collections import defaultdict, namedtuple
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.databases import PG_ADMIN_URL, migrate  # noqa: E402
from bench.scale import keys  # noqa: E402

AS_OF = date(2026, 11, 21)
COLLECTORS_PER_TEAM = 25
# Household-registration regions of debtors: real codes outside the demo's places, so a demo
# import file (api.services.imports.demo.book) never draws a number already loaded here.
REGIONS = ("630102", "640104", "150102", "220102", "520102", "360102", "450102", "620102",
           "410102", "370102")
BORN_DAYS = 14_000  # birth dates from 1966-01-01 on
# Id strides: a case's children get ids (case id - 1) * stride + k + 1, unique without a look-up.
CONTACTS_MAX, ADDRESSES_MAX, INSTALMENTS_MAX = 3, 3, 12
STREETS = ("人民路", "解放路", "建设路", "中山路", "和平路", "新华路", "胜利路", "长江路")
ESTATES = ("阳光", "金色", "翠苑", "锦绣", "华府", "明珠", "碧水", "东方")
VILLAGES = ("王家", "李庄", "张湾", "刘集", "陈岗", "杨店")
FIRMS = ("科技", "贸易", "物流", "建筑", "餐饮", "制造")
MAKES = (("比亚迪", "秦"), ("吉利", "帝豪"), ("大众", "朗逸"), ("丰田", "卡罗拉"),
         ("长城", "哈弗H6"))
MACHINES = (("三一", "SY215C"), ("徐工", "XE200"), ("柳工", "CLG922"))
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
RELATIONS = ("spouse", "parent", "sibling", "friend", "colleague")
DOCUMENTS_BATCH = 1000  # --documents database: cases per build_documents call


def national_id(n: int) -> tuple[str, bool]:
    """A valid, unique-by-construction national ID for debtor n, and whether male."""
    from api.services.imports.demo.people import national_id_check_digit

    k, r = divmod(n - 1, len(REGIONS))
    born = date(1966, 1, 1) + timedelta(days=k % BORN_DAYS)
    male = n % 5 < 3
    seq = (k // BORN_DAYS) * 10 + (n % 5) * 2 + (1 if male else 0)
    body = f"{REGIONS[r]}{born:%Y%m%d}{seq:03d}"
    return body + national_id_check_digit(body), male


class Org:
    """Teams, users and their ids: team t (1-based) has supervisor and 25 collectors."""

    def __init__(self, n_collectors: int):
        from api.services.imports.demo.places import load_places

        self.places = load_places()
        if used := set(REGIONS) & {code for p in self.places for _, code in p.districts}:
            raise ValueError(f"regions {sorted(used)} are the demo's: its imports would collide")
        self.n_collectors = n_collectors
        self.n_teams = math.ceil(n_collectors / COLLECTORS_PER_TEAM)
        # ids: 1 admin, 2..n_teams+1 supervisors, then the collectors
        self.first_collector = self.n_teams + 2

    def team_of_collector(self, c: int) -> int:  # c: 0-based collector index
        return c // COLLECTORS_PER_TEAM + 1

    def place_of_team(self, team: int):
        return self.places[(team - 1) % len(self.places)]

    def collector_id(self, c: int) -> int:
        return self.first_collector + c

    @staticmethod
    def collector_name(c: int) -> str:
        return f"col{c:05d}"

    @staticmethod
    def supervisor_name(team: int) -> str:
        return f"sup{team:04d}"

    def collector_of_case(self, n: int) -> int:
        """0-based collector index: cases spread evenly, each collector's scattered by id."""
        return (n * 7919) % self.n_collectors


def device_id(username: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fieldvisit-scale-bench/{username}"))


def load_org(conn, org: Org) -> int:
    """Teams, users, devices and authorisations; answers the number of users."""
    from api.services.identity.passwords import hash_password

    now = datetime.now(UTC)
    pw = hash_password(keys.PASSWORD)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy("COPY teams (id, code, name, timezone, created_at) FROM STDIN") as cp:
            for t in range(1, org.n_teams + 1):
                place = org.place_of_team(t)
                cp.write_row((t, f"S{t:04d}", f"{place.name} {t}", place.timezone, now))
        users = [(1, "admin", "Bench Admin", "admin", None, None, None)]
        for t in range(1, org.n_teams + 1):
            users.append((t + 1, org.supervisor_name(t), f"Supervisor {t}", "supervisor", t,
                          None, None))
        for c in range(org.n_collectors):
            t = org.team_of_collector(c)
            place = org.place_of_team(t)
            users.append((org.collector_id(c), org.collector_name(c), f"Collector {c}",
                          "collector", t, place.lat, place.lon))
        with cur.copy("COPY users (id, username, full_name, role, team_id, password_hash, "
                      "is_active, token_generation, created_at, base_lat, base_lon) "
                      "FROM STDIN") as cp:
            for uid, name, full, role, team, lat, lon in users:
                cp.write_row((uid, name, full, role, team, pw, True, 0, now, lat, lon))
        with cur.copy("COPY devices (id, user_id, label, platform, registered_at, "
                      "last_mutation_id) FROM STDIN") as cp:
            for uid, name, *_ in users:
                cp.write_row((device_id(name), uid, "bench phone", "android-14", now, 0))
        with cur.copy("COPY collector_authorisations (collector_id, lender, jurisdiction, "
                      "certificate_no, valid_from, granted_at) FROM STDIN") as cp:
            for c in range(org.n_collectors):
                cp.write_row((org.collector_id(c), "*", "CN", f"CERT-{c:06d}",
                              date(2024, 1, 1), now))
    return len(users)


# --------------------------------------------------------------------------- one chunk


class Chunk:
    """The rows of cases lo..hi-1, seeded by lo (the same rows whoever generates them)."""

    def __init__(self, org: Org, cipher, lo: int, hi: int):
        from api.services.casefile.loan_figures import bucket_for
        from api.services.imports.demo.loans import random_days_past_due
        from api.services.imports.demo.people import random_mobile, random_name
        from api.services.imports.demo.places import scatter_point

        rng = random.Random(lo)
        now = datetime.now(UTC)
        self.debtors, self.contacts, self.addresses = [], [], []
        self.cases, self.collateral, self.instalments, self.assignments = [], [], [], []
        # Sealed per pattern would be cheaper still; AES-GCM per row costs ~5 us, so no need.
        for n in range(lo, hi):
            c = org.collector_of_case(n)
            team = org.team_of_collector(c)
            place = org.place_of_team(team)
            nid, male = national_id(n)
            name = random_name(rng, male)
            self.debtors.append((
                n, f"D{n:08d}", name, cipher.encrypt(nid), cipher.digest(nid), nid[-4:],
                random_mobile(rng),
                f"{place.area_code}-{rng.randint(2, 8)}{rng.randrange(10**7):07d}"
                if rng.random() < 0.3 else None,
                None, f"{place.city[:-1]}{rng.choice(FIRMS)}有限公司" if rng.random() < 0.8
                else None, None, place.timezone, now, now))
            product = rng.choices(("consumer_loan", "car_loan", "machinery_finance"),
                                  (50, 35, 15))[0]
            for k in range(rng.choice((1, 1, 2, 2, 3))):
                role = "guarantor" if k == 0 and product != "consumer_loan" else "reference"
                self.contacts.append((
                    (n - 1) * CONTACTS_MAX + k + 1, n, f"C{k + 1}",
                    random_name(rng, rng.random() < 0.5), RELATIONS[k if k < 2 else
                                                                    rng.randrange(2, 5)],
                    role, random_mobile(rng), role != "reference" or rng.random() < 0.5))
            lat, lon = scatter_point(rng, place.lat, place.lon, 6)
            district = rng.choice(place.districts)[0]
            kinds = ["home"] + (["household_registration"] if rng.random() < 0.5 else []) + (
                ["worksite" if product == "machinery_finance" else "work"]
                if rng.random() < 0.5 else [])
            for k, kind in enumerate(kinds):
                if k:
                    lat, lon = scatter_point(rng, place.lat, place.lon, 8)
                text_ = (f"{place.city}{district}{rng.choice(STREETS)}{rng.randint(1, 399)}号"
                         f"{rng.choice(ESTATES)}小区{rng.randint(1, 30)}栋{rng.randint(1, 32)}"
                         f"{rng.randint(1, 4):02d}室" if kind != "household_registration"
                         else f"{place.city}{district}{rng.choice(VILLAGES)}村"
                              f"{rng.randint(1, 80)}号")
                self.addresses.append((
                    (n - 1) * ADDRESSES_MAX + k + 1, n, None, f"A{k + 1}", kind, text_,
                    round(lat, 6), round(lon, 6), "lender", "WGS84", None))
            dpd = random_days_past_due(rng)
            instalment = rng.randint(500, 15_000) * 100
            periods = math.ceil(dpd / 30) if dpd else 0
            count = rng.randint(4, INSTALMENTS_MAX)
            overdue = instalment * min(periods, count)
            outstanding = overdue + instalment * rng.randint(1, 30)
            disbursed = AS_OF - timedelta(days=30 * count + rng.randint(0, 60))
            for k in range(count):
                self.instalments.append((
                    (n - 1) * INSTALMENTS_MAX + k + 1, n, k + 1,
                    disbursed + timedelta(days=30 * (k + 1)), instalment, instalment * 9 // 10))
            if product != "consumer_loan":
                make, model = rng.choice(MAKES if product == "car_loan" else MACHINES)
                vin = ("L" + "".join(rng.choice(VIN_CHARS) for _ in range(10))
                       + f"{n % 1_000_000:06d}")
                self.collateral.append((
                    n, n, "V1", "car" if product == "car_loan" else "machinery", vin,
                    f"E{n:09d}", f"{place.plate_prefix[:2]}{n % 100000:05d}"
                    if product == "car_loan" else None, make, model,
                    rng.choice(("白", "黑", "银", "红")), None, None, None, "none"))
            settled = rng.random() < 0.02
            status = "settled" if settled else rng.choices(
                ("active", "promised", "partly_paid", "legal"), (80, 8, 8, 4))[0]
            bucket = bucket_for(dpd)
            collector_id = org.collector_id(c)
            self.cases.append((
                n, f"FV-{n:08d}", n, product, "CNY", outstanding, disbursed, status, bucket,
                0, 0, None, AS_OF, outstanding, 0, overdue, outstanding, outstanding, dpd,
                periods, bucket, "C" if dpd else "A", AS_OF + timedelta(days=rng.randint(1, 30)),
                team, collector_id, 1, now, now))
            self.assignments.append((n, team, collector_id, None, "bench load", now))


TABLES = {
    "debtors": "id, lender_ref, name, national_id_cipher, national_id_digest, national_id_last4, "
               "mobile_phone, home_phone, work_phone, employer, risk_notes, timezone, "
               "created_at, updated_at",
    "contacts": "id, debtor_id, lender_ref, name, relation, role, phone, knows_of_loan",
    "addresses": "id, debtor_id, contact_id, lender_ref, kind, text, lat, lon, coord_source, "
                 "source_datum, confirmed_at",
    "cases": "id, contract_no, debtor_id, product, currency, principal_fen, disbursed_on, "
             "status, lender_bucket, penalty_fen, fees_fen, penalty_basis, figures_as_of, "
             "total_due_fen, paid_fen, overdue_fen, outstanding_fen, outstanding_principal_fen, "
             "days_past_due, periods_overdue, bucket, reminder_class, next_due_on, team_id, "
             "collector_id, version, created_at, updated_at",
    "collateral": "id, case_id, lender_ref, kind, vin, engine_no, plate, make, model, colour, "
                  "tracker_lat, tracker_lon, tracker_at, repossession_status",
    "instalments": "id, case_id, seq, due_on, amount_fen, principal_fen",
    "assignments": "case_id, team_id, collector_id, assigned_by_id, reason, started_at",
}

DEFAULTS = {"cases": {"lender": "default", "jurisdiction": "CN", "policy_id": None,
                      "closed_at": None, "purged_at": None},
            "debtors": {"anonymised_at": None}}
ROW_TYPES = {table: namedtuple(table, [c.strip() for c in columns.split(",")]
                               + list(DEFAULTS.get(table, ())))
             for table, columns in TABLES.items()}

_worker: dict = {}


def _init_worker(url: str, n_collectors: int, documents: str) -> None:
    logging.disable(logging.INFO)
    _worker["engine"] = create_engine(url)
    _worker["org"] = Org(n_collectors)
    _worker["cipher"] = keys.cipher()
    _worker["documents"] = documents


def graphs_of(chunk: Chunk) -> list:
    """The chunk's cases as the app's `CaseGraph`s of plain rows (named tuples with the
    tables' columns), for `mobile_sync.documents.new_case_documents`: the documents come out
    of the app's own code; `verify` compares a sample with the database path."""
    from api.services.casefile.cases import CaseGraph

    rows = {table: [ROW_TYPES[table](*row, *DEFAULTS.get(table, {}).values())
                    for row in getattr(chunk, table)] for table in TABLES}
    by_case = {t: defaultdict(list) for t in ("instalments", "collateral")}
    by_debtor = {t: defaultdict(list) for t in ("contacts", "addresses")}
    for table, groups in by_case.items():
        for row in rows[table]:
            groups[row.case_id].append(row)
    for table, groups in by_debtor.items():
        for row in rows[table]:
            groups[row.debtor_id].append(row)
    for group in by_case["instalments"].values():
        group.sort(key=lambda r: r.seq)
    debtors = {d.id: d for d in rows["debtors"]}
    return [CaseGraph(case, debtors[case.debtor_id], by_debtor["contacts"][case.debtor_id],
                      by_debtor["addresses"][case.debtor_id], by_case["instalments"][case.id],
                      by_case["collateral"][case.id]) for case in rows["cases"]]


def load_chunk(bounds: tuple[int, int]) -> dict:
    """Generate, copy and publish one chunk in one transaction; answers counts and seconds."""
    from mobile_sync.changelog import bucket_of
    from mobile_sync.documents import build_documents, fingerprint, new_case_documents

    lo, hi = bounds
    cipher = _worker["cipher"]
    t0 = time.perf_counter()
    chunk = Chunk(_worker["org"], cipher, lo, hi)
    t1 = time.perf_counter()
    rows = 0
    with _worker["engine"].begin() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            for table, columns in TABLES.items():
                data = getattr(chunk, table)
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
                    for row in data:
                        cp.write_row(row)
                rows += len(data)
        t2 = time.perf_counter()
        session = Session(bind=conn, autoflush=False)
        if _worker["documents"] == "memory":
            documents = new_case_documents(graphs_of(chunk), cipher)
        else:
            documents = {}
            for start in range(lo, hi, DOCUMENTS_BATCH):
                documents |= build_documents(session, range(start, min(start + DOCUMENTS_BATCH,
                                                                       hi)), cipher)
        tx_id = session.scalar(text("SELECT pg_current_xact_id()::text::bigint"))
        t3 = time.perf_counter()
        now = datetime.now(UTC)
        size = 0
        with raw.cursor() as cur:
            with cur.copy("COPY case_documents (case_id, collector_id, sealed, fingerprint, "
                          "updated_at) FROM STDIN") as cp:
                for case_id, (holder, body) in documents.items():
                    size += len(body)
                    sealed = cipher.seal(body.encode())
                    cp.write_row((case_id, holder, sealed, fingerprint(sealed), now))
            with cur.copy("COPY sync_changes (tx_id, bucket, entity, entity_id, op) "
                          "FROM STDIN") as cp:
                for case_id, (holder, _body) in documents.items():
                    if holder is not None:
                        cp.write_row((tx_id, bucket_of(holder), "case", case_id, "put"))
        session.close()
    t4 = time.perf_counter()
    return {"cases": hi - lo, "rows": rows + 2 * len(documents), "doc_bytes": size,
            "generate": t1 - t0, "copy": t2 - t1 + t4 - t3, "documents": t3 - t2}


# --------------------------------------------------------------------------- the whole load


def create_database(name: str) -> str:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    migrate(url)
    return url


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


SEQUENCES = ("teams", "users", "collector_authorisations", "debtors", "contacts", "addresses",
             "cases", "collateral", "instalments", "assignments")


def verify(url: str, n_cases: int, sample: int) -> tuple[int, int]:
    """(identical, compared): stored documents of `sample` random cases against what the app's
    `build_documents` makes of the rows in the database now."""
    import api  # noqa: F401  (the app's modules, in their import order)
    from mobile_sync.documents import build_documents

    cipher = keys.cipher()
    ids = sorted(random.Random(5).sample(range(1, n_cases + 1), min(sample, n_cases)))
    engine = create_engine(url)
    same = 0
    with engine.connect() as conn:
        session = Session(bind=conn)
        rebuilt = build_documents(session, ids, cipher)
        stored = dict(conn.execute(text(
            "SELECT case_id, sealed FROM case_documents WHERE case_id = ANY(:ids)"),
            {"ids": ids}).all())
        holders = dict(conn.execute(text(
            "SELECT case_id, collector_id FROM case_documents WHERE case_id = ANY(:ids)"),
            {"ids": ids}).all())
        for case_id in ids:
            holder, body = rebuilt[case_id]
            mine = cipher.unseal(stored[case_id]).decode()
            if mine == body and holders[case_id] == holder:
                same += 1
            elif same == ids.index(case_id):  # the first difference: show it
                a, b = json.loads(mine), json.loads(body)
                print(f"  case {case_id} differs: " + ", ".join(
                    f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in sorted(set(a) | set(b))
                    if a.get(k) != b.get(k)))
        session.close()
    engine.dispose()
    return same, len(ids)


def generate(url: str, n_cases: int, n_collectors: int, workers: int, chunk: int,
             documents: str = "memory") -> dict:
    """Load everything into the migrated, empty database at `url`; answers the figures."""
    logging.disable(logging.INFO)
    org = Org(n_collectors)
    engine = create_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        n_users = conn.scalar(text("SELECT count(*) FROM users"))
        loaded = set(conn.scalars(text("SELECT DISTINCT (id - 1) / :chunk FROM cases"),
                                  {"chunk": chunk}))
        if not n_users:
            n_users = load_org(conn, org)
        elif loaded:
            print(f"  resuming: {len(loaded)} chunks of {chunk:,} cases already loaded")
    org_s = time.perf_counter() - started
    bounds = [(lo, min(lo + chunk, n_cases + 1)) for lo in range(1, n_cases + 1, chunk)
              if (lo - 1) // chunk not in loaded]
    totals = {"cases": 0, "rows": 0, "doc_bytes": 0, "generate": 0.0, "copy": 0.0,
              "documents": 0.0}
    load_started = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, _init_worker, (url, n_collectors, documents)) as pool:
        for done, figures in enumerate(pool.imap_unordered(load_chunk, bounds), start=1):
            for key in totals:
                totals[key] += figures[key]
            if done % max(1, len(bounds) // 20) == 0 or done == len(bounds):
                elapsed = time.perf_counter() - load_started
                print(f"  {totals['cases']:>9,} cases  {elapsed:7.1f} s  "
                      f"{totals['cases'] / elapsed:7,.0f} cases/s  "
                      f"{totals['rows'] / elapsed:9,.0f} rows/s", flush=True)
    load_s = time.perf_counter() - load_started
    with engine.begin() as conn:
        for table in SEQUENCES:
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))
    analyze_started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    analyze_s = time.perf_counter() - analyze_started
    with engine.connect() as conn:
        db_bytes = conn.scalar(text("SELECT pg_database_size(current_database())"))
    engine.dispose()
    return {**totals, "users": n_users, "org_s": org_s, "load_s": load_s,
            "analyze_s": analyze_s, "total_s": time.perf_counter() - started,
            "db_bytes": db_bytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--collectors", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=5000)
    parser.add_argument("--name", help="database name (default fv_scale_<cases>_<random>)")
    parser.add_argument("--database-url", help="an existing, migrated database: empty, or "
                        "partly loaded by an interrupted run with the same --chunk (resumed)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--documents", choices=("memory", "database"), default="memory",
                        help="build_documents on the chunk's rows in memory (default), or "
                             "read back from the database as at commit (slower)")
    parser.add_argument("--verify", type=int, default=300, metavar="N",
                        help="compare N stored documents with build_documents from the "
                             "database (default 300; 0: skip)")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    started = time.perf_counter()
    url = args.database_url or create_database(
        args.name or f"fv_scale_{args.cases}_{uuid.uuid4().hex[:6]}")
    print(f"database {url} migrated in {time.perf_counter() - started:.1f} s; loading "
          f"{args.cases:,} cases for {args.collectors:,} collectors with {args.workers} "
          f"workers, {args.chunk:,} cases per chunk", flush=True)
    try:
        f = generate(url, args.cases, args.collectors, args.workers, args.chunk,
                     args.documents)
        if args.verify:
            same, compared = verify(url, args.cases, args.verify)
            print(f"documents verified: {same}/{compared} identical to the app's "
                  f"build_documents reading the database", flush=True)
            if same != compared:
                raise SystemExit("stored documents differ from the app's: fix the generator")
    except BaseException:
        if not args.keep and not args.database_url:
            drop_database(url)
        raise
    print(f"\nusers, teams, devices, authorisations: {f['users']:,} users in {f['org_s']:.1f} s")
    print(f"cases: {f['cases']:,} in {f['load_s']:.1f} s = {f['cases'] / f['load_s']:,.0f} "
          f"cases/s; {f['rows']:,} rows = {f['rows'] / f['load_s']:,.0f} rows/s")
    print(f"  worker seconds: generate {f['generate']:.0f}, COPY {f['copy']:.0f}, "
          f"build documents {f['documents']:.0f} (over {args.workers} workers)")
    print(f"  documents: {f['doc_bytes'] / max(1, f['cases']):,.0f} bytes of JSON per case "
          f"before sealing")
    print(f"VACUUM ANALYZE {f['analyze_s']:.1f} s; total {f['total_s']:.1f} s "
          f"({f['total_s'] / 60:.1f} min); database {f['db_bytes'] / 2**30:.2f} GiB")
    if args.keep or args.database_url:
        print(f"kept: --database-url {url}")
    else:
        drop_database(url)
        print("database dropped (use --keep to reuse it)")


if __name__ == "__main__":
    main()
