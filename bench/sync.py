"""Offline-sync figures on SQLite and PostgreSQL.

Printed per engine: bootstrap time and gzipped bytes per case for slices of 50, 300 and 2,000
cases (server time through the WSGI app, no sockets) and the same slice read the cheapest way
(the "floor": one SQL query per table of the case file, all rows fetched and dumped to JSON);
a pull with nothing new; a delta pull after 10 changes with 10,000 and with 1,000,000 rows in
the change log (the ratio should stay near 1); a push of 50 mutations; and a full bootstrap of
300 cases by the reference client (its own SQLite writes included). Usage:

    .venv/bin/python bench/sync.py [--engines sqlite,postgresql] [--big 1000000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from api import create_app  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.models import Case, Role, SyncChange  # noqa: E402
from api.services.identity import accounts  # noqa: E402
from api.services.imports.demo.book import generate_cases_file  # noqa: E402
from api.services.imports.runs import import_cases  # noqa: E402
from bench.databases import database  # noqa: E402
from clients.device import DeviceClient, FlaskTransport  # noqa: E402

AS_OF = date(2026, 11, 21)
SLICES = {"c50": 50, "c300": 300, "c2000": 2000}
PASSWORD = "bench-password"
FLOOR_TABLES = ("cases", "debtors", "contacts", "addresses", "instalments", "collateral")


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def seed(app) -> dict[str, int]:
    """One team, three collectors holding 50, 300 and 2,000 generated cases."""
    with app.app_context():
        team = accounts.create_team(db.session, "B1", "Bench branch")
        users = {name: accounts.create_user(
            db.session, username=name, full_name=name, role=Role.COLLECTOR, password=PASSWORD,
            team_id=team.id).id for name in SLICES}
        db.session.commit()
        doc = generate_cases_file(sum(SLICES.values()), seed=11, as_of=AS_OF)
        start = 0
        for name, size in SLICES.items():
            for case in doc["cases"][start:start + size]:
                case["team_code"], case["collector_username"] = "B1", name
            start += size
        run = import_cases(db.session, app.extensions["fieldvisit.pii"], doc, as_of=AS_OF)
        db.session.commit()
        assert run.errors in ("[]", ""), run.errors[:500]
        return users


def login(client, username: str) -> dict:
    body = client.post("/auth/login", json={"username": username, "password": PASSWORD,
                                            "device": {"id": str(uuid.uuid4())}}).get_json()
    return {"Authorization": f"Bearer {body['access_token']}", "Accept-Encoding": "gzip",
            "X-Device-Id": body["device_id"]}


def pull_all(client, headers, cursor=None, limit=500) -> tuple[int, int, str, str]:
    """(changes, gzipped bytes, cursor, reference version) following every page. Only the
    page's head is parsed (the server writes it first): decoding the documents is the phone's
    work, not the server's."""
    changes = size = 0
    version = None
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        if version:
            query["ref_version"] = version
        answer = client.get("/sync/pull", query_string=query, headers=headers)
        assert answer.status_code == 200, answer.status_code
        size += len(answer.data)
        body = gzip.decompress(answer.data)
        head_end = body.index(b',"changes":[')
        page = json.loads(body[:head_end] + b"}")
        version = version or page.get("reference", {}).get("version")
        changes += body.count(b'{"op":', head_end)
        cursor = page["cursor"]
        if not page["has_more"]:
            return changes, size, cursor, version


def floor(app, user_id: int) -> None:
    """The same rows, read with one plain query per table and dumped to JSON."""
    with app.app_context():
        ids = "SELECT id FROM cases WHERE collector_id = :u"
        queries = {
            "cases": f"SELECT * FROM cases WHERE id IN ({ids})",
            "debtors": f"SELECT * FROM debtors WHERE id IN (SELECT debtor_id FROM cases "
                       f"WHERE id IN ({ids}))",
            "contacts": f"SELECT * FROM contacts WHERE debtor_id IN (SELECT debtor_id FROM "
                        f"cases WHERE id IN ({ids}))",
            "addresses": f"SELECT * FROM addresses WHERE debtor_id IN (SELECT debtor_id FROM "
                         f"cases WHERE id IN ({ids}))",
            "instalments": f"SELECT * FROM instalments WHERE case_id IN ({ids})",
            "collateral": f"SELECT * FROM collateral WHERE case_id IN ({ids})",
        }
        out = {}
        for table, sql in queries.items():
            rows = db.session.execute(text(sql), {"u": user_id}).mappings().all()
            out[table] = [dict(r) for r in rows]
        gzip.compress(json.dumps(out, default=str).encode(), 6)
        db.session.rollback()


