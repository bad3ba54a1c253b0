"""What the compliance rules of issue #10 cost on the phone's paths, on SQLite and PostgreSQL.

Imports `--cases` generated cases (the demo book, seed 13) held by one collector of a team
(both collectors hold the standard authorisation), signs in both phones, then through the WSGI
app (no sockets):

* **empty pull** — `GET /sync/pull` with a cursor and `ref_version` and nothing new, median of
  `--runs`, and its statements; beside it the compliance policies alone
  (`phone_policies` + `reference_data` + `reference_version`, what every pull now reads);
* **contact attempts** — one push of 50 connected calls on one debtor's case (the daily cap
  of the CN preset counts each under the debtor's lock: 0, 1, ... 49 earlier calls that day),
  the same over 50 debtors, and 50 unanswered calls over 50 debtors (not counted by the
  preset: no lock, no count) as the floor;
* **visit reports** — the co-collector's phone pushes 50 presences, then the lead's phone
  50 `visit_report`s naming them (attestation from `POST /auth/cosign`), one per debtor:
  presence pairing, blackouts, visit rules; under the CN preset (visits not counted) and
  under a version 2 of the CN policy with `attempts_counted="calls_and_visits"` (the caps
  count every visit too).

Statements are counted with a `before_cursor_execute` listener (an executemany batch counts
once). Usage:

    .venv/bin/python bench/compliance_bench.py [--cases 300] [--runs 50] \
        [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from api import create_app  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.models import Address, AddressKind, Case, Role  # noqa: E402
from api.models.types import utcnow  # noqa: E402
from api.services.compliance import authorisations  # noqa: E402
from api.services.compliance.policies import phone_policies, store_version  # noqa: E402
from api.services.compliance.presets import PRESETS  # noqa: E402
from api.services.identity import accounts  # noqa: E402
from api.services.imports.demo.book import generate_cases_file  # noqa: E402
from api.services.imports.runs import import_cases  # noqa: E402
from bench.assignment_bench import Statements  # noqa: E402
from bench.databases import database  # noqa: E402
from bench.sync import login, pull_all  # noqa: E402
from mobile_sync.reference import reference_data, reference_version  # noqa: E402

AS_OF = date(2026, 11, 21)
PASSWORD = "bench-password"
BATCH = 50
SHENZHEN = (22.54554, 114.0683)


def seed(app, n: int) -> dict[str, int]:
    """One team; `lead` holds every case, `second` goes along on visits."""
    with app.app_context():
        team = accounts.create_team(db.session, "B1", "Bench branch")
        ids = {}
        for name in ("lead", "second"):
            user = accounts.create_user(db.session, username=name, full_name=name,
                                        role=Role.COLLECTOR, password=PASSWORD, team_id=team.id)
            authorisations.grant(db.session, user, certificate_no=f"CERT-{name}",
                                 valid_from=date(2000, 1, 1), **authorisations.STANDARD)
            ids[name] = user.id
        db.session.commit()
        doc = generate_cases_file(n, seed=13, as_of=AS_OF)
        for case in doc["cases"]:
            case["team_code"], case["collector_username"] = "B1", "lead"
        run = import_cases(db.session, app.extensions["fieldvisit.pii"], doc, as_of=AS_OF)
        db.session.commit()
        assert run.errors in ("[]", ""), run.errors[:500]
        return ids


def one_case_per_debtor(app, user_id: int) -> list[tuple[int, int | None, tuple]]:
    """(case id, home address id, where to stand) for one case of each of the lead's debtors."""
    with app.app_context():
        rows = db.session.execute(
            select(Case.id, Case.debtor_id).where(Case.collector_id == user_id)
            .order_by(Case.id)).all()
        homes = {a.debtor_id: a for a in db.session.scalars(
            select(Address).where(Address.kind == AddressKind.HOME))}
        out, seen = [], set()
        for case_id, debtor_id in rows:
            if debtor_id in seen:
                continue
            seen.add(debtor_id)
            home = homes.get(debtor_id)
            spot = (home.lat, home.lon) if home is not None and home.lat is not None else SHENZHEN
            out.append((case_id, home.id if home is not None else None, spot))
        db.session.rollback()
        return out


