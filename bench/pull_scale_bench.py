"""Pull at scale on PostgreSQL: does a bootstrap or an empty pull grow with the database?

One collector holds 300 cases imported the real way (their documents are real ones). The rest
of the book is filler written straight into the tables by SQL, bypassing the import: cases
(cloned from one imported case), their sealed documents (a real document's bytes) and one
`put` change row each, spread over other collectors (300 cases each). Then, at each size
(default 10,000 and 1,000,000 cases, each size its own database), timed through the Flask
test client (server time, no sockets; median of many runs after warm-up, the databases' runs
interleaved so the load of a shared machine weighs on each alike):

* the bootstrap of the 300-case collector (one page of 300, no gzip, and gzipped),
* the floor: the same 300 documents read by one SELECT, opened (decrypted, inflated) and
  concatenated (and gzipped, for the gzipped figure),
* the empty pull (cursor at the head, current reference version),

with the SQL statements each sends, the ratios size/10k and bootstrap/floor, and what the
documents take on disk (JSON, stored, TOAST). Usage:

    .venv/bin/python bench/pull_scale_bench.py [--sizes 10000,1000000] [--runs 30]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select, text  # noqa: E402

from api import create_app  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.models import CaseDocument, Role  # noqa: E402
from api.services.compliance import authorisations  # noqa: E402
from api.services.identity import accounts  # noqa: E402
from api.services.imports.demo.book import generate_cases_file  # noqa: E402
from api.services.imports.runs import import_cases  # noqa: E402
from bench.databases import database  # noqa: E402
from mobile_sync.documents import open_document, open_document_bytes  # noqa: E402

AS_OF = date(2026, 11, 21)
PASSWORD = "bench-password"
SLICE = 300
PER_COLLECTOR = 300
FILLER_CHUNK = 100_000


class Counter:
    """SQL statements sent while it listens."""

    def __init__(self, engine):
        self.n, self.engine = 0, engine

    def __call__(self, *_args):
        self.n += 1

    def count(self, fn) -> int:
        self.n = 0
        event.listen(self.engine, "before_cursor_execute", self)
        try:
            fn()
        finally:
            event.remove(self.engine, "before_cursor_execute", self)
        return self.n


def seed(app) -> int:
    """The measured collector and their 300 imported cases; answers their user id."""
    with app.app_context():
        team = accounts.create_team(db.session, "B1", "Bench branch")
        user = accounts.create_user(db.session, username="c300", full_name="c300",
                                    role=Role.COLLECTOR, password=PASSWORD, team_id=team.id)
        authorisations.grant(db.session, user, certificate_no="CERT-c300",
                             valid_from=date(2000, 1, 1))
        db.session.commit()
        doc = generate_cases_file(SLICE, seed=11, as_of=AS_OF)
        for case in doc["cases"]:
            case["team_code"], case["collector_username"] = "B1", "c300"
        run = import_cases(db.session, app.extensions["fieldvisit.pii"], doc, as_of=AS_OF)
        db.session.commit()
        assert run.errors in ("[]", ""), run.errors[:500]
        return user.id


def columns(conn, table: str) -> list[str]:
    return list(conn.execute(text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
        "AND table_schema = 'public' ORDER BY ordinal_position"), {"t": table}).scalars())


def clone_sql(conn, table: str, overrides: dict[str, str], template: str) -> str:
    """INSERT … SELECT of `table` rows cloned from the template row, `overrides` per column
    (SQL over the series `i`); the id column is left to its sequence."""
    cols = [c for c in columns(conn, table) if c != "id" or "id" in overrides]
    values = [overrides.get(c, f"t.{c}") for c in cols]
    return (f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(values)} "
            "FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i, "
            f"({template}) AS t")


def grow(app, total: int, team_id: int) -> float:
    """Filler up to `total` cases: debtors, cases, documents and change rows by SQL."""
    started = time.perf_counter()
    with app.app_context(), db.engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
        if have >= total:
            return 0.0
        base = conn.execute(text("SELECT coalesce(max(id), 0) FROM cases")).scalar_one()
        template_case = conn.execute(text("SELECT min(id) FROM cases")).scalar_one()
        users_sql = clone_sql(conn, "users", {
            "username": "'filler' || i", "full_name": "'filler ' || i"},
            "SELECT * FROM users WHERE username = 'c300'")
        debtors_sql = clone_sql(conn, "debtors", {
            "id": "CAST(:base AS bigint) + i", "lender_ref": "'FD' || (:base + i)",
            "national_id_digest": "md5('filler' || (:base + i))"},
            f"SELECT * FROM debtors WHERE id = (SELECT debtor_id FROM cases "
            f"WHERE id = {template_case})")
        cases_sql = clone_sql(conn, "cases", {
            "id": "CAST(:base AS bigint) + i", "contract_no": "'FC-' || (:base + i)",
            "debtor_id": ":base + i",
            "collector_id": "(SELECT min(id) FROM users WHERE username LIKE 'filler%') "
                            "+ (i - 1) / " + str(PER_COLLECTOR),
            "team_id": str(team_id)},
            f"SELECT * FROM cases WHERE id = {template_case}")
        docs_sql = (
            "INSERT INTO case_documents (case_id, collector_id, sealed, fingerprint, updated_at) "
            "SELECT c.id, c.collector_id, t.sealed, t.fingerprint, now() FROM cases c, "
            f"(SELECT sealed, fingerprint FROM case_documents WHERE case_id = {template_case}) t "
            "WHERE c.id BETWEEN CAST(:base AS bigint) + :first AND CAST(:base AS bigint) + :last")
        changes_sql = (
            "INSERT INTO sync_changes (tx_id, bucket, entity, entity_id, op) "
            "SELECT 3 + c.id / 500, 'u' || c.collector_id, 'case', c.id, 'put' FROM cases c "
            "WHERE c.id BETWEEN CAST(:base AS bigint) + :first AND CAST(:base AS bigint) + :last")
        missing = total - have
        need_users = -(-missing // PER_COLLECTOR)
        have_users = conn.execute(text(
            "SELECT count(*) FROM users WHERE username LIKE 'filler%'")).scalar_one()
        conn.execute(text(users_sql), {"first": have_users + 1,
                                       "last": have_users + need_users})
        # Filler of earlier rounds keeps its collectors; this round's start after them.
        offset = have_users * PER_COLLECTOR
        cases_sql = cases_sql.replace("+ (i - 1) /", f"+ ({offset} + i - 1) /")
        for first in range(1, missing + 1, FILLER_CHUNK):
            last = min(missing, first + FILLER_CHUNK - 1)
            params = {"first": first, "last": last, "base": base}
            for sql in (debtors_sql, cases_sql, docs_sql, changes_sql):
                conn.execute(text(sql), params)
        for table in ("debtors", "cases"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))
    with app.app_context(), db.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def login(client) -> dict:
    body = client.post("/auth/login", json={"username": "c300", "password": PASSWORD,
                                            "device": {"id": str(uuid.uuid4())}}).get_json()
    return {"Authorization": f"Bearer {body['access_token']}"}


def storage(app) -> dict:
    with app.app_context():
        cipher = app.extensions["fieldvisit.pii"]
        rows = db.session.execute(select(CaseDocument.sealed).limit(SLICE)).scalars().all()
        json_bytes = statistics.mean(len(open_document(cipher, s).encode()) for s in rows)
        stored = statistics.mean(len(s) for s in rows)
        toast = db.session.execute(text(
            "SELECT pg_relation_size(reltoastrelid) FROM pg_class "
            "WHERE relname = 'case_documents'")).scalar_one()
        heap = db.session.execute(text(
            "SELECT pg_relation_size('case_documents')")).scalar_one()
        db.session.rollback()
    return {"json": json_bytes, "stored": stored, "toast": toast, "heap": heap}


class Stand:
    """One database of `size` cases, its app, and the measured calls."""

    def __init__(self, url: str, tmp: str, size: int):
        self.size = size
        self.app = app = create_app(Config(
            database_url=url, blob_store=f"local:{tmp}/blobs", secret_key="bench-secret",
            debug=True, argon2_profile="CHEAPEST"))
        self.user_id = seed(app)
        with app.app_context():
            team_id = db.session.execute(text(
                "SELECT team_id FROM users WHERE id = :u"), {"u": self.user_id}).scalar_one()
            self.counter = Counter(db.engine)
        self.built_s = grow(app, size, team_id)
        self.storage = storage(app)
        self.client = app.test_client()
        self.headers = login(self.client)
        first = json.loads(self.bootstrap().data)
        assert len(first["changes"]) == SLICE and not first["has_more"], len(first["changes"])
        self.cursor, self.version = first["cursor"], first["reference"]["version"]
        self.calls = {"bootstrap": self.bootstrap, "bootstrap_gz": lambda: self.bootstrap(True),
                      "floor": self.floor, "floor_gz": lambda: self.floor(True),
                      "empty": self.empty}
        self.samples: dict[str, list[float]] = {name: [] for name in self.calls}
        self.cpu: dict[str, list[float]] = {name: [] for name in self.calls}

    def bootstrap(self, gz: bool = False):
        answer = self.client.get("/sync/pull", query_string={"limit": SLICE}, headers={
            **self.headers, **({"Accept-Encoding": "gzip"} if gz else {})})
        assert answer.status_code == 200
        return answer

    def empty(self):
        answer = self.client.get("/sync/pull", headers=self.headers, query_string={
            "cursor": self.cursor, "ref_version": self.version})
        assert answer.status_code == 200 and answer.data.endswith(b'"changes":[]}')

    def floor(self, gz: bool = False):
        cipher = self.app.extensions["fieldvisit.pii"]
        with self.app.app_context():
            rows = db.session.execute(text(
                "SELECT case_id, sealed FROM case_documents WHERE collector_id = :u "
                "ORDER BY case_id"), {"u": self.user_id}).all()
            body = b"[" + b",".join(open_document_bytes(cipher, s) for _, s in rows) + b"]"
            if gz:
                gzip.compress(body, 6)
            db.session.rollback()

    def round(self, repeat: dict[str, int]) -> None:
        for name, fn in self.calls.items():
            for _ in range(repeat.get(name, 1)):
                started, cpu = time.perf_counter(), time.process_time()
                fn()
                self.samples[name].append((time.perf_counter() - started) * 1000)
                self.cpu[name].append((time.process_time() - cpu) * 1000)

    def median(self, name: str) -> float:
        return statistics.median(self.samples[name])

    def cpu_median(self, name: str) -> float:
        """This process's CPU time (the server's Python side; the database's is not in it):
        what a loaded machine does not inflate."""
        return statistics.median(self.cpu[name])

    def close(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    sizes = [int(s) for s in args.sizes.split(",")]
    repeat = {"empty": 5}
    with contextlib.ExitStack() as stack:
        stands = []
        for size in sizes:
            url = stack.enter_context(database("postgresql"))
            stands.append(Stand(url, stack.enter_context(tempfile.TemporaryDirectory()), size))
            stack.callback(stands[-1].close)
        # Rounds alternate between the databases, so the load of a shared machine weighs on
        # every size alike; the first rounds warm the caches and are dropped.
        for n in range(args.runs + 3):
            for stand in stands:
                stand.round(repeat)
            if n == 2:
                for stand in stands:
                    stand.samples = {name: [] for name in stand.calls}
                    stand.cpu = {name: [] for name in stand.calls}
        print(f"PostgreSQL; {SLICE} imported cases for the measured collector, the rest "
              f"filler; median of {args.runs} interleaved runs ({args.runs * 5} for the empty "
              "pull), server time through the Flask test client")
        for stand in stands:
            got, m = stand.storage, stand.median
            boots = stand.counter.count(stand.bootstrap)
            empties = stand.counter.count(stand.empty)
            print(f"\n{stand.size:>9,} cases (filler built in {stand.built_s:.1f} s; documents: "
                  f"{got['json']:.0f} B of JSON, {got['stored']:.0f} B stored; case_documents "
                  f"heap {got['heap'] / 2**20:.1f} MiB, TOAST {got['toast'] / 2**20:.1f} MiB)")
            print(f"  bootstrap of {SLICE}: {m('bootstrap'):7.2f} ms ({boots} statements), "
                  f"gzipped {m('bootstrap_gz'):7.2f} ms")
            print(f"  floor (one SELECT, opened, joined): {m('floor'):7.2f} ms, gzipped "
                  f"{m('floor_gz'):7.2f} ms; bootstrap/floor {m('bootstrap') / m('floor'):.2f}, "
                  f"gzipped {m('bootstrap_gz') / m('floor_gz'):.2f}")
            print(f"  empty pull: {m('empty'):6.2f} ms ({empties} statements)")
            c = stand.cpu_median
            print(f"  Python CPU: bootstrap {c('bootstrap'):.2f} ms, floor {c('floor'):.2f} ms "
                  f"(ratio {c('bootstrap') / c('floor'):.2f}), empty pull {c('empty'):.2f} ms")
        small = stands[0]
        for big in stands[1:]:
            print(f"\nratios {big.size:,} / {small.size:,}: bootstrap "
                  f"{big.median('bootstrap') / small.median('bootstrap'):.2f} (gzipped "
                  f"{big.median('bootstrap_gz') / small.median('bootstrap_gz'):.2f}), empty pull "
                  f"{big.median('empty') / small.median('empty'):.2f}, floor "
                  f"{big.median('floor') / small.median('floor'):.2f}; Python CPU: bootstrap "
                  f"{big.cpu_median('bootstrap') / small.cpu_median('bootstrap'):.2f}, empty "
                  f"{big.cpu_median('empty') / small.cpu_median('empty'):.2f}")


if __name__ == "__main__":
    main()