def add_filler(app, rows: int) -> None:
    """Change-log rows of other phones, up to `rows` in all."""
    with app.app_context():
        have = db.session.scalar(select(func.count()).select_from(SyncChange))
        missing = rows - have
        if missing <= 0:
            return
        series = ("SELECT generate_series(1, :n) AS i" if db.engine.dialect.name == "postgresql"
                  else "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
                       "WHERE i < :n) SELECT i FROM s")
        db.session.execute(text(
            f"INSERT INTO sync_changes (tx_id, bucket, entity, entity_id, op) "
            f"SELECT 1 + i / 50, 'u' || (100000 + i % 5000), 'case', i, 'put' FROM ({series}) t"
        ), {"n": missing})
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE sync_changes"))
            db.session.commit()


def change_ten(app, user_id: int) -> None:
    with app.app_context():
        cases = db.session.scalars(
            select(Case).where(Case.collector_id == user_id).order_by(Case.id).limit(10)).all()
        for case in cases:
            case.penalty_fen += 100
        db.session.commit()


def bench(engine: str, big: int) -> None:
    with database(engine) as url, tempfile.TemporaryDirectory() as tmp:
        app = create_app(Config(database_url=url, blob_store=f"local:{tmp}/blobs",
                                secret_key="bench-secret", debug=True, argon2_profile="CHEAPEST"))
        started = time.perf_counter()
        users = seed(app)
        print(f"{engine}: {sum(SLICES.values())} cases imported in "
              f"{time.perf_counter() - started:.1f} s")
        client = app.test_client()
        headers = {name: login(client, name) for name in SLICES}
        for name, size in SLICES.items():
            n, size_gz, _, _ = pull_all(client, headers[name])
            assert n == size, (n, size)
            boot = median_ms(lambda h=headers[name]: pull_all(client, h), 5)
            low = median_ms(lambda u=users[name]: floor(app, u), 5)
            print(f"  bootstrap {size:>5} cases: {boot:8.1f} ms, {size_gz / size:6.0f} B/case "
                  f"gzipped; floor {low:7.1f} ms; ratio bootstrap/floor {boot / low:4.2f}")
        _, _, cursor, version = pull_all(client, headers["c300"])
        empty = client.get("/sync/pull", query_string={"cursor": cursor, "ref_version": version},
                           headers=headers["c300"])
        assert json.loads(gzip.decompress(empty.data))["changes"] == []
        idle = median_ms(lambda: client.get("/sync/pull", query_string={
            "cursor": cursor, "ref_version": version}, headers=headers["c300"]), 50)
        print(f"  pull with nothing new: {idle:6.2f} ms, {len(empty.data)} B gzipped")

        deltas = {}
        add_filler(app, 10_000)
        _, _, before, _ = pull_all(client, headers["c300"])
        change_ten(app, users["c300"])
        for rows in (10_000, big):
            add_filler(app, rows)
            n, _, _, _ = pull_all(client, headers["c300"], before)
            assert n == 10, n
            deltas[rows] = median_ms(lambda: pull_all(client, headers["c300"], before), 20)
            print(f"  delta pull, 10 changes, {rows:>9,} change-log rows: {deltas[rows]:6.2f} ms")
        print(f"  ratio delta({big:,}) / delta(10,000) = {deltas[big] / deltas[10_000]:.2f}")

        with app.app_context():
            case_ids = db.session.scalars(select(Case.id).where(
                Case.collector_id == users["c300"]).limit(50)).all()
        stamp = datetime(2026, 11, 21, 10, tzinfo=UTC).isoformat()
        batch = [{"mutation_id": i + 1, "type": "contact_attempt", "client_time": stamp,
                  "payload": {"id": str(uuid.uuid4()), "case_id": case_ids[i], "channel": "call",
                              "outcome": "no_answer", "occurred_at": stamp}} for i in range(50)]
        started = time.perf_counter()
        answer = client.post("/sync/push", headers=headers["c300"], json={
            "device_id": headers["c300"]["X-Device-Id"], "mutations": batch})
        pushed = (time.perf_counter() - started) * 1000
        statuses = {r["status"] for r in answer.get_json()["results"]}
        assert statuses == {"applied"}, statuses
        print(f"  push of 50 mutations: {pushed:7.1f} ms ({pushed / 50:.1f} ms each)")

        phone = DeviceClient(f"{tmp}/phone.db", FlaskTransport(client), username="c300",
                             password=PASSWORD)
        started = time.perf_counter()
        report = phone.sync(page_limit=500)
        elapsed = (time.perf_counter() - started) * 1000
        assert report.ok and len(phone.cases()) == 300
        print(f"  reference client: first sync of 300 cases {elapsed:7.1f} ms (login, pull, "
              f"local writes)")
        phone.close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--big", type=int, default=1_000_000)
    args = parser.parse_args()
    for engine in args.engines.split(","):
        bench(engine, args.big)


if __name__ == "__main__":
    main()