class Phone:
    """A signed-in phone numbering its mutations."""

    def __init__(self, client, headers):
        self.client, self.headers, self.next_id = client, headers, 1

    def push(self, items: list[tuple[str, datetime, dict]]) -> tuple[float, list[dict]]:
        mutations = []
        for kind, made, payload in items:
            mutations.append({"mutation_id": self.next_id, "type": kind,
                              "client_time": made.isoformat(), "payload": payload})
            self.next_id += 1
        body = {"device_id": self.headers["X-Device-Id"], "mutations": mutations}
        started = time.perf_counter()
        answer = self.client.post("/sync/push", headers=self.headers, json=body)
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, answer.data[:500]
        results = answer.get_json()["results"]
        statuses = Counter(r["status"] for r in results)
        assert statuses == {"applied": len(items)}, (statuses, results[:2])
        return elapsed, results


def call(case_id: int, at: datetime, outcome: str) -> tuple[str, datetime, dict]:
    return ("contact_attempt", at, {"id": str(uuid.uuid4()), "case_id": case_id,
                                    "channel": "call", "outcome": outcome,
                                    "occurred_at": at.isoformat(), "duration_s": 90})


def visit(case_id: int, address_id, spot, start: datetime, co: list[dict]):
    return ("visit_report", start, {
        "id": str(uuid.uuid4()), "case_id": case_id, "address_id": address_id,
        "started_at": start.isoformat(), "ended_at": (start + timedelta(minutes=20)).isoformat(),
        "co_collectors": co,
        "fixes": [{"lat": spot[0], "lon": spot[1], "accuracy_m": 10.0, "provider": "gps",
                   "mock": False, "fix_time": start.isoformat()}],
        "met": "debtor", "outcome": "promise_to_pay", "reason": "business_cash_flow",
        "promised_fen": 500_000, "next_step": "revisit", "follow_up_on": "2026-11-27",
        "notes": "Shop open, debtor present."})


def presence(case_id: int, spot, at: datetime):
    return ("visit_presence", at, {"id": str(uuid.uuid4()), "case_id": case_id,
                                   "recorded_at": at.isoformat(), "lat": spot[0],
                                   "lon": spot[1], "accuracy_m": 12.0})


class Timings:
    """Pushes of one kind: wall and CPU milliseconds, statements and flags of each."""

    def __init__(self):
        self.wall, self.cpu, self.statements, self.flags = [], [], [], Counter()

    def push(self, phone: Phone, batch: list, statements: Statements) -> None:
        with statements.counting() as seen:
            cpu = time.process_time()
            ms, results = phone.push(batch)
            self.cpu.append((time.process_time() - cpu) * 1000)
        self.wall.append(ms)
        self.statements.append(sum(seen.values()))
        self.flags = Counter(f for r in results for f in r["flags"])  # the last push's
        self.results = results

    @property
    def ms(self) -> float:
        return statistics.median(self.wall)

    def note(self, paired: bool = False) -> str:
        flags = ", ".join(f"{k} {v}" for k, v in sorted(self.flags.items())) or "no flags"
        if paired:
            two = sum(1 for r in self.results if "too_few_collectors" not in r["flags"])
            flags += f"; {two} of {len(self.results)} with two collectors"
        return (f"ms; per mutation {self.ms / BATCH:.1f} ms (CPU "
                f"{statistics.median(self.cpu) / BATCH:.1f}), "
                f"{statistics.median(self.statements) / BATCH:.1f} statements; {flags}")


