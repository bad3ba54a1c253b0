"""Bulk assignment figures on SQLite and PostgreSQL: 500 cases handed from one collector to
another in one request, its time and SQL statements, and what the phones then pull.

Seeds one team with a supervisor and two collectors and imports generated case files (real
debtors, contacts, addresses, schedules, collateral) held by the first collector. Then, per
engine, alternating the direction each run:

* **request** — `POST /assignments` through the WSGI app (token, parsing, rules, history,
  change log, commit, JSON), median of `--runs`, with the statements it sent and the CPU time
  of the Python process (wall time well above it means a busy machine or, on PostgreSQL,
  round trips);
* **rules + history** / **publish + commit** — the same through the service on a session:
  `assign_cases` up to its flush, then the commit (device documents and change rows);
* **no-op** — the same request again (every case already there: "unchanged");
* **pulls** — the old holder's delta pull (500 removes) and the new holder's (500 puts);
* **suggestions** — `GET /assignments/suggestions` over the team's cases (page of 200).

Usage:

    .venv/bin/python bench/assignment_bench.py [--cases 500] [--runs 5] \
        [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select  # noqa: E402

from api import create_app  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.models import Case, Role  # noqa: E402
from api.services.identity import accounts  # noqa: E402
from api.services.identity.accounts import Principal  # noqa: E402
from api.services.imports.demo.book import generate_cases_file  # noqa: E402
from api.services.imports.runs import import_cases  # noqa: E402
from api.services.supervision.assignment import assign_cases  # noqa: E402
from bench.databases import database  # noqa: E402
from bench.sync import login, pull_all  # noqa: E402

AS_OF = date(2026, 11, 21)
PASSWORD = "bench-password"


class Statements:
    """Counts what the engine sends, by verb (an executemany batch counts once)."""

    def __init__(self, engine):
        self.by_verb: Counter = Counter()
        self.on = False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, *_args):
        if self.on:
            self.by_verb[statement.lstrip().split(None, 1)[0].upper()] += 1

    @contextmanager
    def counting(self):
        self.by_verb.clear()
        self.on = True
        try:
            yield self.by_verb
        finally:
            self.on = False


def seed(app, n: int) -> dict[str, int]:
    with app.app_context():
        team = accounts.create_team(db.session, "B1", "Bench branch")
        ids = {name: accounts.create_user(
            db.session, username=name, full_name=name, role=role, password=PASSWORD,
            team_id=team.id, base_lat=base[0] if base else None,
            base_lon=base[1] if base else None).id
            for name, role, base in (("sup", Role.SUPERVISOR, None),
                                     ("alice", Role.COLLECTOR, (22.5431, 114.0579)),
                                     ("bob", Role.COLLECTOR, (22.5329, 113.9305)))}
        db.session.commit()
        doc = generate_cases_file(n, seed=5, as_of=AS_OF)
        for case in doc["cases"]:
            case["team_code"], case["collector_username"] = "B1", "alice"
        run = import_cases(db.session, app.extensions["fieldvisit.pii"], doc, as_of=AS_OF)
        db.session.commit()
        assert run.errors in ("[]", ""), run.errors[:500]
        ids["team"] = team.id
        return ids


def fmt(verbs: Counter) -> str:
    return f"{sum(verbs.values()):>4} (" + ", ".join(
        f"{v} {k}" for k, v in sorted(verbs.items(), key=lambda kv: -kv[1])) + ")"


def bench(engine: str, n: int, runs: int) -> None:
    with database(engine) as url, tempfile.TemporaryDirectory() as blobs:
        app = create_app(Config(database_url=url, blob_store=f"local:{blobs}",
                                secret_key="bench-secret", debug=True))
        started = time.perf_counter()
        users = seed(app, n)
        print(f"\n{engine}: imported {n} cases in {time.perf_counter() - started:.1f} s")
        client = app.test_client()
        sup, alice, bob = (login(client, name) for name in ("sup", "alice", "bob"))
        with app.app_context():
            case_ids = list(db.session.scalars(select(Case.id).order_by(Case.id)))
            statements = Statements(db.engine)
        _, _, alice_cursor, _ = pull_all(client, alice)
        _, _, bob_cursor, _ = pull_all(client, bob)
        holders = [users["bob"], users["alice"]]
        request_ms, cpu_ms, verbs = [], [], Counter()
        for k in range(runs):
            body = {"case_ids": case_ids, "collector_id": holders[k % 2], "reason": "bench",
                    "reason_code": "workload"}
            with statements.counting() as seen:
                t0, c0 = time.perf_counter(), time.process_time()
                answer = client.post("/assignments", json=body, headers=sup)
                request_ms.append((time.perf_counter() - t0) * 1000)
                cpu_ms.append((time.process_time() - c0) * 1000)
            assert answer.status_code == 200 and answer.get_json()["assigned"] == n, answer.data
            verbs = Counter(seen)
            if k == 0:  # the phones see the first move: Alice loses every case, Bob gains it
                t0 = time.perf_counter()
                removes, _, alice_cursor, _ = pull_all(client, alice, alice_cursor)
                alice_ms = (time.perf_counter() - t0) * 1000
                t0 = time.perf_counter()
                puts, _, bob_cursor, _ = pull_all(client, bob, bob_cursor)
                bob_ms = (time.perf_counter() - t0) * 1000
        suggest_ms = []
        for _ in range(runs):
            t0 = time.perf_counter()
            page = client.get("/assignments/suggestions", headers=sup,
                              query_string={"page_size": 200})
            suggest_ms.append((time.perf_counter() - t0) * 1000)
        assert page.status_code == 200, page.data
        suggested = page.get_json()["page"]["total"]
        with statements.counting() as seen:
            t0 = time.perf_counter()
            again = client.post("/assignments", json={**body, "reason": "again"}, headers=sup)
            noop_ms = (time.perf_counter() - t0) * 1000
        assert again.get_json()["unchanged"] == n
        noop_verbs = Counter(seen)
        flush_ms, commit_ms = [], []
        with app.app_context():
            principal = Principal(users["sup"], Role.SUPERVISOR, users["team"], None)
            for k in range(runs):
                t0 = time.perf_counter()
                assign_cases(db.session, principal, case_ids, collector_id=holders[(k + runs) % 2],
                             reason="bench")
                db.session.flush()
                t1 = time.perf_counter()
                db.session.commit()
                flush_ms.append((t1 - t0) * 1000)
                commit_ms.append((time.perf_counter() - t1) * 1000)
                db.session.expunge_all()
            db.session.remove()
            db.engine.dispose()
        print(f"{'POST /assignments, ' + str(n) + ' cases (median ms)':<44} "
              f"{statistics.median(request_ms):>8.0f}   statements {fmt(verbs)}")
        print(f"{'  of which CPU time of this process':<44} {statistics.median(cpu_ms):>8.0f}")
        print(f"{'  rules + history (service, to its flush)':<44} "
              f"{statistics.median(flush_ms):>8.0f}")
        print(f"{'  publish + commit':<44} {statistics.median(commit_ms):>8.0f}")
        print(f"{'the same again: all unchanged':<44} {noop_ms:>8.0f}   statements "
              f"{fmt(noop_verbs)}")
        print(f"{'suggestions: ' + str(suggested) + ' of ' + str(n) + ', page of 200':<44} "
              f"{statistics.median(suggest_ms):>8.0f}")
        print(f"{'old holder pull: ' + str(removes) + ' removes':<44} {alice_ms:>8.0f}")
        print(f"{'new holder pull: ' + str(puts) + ' puts':<44} {bob_ms:>8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    for engine in args.engines.split(","):
        bench(engine, args.cases, args.runs)


if __name__ == "__main__":
    main()
