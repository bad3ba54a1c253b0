"""A team on the embedded default: phones pushing and pulling at once against
`fieldvisit serve` on SQLite.

Seeds a fresh SQLite database (one team, N collectors, each holding generated cases), starts
`fieldvisit serve` (gunicorn) on a loopback port, and drives N simulated phones for a fixed
time. Each phone loops: a delta pull (following pages), a push of a few contact attempts and
notes, and an audited read of one of its cases. Printed: requests by kind, how many answered
503 (or any other error), and p50/p95/p99 latency. The aim is 0 × 503. Usage:

    .venv/bin/python bench/sqlite_concurrency.py [--phones 8] [--seconds 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import create_app  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.models import Case, Role  # noqa: E402
from api.services.identity import accounts  # noqa: E402
from api.services.imports.demo.book import generate_cases_file  # noqa: E402
from api.services.imports.runs import import_cases  # noqa: E402
from bench.databases import migrate  # noqa: E402

AS_OF = date(2026, 11, 21)
PASSWORD = "bench-password"


def seed(config: Config, phones: int, cases_per_phone: int) -> dict[str, list[int]]:
    """{username: [case ids]} for `phones` collectors of one team."""
    app = create_app(config)
    with app.app_context():
        team = accounts.create_team(db.session, "B1", "Bench branch")
        names = [f"phone{i + 1}" for i in range(phones)]
        for name in names:
            accounts.create_user(db.session, username=name, full_name=name,
                                 role=Role.COLLECTOR, password=PASSWORD, team_id=team.id)
        db.session.commit()
        doc = generate_cases_file(phones * cases_per_phone, seed=5, as_of=AS_OF)
        for n, case in enumerate(doc["cases"]):
            case["team_code"], case["collector_username"] = "B1", names[n % phones]
        import_cases(db.session, app.extensions["fieldvisit.pii"], doc, as_of=AS_OF)
        db.session.commit()
        held: dict[str, list[int]] = defaultdict(list)
        users = {u.id: u.username for u in db.session.scalars(
            db.select(accounts.User).where(accounts.User.username.in_(names)))}
        for case_id, collector_id in db.session.execute(db.select(Case.id, Case.collector_id)):
            held[users[collector_id]].append(case_id)
        db.engine.dispose()
    return held


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


class Phone(threading.Thread):
    """One collector's phone: login, then pull / push / read until the deadline."""

    def __init__(self, port: int, username: str, case_ids: list[int], deadline: float):
        super().__init__(daemon=True)
        self.port, self.username, self.case_ids, self.deadline = port, username, case_ids, deadline
        self.samples: list[tuple[str, int, float]] = []
        self.device = str(uuid.uuid4())
        self.mutation_id = 0

    def call(self, kind: str, method: str, path: str, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        payload = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        conn.request(method, path, body=payload, headers={
            **({"Content-Type": "application/json"} if payload else {}), **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        self.samples.append((kind, response.status, (time.perf_counter() - started) * 1000))
        conn.close()
        return response.status, data

    def run(self) -> None:
        status, data = self.call("login", "POST", "/auth/login", {
            "username": self.username, "password": PASSWORD, "device": {"id": self.device}})
        if status != 200:
            return
        auth = {"Authorization": f"Bearer {json.loads(data)['access_token']}"}
        cursor, n = None, 0
        while time.monotonic() < self.deadline:
            while True:  # pull every page
                query = f"?limit=200&cursor={cursor}" if cursor else "?limit=200"
                status, data = self.call("pull", "GET", "/sync/pull" + query, headers=auth)
                if status != 200:
                    cursor = None if status == 410 else cursor
                    break
                page = json.loads(data)
                cursor = page["cursor"]
                if not page["has_more"]:
                    break
            self.call("push", "POST", "/sync/push", self._batch(), headers=auth)
            case_id = self.case_ids[n % len(self.case_ids)]
            self.call("case read", "GET", f"/cases/{case_id}", headers=auth)
            n += 1

    def _batch(self) -> dict:
        now = datetime.now(UTC).isoformat()
        mutations = []
        for i in range(4):
            self.mutation_id += 1
            case_id = self.case_ids[(self.mutation_id + i) % len(self.case_ids)]
            if i % 2:
                kind, payload = "case_note", {"text": f"note {self.mutation_id}"}
            else:
                kind, payload = "contact_attempt", {
                    "channel": "call", "outcome": "no_answer", "occurred_at": now}
            mutations.append({"mutation_id": self.mutation_id, "type": kind, "client_time": now,
                              "payload": {"id": str(uuid.uuid4()), "case_id": case_id, **payload}})
        return {"device_id": self.device, "mutations": mutations}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cases-per-phone", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "FIELDVISIT_DATABASE_URL": f"sqlite:///{tmp}/fieldvisit.db",
            "FIELDVISIT_BLOB_STORE": f"local:{tmp}/blobs",
            "FIELDVISIT_SECRET_KEY": secrets.token_urlsafe(32),
            "FIELDVISIT_PII_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "FIELDVISIT_AUDIT_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "FIELDVISIT_ARGON2_PROFILE": "CHEAPEST",
            # One JSON line per request would fill the unread stderr pipe and stall the server.
            "FIELDVISIT_LOG_LEVEL": "WARNING",
        }
        migrate(env["FIELDVISIT_DATABASE_URL"])
        config = Config.from_env(env)
        held = seed(config, args.phones, args.cases_per_phone)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-c", "from api.cli import main; main()", "serve",
             "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(port)
            deadline = time.monotonic() + args.seconds
            phones = [Phone(port, name, ids, deadline) for name, ids in held.items()]
            for phone in phones:
                phone.start()
            for phone in phones:
                phone.join(args.seconds + 120)
        finally:
            server.terminate()
            server.wait(30)
    samples = [s for phone in phones for s in phone.samples]
    statuses = Counter(status for _, status, _ in samples)
    print(f"{args.phones} phones, {args.seconds:.0f} s, {args.workers} gunicorn workers, SQLite")
    print(f"requests: {len(samples)}  by status: {dict(sorted(statuses.items()))}")
    print(f"503s: {statuses.get(503, 0)}  other 5xx: "
          f"{sum(n for s, n in statuses.items() if s >= 500 and s != 503)}")
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, _, ms in samples:
        by_kind[kind].append(ms)
    by_kind["all"] = [ms for _, _, ms in samples]
    errors = Counter(kind for kind, status, _ in samples if status >= 500)
    print(f"{'kind':<10} {'n':>6} {'5xx':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for kind, values in by_kind.items():
        failed = errors.get(kind, 0) if kind != "all" else sum(errors.values())
        print(f"{kind:<10} {len(values):>6} {failed:>5} {percentile(values, 50):>8.1f} "
              f"{percentile(values, 95):>8.1f} {percentile(values, 99):>8.1f}")


if __name__ == "__main__":
    main()