def bench(engine: str, n: int, runs: int, pushes: int) -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []  # (what, figure, unit / note)
    with database(engine) as url, tempfile.TemporaryDirectory() as tmp:
        app = create_app(Config(database_url=url, blob_store=f"local:{tmp}/blobs",
                                secret_key="bench-secret", debug=True, argon2_profile="CHEAPEST"))
        started = time.perf_counter()
        users = seed(app, n)
        cases = one_case_per_debtor(app, users["lead"])
        assert len(cases) > 2 * BATCH, f"need {2 * BATCH + 1} debtors, have {len(cases)}"
        print(f"\n{engine}: {n} cases ({len(cases)} debtors) imported in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        client = app.test_client()
        lead_headers, second_headers = login(client, "lead"), login(client, "second")
        lead, second = Phone(client, lead_headers), Phone(client, second_headers)
        with app.app_context():
            statements = Statements(db.engine)

        # 1. The empty pull, and the policies every pull reads.
        _, _, cursor, version = pull_all(client, lead_headers)
        query = {"cursor": cursor, "ref_version": version}

        def empty_pull():
            answer = client.get("/sync/pull", query_string=query, headers=lead_headers)
            assert answer.status_code == 200, answer.status_code
            return answer

        page = json.loads(gzip.decompress(empty_pull().data))
        assert page["changes"] == [] and "reference" not in page, page.keys()
        with statements.counting() as seen:
            empty_pull()
        pull_statements = sum(seen.values())
        pull_ms = median_ms(empty_pull, runs)
        with app.app_context():
            def policies_only():
                reference_version(reference_data(phone_policies(db.session, utcnow())))
                db.session.rollback()
            with statements.counting() as seen:
                policies_only()
            policy_statements = sum(seen.values())
            policy_ms = median_ms(policies_only, runs)
        rows += [
            ("empty pull (median)", pull_ms, f"ms, {pull_statements} statements"),
            ("  policies read by it", policy_ms,
             f"ms, {policy_statements} statements, {policy_ms / pull_ms:.0%} of the pull"),
        ]

        # 2. Contact attempts, yesterday from 09:00 in Shanghai (repetition k: k days earlier,
        # so each one-debtor push starts from an empty day): connected calls on one debtor,
        # over 50 debtors, and unanswered ones over the same 50.
        yesterday = utcnow().replace(hour=1, minute=0, second=0, microsecond=0) - timedelta(1)
        kinds = {
            "50 connected calls, 1 debtor": lambda d: [
                call(cases[0][0], d + timedelta(minutes=5 * i), "connected") for i in range(BATCH)],
            "50 connected calls, 50 debtors": lambda d: [
                call(cases[1 + i][0], d, "connected") for i in range(BATCH)],
            "50 unanswered calls, 50 debtors": lambda d: [
                call(cases[1 + i][0], d + timedelta(hours=1), "no_answer") for i in range(BATCH)],
        }
        calls = {what: Timings() for what in kinds}
        for k in range(pushes):
            for what, make in kinds.items():
                calls[what].push(lead, make(yesterday - timedelta(days=k)), statements)
        for what, t in calls.items():
            rows.append((f"push {what}", t.ms, t.note()))
        one, many, floor = (t.ms for t in calls.values())
        rows += [
            ("  ratio per mutation: 50 debtors / 1 debtor", many / one, ""),
            ("  ratio per mutation: connected / unanswered", many / floor,
             "(50 debtors: the cap's lock and count)"),
        ]

        # 3. Visit reports with a co-collector: the preset and a version counting visits,
        # alternately (each a new version of the CN policy), each on 50 debtors not visited yet.
        cosign = client.post("/auth/cosign", headers=lead_headers,
                             json={"username": "second", "password": PASSWORD})
        assert cosign.status_code == 200, cosign.data
        co = [{"user_id": users["second"], "attestation": cosign.get_json()["attestation"]}]
        now = utcnow()
        starts = [now - timedelta(minutes=10) + timedelta(seconds=i) for i in range(BATCH)]
        labels = {"CN preset (visits not counted)": PRESETS["CN"],
                  "calls_and_visits": dataclasses.replace(PRESETS["CN"],
                                                          attempts_counted="calls_and_visits")}
        visits = {label: Timings() for label in labels}
        free = cases[1:]  # calls were yesterday: today's caps do not see them
        rounds = min(pushes, len(free) // (len(labels) * BATCH))
        for k in range(rounds):
            for label, rules in labels.items():
                if k or label != "CN preset (visits not counted)":
                    with app.app_context():
                        store_version(db.session, "CN", rules,
                                      effective_from=datetime(2000, 1, 1, tzinfo=UTC))
                        db.session.commit()
                chosen, free = free[:BATCH], free[BATCH:]
                second.push([presence(c, spot, s + timedelta(minutes=5))
                             for (c, _, spot), s in zip(chosen, starts, strict=True)])
                visits[label].push(lead, [visit(c, address, spot, s, co) for (c, address, spot), s
                                          in zip(chosen, starts, strict=True)], statements)
        for label, t in visits.items():
            rows.append((f"push 50 visit reports, {label}", t.ms, t.note(paired=True)))
        preset_ms, counted_ms = (t.ms for t in visits.values())
        rows.append(("  ratio per mutation: counting visits / preset", counted_ms / preset_ms, ""))
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return rows


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--pushes", type=int, default=3, help="repetitions of each push")
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    started = time.perf_counter()
    for engine in args.engines.split(","):
        rows = bench(engine, args.cases, args.runs, args.pushes)
        for what, figure, note in rows:
            print(f"  {what:<52} {figure:>9.2f} {note}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
