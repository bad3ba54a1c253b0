"""The 8 a.m. storm through gunicorn: simulated phones against `fieldvisit serve` on PostgreSQL.

Starts `fieldvisit serve` (gunicorn, `--workers` x `--threads`, production settings: the bench
keys of `bench/scale/keys.py` through the environment, no debug) on a database made by
`bench/scale/generate.py` (or an existing one: `--database-url`), then drives it with a light
HTTP driver (stdlib `http.client`, one keep-alive connection per thread, gzip pages of which
only the head is parsed, as `bench/sync.py` does):

1. **storm**: `--phones` collectors bootstrap at once (`--concurrency` at a time), each
   following every page (`--page-limit` cases a page);
2. **pull**: `--pull-rounds` rounds of delta pulls by every phone (nothing or little new);
3. **push**: `--pushes` phones each push a visit report declaring one photo (a real JPEG of
   tests/data/photos), then upload it as docs/sync.md says (`upload-url`, PUT, `complete`);
4. **lag**: an import of `--import-cases` cases (`api.services.imports.demo.book`, given to
   the book's collectors) through `POST /imports` as an admin, in parts no larger than the
   server's upload limit; it works with a synchronous answer and with 202 + polling
   `GET /imports/{id}`. Meanwhile, every `--lag-interval` s, an admin reassigns a case outside
   the import between two collectors (`PUT /cases/{id}/assignment`) and the new holder's
   phone delta-pulls until the case arrives: the lag is from the assignment's answer to the
   pull that shows it. A few steady pullers run alongside.

Phones get access tokens minted as the app mints them (`TokenService.signer` with the
server's key, for the devices the generator registered), to skip 1,000 argon2 sign-ins; the
first `--logins` phones sign in through `POST /auth/login` for real (timed). Usage:

    .venv/bin/python bench/scale/storm.py [--cases 100000 --collectors 1000 | --database-url URL]
        [--keep] [--phones 1000] [--concurrency 50] [--workers 2] [--threads 8]
        [--phases storm,pull,push,lag] [--import-cases 100000]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import itertools
import json
import logging
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.scale import generate, keys  # noqa: E402

AS_OF = date(2026, 11, 21)
PHOTO = ROOT / "tests" / "data" / "photos" / "DSCN0010.jpg"
ACCESS_TTL_S = 4 * 3600  # long enough for the whole run: tokens are minted once


# --------------------------------------------------------------------------- measuring


def percentile(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


@dataclass
class Timings:
    """Request latencies (ms) by kind, and errors."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, ms: float) -> None:
        with self.lock:
            self.samples.setdefault(kind, []).append(ms)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1

    def report(self, title: str, seconds: float, units: dict[str, str] | None = None) -> None:
        print(f"\n{title}: {seconds:.1f} s wall, load average {load():s}")
        print(f"  {'kind':<22} {'count':>7} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8} "
              f"{'p99 ms':>8} {'max ms':>8}")
        for kind, values in self.samples.items():
            print(f"  {kind:<22} {len(values):>7,} {len(values) / seconds:>8.1f} "
                  f"{percentile(values, 50):>8.1f} {percentile(values, 95):>8.1f} "
                  f"{percentile(values, 99):>8.1f} {max(values):>8.1f}")
        if self.errors:
            print("  errors: " + ", ".join(f"{k}: {v}" for k, v in self.errors.items()))


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def process_cpu(pid: int) -> tuple[int, float]:
    """(process group, user + system CPU seconds including reaped children) of a process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return -1, 0.0
    return int(fields[2]), sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds of the gunicorn processes and of the PostgreSQL backends of the database:
    the cost of a phase, whatever else the shared machine was doing."""

    def __init__(self, server: Server | None, engine):
        self.server, self.engine = server, engine

    def read(self) -> tuple[float, dict[int, float]]:
        app = 0.0
        if self.server is not None:
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    group, cpu = process_cpu(int(entry))
                    if group == self.server.proc.pid:
                        app += cpu
        with self.engine.connect() as conn:
            pids = conn.scalars(text("SELECT pid FROM pg_stat_activity "
                                     "WHERE datname = current_database()")).all()
        return app, {pid: process_cpu(pid)[1] for pid in pids}

    def since(self, start: tuple[float, dict[int, float]], requests: int) -> str:
        """The phase's CPU (a backend that ended during it is not counted: a lower bound)."""
        app, backends = self.read()
        app -= start[0]
        database = sum(max(0.0, cpu - start[1].get(pid, 0.0)) for pid, cpu in backends.items())
        total = app + database
        return (f"  CPU: gunicorn {app:.1f} s + PostgreSQL {database:.1f} s = {total:.1f} s; "
                f"{requests / total if total else float('nan'):.0f} requests per CPU-second")


# --------------------------------------------------------------------------- the server


class Server:
    """`fieldvisit serve` in its own process group; stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, url: str, port: int, workers: int, threads: int, tmp: Path):
        self.port = port
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDVISIT_")}
        env |= keys.server_env(url, str(tmp / "blobs"))
        env["FIELDVISIT_ACCESS_TOKEN_TTL_S"] = str(ACCESS_TTL_S)
        env["FIELDVISIT_VAR_DIR"] = str(tmp / "var")
        # This checkout's code (the shared venv's `fieldvisit` may be installed from another).
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.log = (tmp / "server.log").open("w")
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "fieldvisit"), "serve", "--bind",
             f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
             "--timeout", "3600", "--no-control-socket", "--name", "fieldvisit-scale-bench"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.log_path = tmp / "server.log"

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log_path.read_text()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/readyz")
                answer = conn.getresponse()
                answer.read()
                conn.close()
                if answer.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError("the server did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()


# --------------------------------------------------------------------------- the driver


class Http:
    """One keep-alive connection per thread."""

    def __init__(self, port: int):
        self.port = port
        self.local = threading.local()

    def request(self, method: str, path: str, *, headers: dict, body: bytes | None = None,
                timeout: float = 600) -> tuple[int, bytes, dict]:
        for attempt in (1, 2):
            conn = getattr(self.local, "conn", None)
            if conn is None or conn.timeout != timeout:
                conn = self.local.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=timeout)
            try:
                conn.request(method, path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                return answer.status, data, dict(answer.getheaders())
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def decode_json(data: bytes, headers: dict) -> dict:
    if headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return json.loads(data)


@dataclass
class Phone:
    user_id: int
    username: str
    device_id: str
    token: str = ""
    cursor: str | None = None
    ref_version: str | None = None
    last_mutation_id: int = 0
    case_ids: list[int] = field(default_factory=list)

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}", "Accept-Encoding": "gzip"}


def pull_page(http_: Http, phone: Phone, limit: int | None, timings: Timings, kind: str,
              cursor: str | None) -> tuple[dict, bytes]:
    """One page: (its head, the decompressed body). Only the head is parsed."""
    query = {"cursor": cursor, "limit": limit, "ref_version": phone.ref_version}
    qs = "&".join(f"{k}={v}" for k, v in query.items() if v is not None)
    started = time.perf_counter()
    status, data, headers = http_.request("GET", f"/sync/pull?{qs}", headers=phone.headers())
    timings.add(kind, (time.perf_counter() - started) * 1000)
    if status != 200:
        raise RuntimeError(f"pull {status}: {data[:300]!r}")
    body = gzip.decompress(data) if headers.get("Content-Encoding") == "gzip" else data
    head_end = body.index(b',"changes":[')
    head = json.loads(body[:head_end] + b"}")
    return head, body[head_end:]


def ids_in(changes: bytes, op: str = "put") -> list[int]:
    """Case ids of the `op` changes of a page (cheap: the server writes a fixed prefix)."""
    marker = f'{{"op":"{op}","entity":"case","id":'.encode()
    out, start = [], 0
    while (k := changes.find(marker, start)) >= 0:
        k += len(marker)
        end = changes.index(b",", k) if op == "put" else changes.index(b"}", k)
        out.append(int(changes[k:end]))
        start = end
    return out


def bootstrap(http_: Http, phone: Phone, limit: int | None, timings: Timings) -> int:
    """Every page of a bootstrap; answers the pages. Keeps the delta cursor."""
    cursor, pages, ids = None, 0, []
    started = time.perf_counter()
    while True:
        head, changes = pull_page(http_, phone, limit, timings, "bootstrap page", cursor)
        pages += 1
        ids += ids_in(changes)
        phone.ref_version = phone.ref_version or head.get("reference", {}).get("version")
        phone.last_mutation_id = head["last_mutation_id"]
        cursor = head["cursor"]
        if not head["has_more"]:
            break
    timings.add("whole bootstrap", (time.perf_counter() - started) * 1000)
    phone.cursor, phone.case_ids = cursor, ids
    return pages


def delta(http_: Http, phone: Phone, timings: Timings, kind: str = "delta pull") -> list[int]:
    """Follow the phone's delta to its end; answers the case ids put."""
    seen = []
    while True:
        head, changes = pull_page(http_, phone, None, timings, kind, phone.cursor)
        seen += ids_in(changes)
        phone.cursor = head["cursor"]
        if not head["has_more"]:
            return seen


def run_all(items: list, work: Callable, concurrency: int, timings: Timings, what: str):
    """`work(item)` for every item, `concurrency` at a time; failures counted, not raised."""
    def guarded(item):
        try:
            return work(item)
        except Exception as exc:
            timings.error(f"{what}: {type(exc).__name__}: {str(exc)[:120]}")
            return None

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(guarded, items))


# --------------------------------------------------------------------------- the phases


class Bench:
    def __init__(self, url: str, http_: Http, args, server: Server | None = None):
        self.url, self.http, self.args = url, http_, args
        self.engine = create_engine(url)
        self.cpu = CpuMeter(server, self.engine)
        with self.engine.connect() as conn:
            users = conn.execute(text(
                "SELECT u.id, u.username, u.role, u.team_id, t.code FROM users u "
                "LEFT JOIN teams t ON t.id = u.team_id ORDER BY u.id")).all()
        from api.services.identity.tokens import TokenService

        signer = TokenService(None, [keys.SECRET_KEY], ACCESS_TTL_S, ACCESS_TTL_S).signer
        self.mint = lambda uid, device: signer.dumps({"u": uid, "d": device, "g": 0})
        self.collectors = [u for u in users if u.role == "collector"]
        admin = next(u for u in users if u.role == "admin")
        self.admin = Phone(admin.id, admin.username, generate.device_id(admin.username))
        self.admin.token = self.mint(admin.id, self.admin.device_id)
        rng = random.Random(3)
        chosen = rng.sample(self.collectors, min(args.phones, len(self.collectors)))
        self.phones = [Phone(u.id, u.username, generate.device_id(u.username)) for u in chosen]

    def sign_in(self) -> None:
        timings = Timings()
        started = time.perf_counter()
        logins = self.phones[: self.args.logins]

        def login(phone: Phone) -> None:
            body = json.dumps({"username": phone.username, "password": keys.PASSWORD,
                               "device": {"id": phone.device_id, "label": "bench phone",
                                          "platform": "android-14"}}).encode()
            t = time.perf_counter()
            status, data, _ = self.http.request(
                "POST", "/auth/login", body=body, headers={"Content-Type": "application/json"})
            timings.add("login (argon2)", (time.perf_counter() - t) * 1000)
            if status != 200:
                raise RuntimeError(f"login {status}: {data[:200]!r}")
            phone.token = json.loads(data)["access_token"]

        run_all(logins, login, min(8, self.args.concurrency), timings, "login")
        for phone in self.phones[self.args.logins:]:
            phone.token = self.mint(phone.user_id, phone.device_id)
        if logins:
            timings.report(f"sign-in: {len(logins)} phones through /auth/login, "
                           f"{len(self.phones) - len(logins)} tokens minted",
                           time.perf_counter() - started)

    def storm(self) -> None:
        timings = Timings()
        cpu = self.cpu.read()
        started = time.perf_counter()
        pages = run_all(self.phones, lambda p: bootstrap(self.http, p, self.args.page_limit,
                                                          timings),
                        self.args.concurrency, timings, "bootstrap")
        seconds = time.perf_counter() - started
        done = [p for p in pages if p]
        cases = sum(len(p.case_ids) for p in self.phones)
        timings.report(f"storm: {len(done):,} of {len(self.phones):,} phones bootstrapped "
                       f"({sum(done):,} pages of {self.args.page_limit or 'the default 300'}, "
                       f"{cases:,} cases) at concurrency {self.args.concurrency}", seconds)
        print(f"  {len(done) / seconds:.1f} bootstraps/s, {sum(done) / seconds:.1f} pages/s, "
              f"{cases / seconds:,.0f} cases/s")
        print(self.cpu.since(cpu, sum(done)))

    def pulls(self) -> None:
        timings = Timings()
        ready = [p for p in self.phones if p.cursor]
        cpu = self.cpu.read()
        started = time.perf_counter()
        for _ in range(self.args.pull_rounds):
            run_all(ready, lambda p: delta(self.http, p, timings), self.args.concurrency,
                    timings, "delta")
        timings.report(f"steady delta pulls: {self.args.pull_rounds} rounds x {len(ready):,} "
                       f"phones at concurrency {self.args.concurrency}",
                       time.perf_counter() - started)
        print(self.cpu.since(cpu, len(timings.samples.get("delta pull", []))))

    def pushes(self) -> None:
        timings = Timings()
        photo = PHOTO.read_bytes()
        digest = hashlib.sha256(photo).hexdigest()
        phones = [p for p in self.phones if p.case_ids][: self.args.pushes]

        def push(phone: Phone) -> None:
            t0 = time.perf_counter()
            file_id = str(uuid.uuid4())
            phone.last_mutation_id += 1
            visit = {"id": str(uuid.uuid4()), "case_id": phone.case_ids[0],
                     "started_at": "2026-11-20T10:00:00+08:00",
                     "ended_at": "2026-11-20T10:20:00+08:00", "met": "debtor",
                     "outcome": "promise_to_pay", "next_step": "revisit",
                     "files": [{"id": file_id, "kind": "site", "sha256": digest,
                                "size": len(photo), "mime": "image/jpeg",
                                "captured_at": "2026-11-20T10:05:00+08:00"}]}
            body = json.dumps({"device_id": phone.device_id,
                               "device_time": "2026-11-20T10:25:00+08:00",
                               "mutations": [{"mutation_id": phone.last_mutation_id,
                                              "type": "visit_report",
                                              "client_time": "2026-11-20T10:25:00+08:00",
                                              "payload": visit}]}).encode()
            headers = {**phone.headers(), "Content-Type": "application/json"}
            status, data, h = self.http.request("POST", "/sync/push", body=body,
                                                headers=headers)
            t1 = time.perf_counter()
            timings.add("push (1 visit)", (t1 - t0) * 1000)
            result = decode_json(data, h)["results"][0] if status == 200 else {}
            if result.get("status") not in ("applied", "duplicate"):
                raise RuntimeError(f"push {status}: {data[:300]!r}")
            status, data, h = self.http.request("POST", f"/evidence/{file_id}/upload-url",
                                                headers=phone.headers())
            t2 = time.perf_counter()
            timings.add("upload-url", (t2 - t1) * 1000)
            if status != 200:
                raise RuntimeError(f"upload-url {status}: {data[:300]!r}")
            target = decode_json(data, h)
            put_path = target["url"].split("//", 1)[-1].split("/", 1)[-1]
            status, data, _ = self.http.request(
                target.get("method", "PUT"), "/" + put_path, body=photo,
                headers={**target.get("headers", {}), "Content-Length": str(len(photo))})
            t3 = time.perf_counter()
            timings.add(f"PUT photo ({len(photo) // 1024} KB)", (t3 - t2) * 1000)
            if status >= 300:
                raise RuntimeError(f"PUT {status}: {data[:300]!r}")
            status, data, _ = self.http.request("POST", f"/evidence/{file_id}/complete",
                                                headers=phone.headers())
            t4 = time.perf_counter()
            timings.add("complete", (t4 - t3) * 1000)
            if status != 200:
                raise RuntimeError(f"complete {status}: {data[:300]!r}")
            timings.add("whole push + photo", (t4 - t0) * 1000)

        cpu = self.cpu.read()
        started = time.perf_counter()
        run_all(phones, push, min(self.args.concurrency, 20), timings, "push")
        timings.report(f"pushes with photos: {len(phones)} phones, one visit report and one "
                       f"{len(photo) / 1024:.0f} KB JPEG each, concurrency "
                       f"{min(self.args.concurrency, 20)}", time.perf_counter() - started)
        print(self.cpu.since(cpu, 4 * len(timings.samples.get("complete", []))))

    # --- delta lag during an import ---------------------------------------------------------

    def import_parts(self) -> list[bytes]:
        """The import file (cached next to the database's name), split to fit the server's
        upload limit; cases go to random collectors of the book, with their team."""
        from api.resources.imports import MAX_IMPORT_BYTES
        from api.services.imports.demo.book import generate_cases_file

        n = self.args.import_cases
        cache = Path(tempfile.gettempdir()) / f"fv_scale_import_{n}.json"
        if cache.exists():
            doc = json.loads(cache.read_bytes())
        else:
            started = time.perf_counter()
            doc = generate_cases_file(n, seed=7, as_of=AS_OF)
            print(f"  generated the import file of {n:,} cases in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
            cache.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
        rng = random.Random(9)
        for case in doc["cases"]:
            holder = rng.choice(self.collectors)
            case["team_code"], case["collector_username"] = holder.code, holder.username
        total = len(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())
        parts = max(1, math.ceil(total / (MAX_IMPORT_BYTES * 0.9)))
        size = math.ceil(len(doc["cases"]) / parts)
        return [json.dumps({**doc, "cases": doc["cases"][k:k + size]}, ensure_ascii=False,
                           separators=(",", ":")).encode()
                for k in range(0, len(doc["cases"]), size)]

    def run_import(self, parts: list[bytes], log: list) -> None:
        """POST each part as an admin; follow a 202 by polling GET /imports/{id}."""
        headers = {**self.admin.headers(), "Content-Type": "application/json"}
        for k, body in enumerate(parts, start=1):
            started = time.perf_counter()
            http_ = Http(self.http.port)
            status, data, h = http_.request("POST", "/imports?kind=cases", body=body,
                                            headers=headers, timeout=3600)
            answer = decode_json(data, h) if data else {}
            if status not in (200, 201, 202):
                log.append(("error", k, status, data[:300]))
                return
            if status == 202:
                location = h.get("Location", "")
                path = location[location.find("/imports/"):] if "/imports/" in location else (
                    f"/imports/{answer.get('import_id') or answer.get('run_id') or answer['id']}")
                answer = self.poll_import(http_, path, log)
            seconds = time.perf_counter() - started
            log.append(("part", k, len(body), seconds, answer))

    def poll_import(self, http_: Http, path: str, log: list) -> dict:
        last_done, changed_at = None, time.perf_counter()
        while True:
            _status, data, h = http_.request("GET", path, headers=self.admin.headers())
            answer = decode_json(data, h)
            done = answer.get("progress", answer).get("done") if isinstance(
                answer.get("progress"), dict) else answer.get("done", answer.get("rows"))
            now = time.perf_counter()
            if done != last_done:
                log.append(("progress", now, done, answer.get("percent")))
                last_done, changed_at = done, now
            if str(answer.get("status", "")).lower() in (
                    "done", "succeeded", "completed", "finished", "failed", "cancelled",
                    "error") or answer.get("finished_at"):
                return answer
            if now - changed_at > 1800:
                raise RuntimeError("the import made no progress for 30 minutes")
            time.sleep(0.5)

    def probe_case(self) -> tuple[int, int, int]:
        """(case id, collector A holding it, collector B of the same team): an open case of
        a phone, outside the import."""
        ids = [p.user_id for p in self.phones]
        with self.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT c.id, c.collector_id, c.team_id FROM cases c WHERE c.status = 'active'"
                " AND c.collector_id = ANY(:ids) AND c.contract_no LIKE 'FV-%' ORDER BY c.id "
                "LIMIT 1"), {"ids": ids}).one()
            other = conn.execute(text(
                "SELECT id FROM users WHERE team_id = :t AND role = 'collector' AND id <> :a "
                "ORDER BY id LIMIT 1"), {"t": row.team_id, "a": row.collector_id}).scalar_one()
        return row.id, row.collector_id, other

    def lag(self) -> None:
        case_id, a_id, b_id = self.probe_case()
        probes = {}
        for uid in (a_id, b_id):
            user = next(u for u in self.collectors if u.id == uid)
            phone = Phone(uid, user.username, generate.device_id(user.username))
            phone.token = self.mint(uid, phone.device_id)
            bootstrap(self.http, phone, None, Timings())
            probes[uid] = phone
        print(f"\n  preparing the import file ({self.args.import_cases:,} cases)...", flush=True)
        parts = self.import_parts()
        print(f"  {len(parts)} part(s) of {', '.join(f'{len(p) / 2**20:.0f}' for p in parts)} "
              f"MB", flush=True)
        holder = [a_id]

        def probe(timings: Timings, label: str) -> float:
            """Reassign the case to the other collector; seconds until their pull shows it."""
            target = b_id if holder[0] == a_id else a_id
            body = json.dumps({"collector_id": target, "reason": "bench lag probe"}).encode()
            t0 = time.perf_counter()
            status, data, _ = self.http.request(
                "PUT", f"/cases/{case_id}/assignment", body=body,
                headers={**self.admin.headers(), "Content-Type": "application/json"})
            t1 = time.perf_counter()
            timings.add(f"{label}: reassign", (t1 - t0) * 1000)
            if status != 200:
                raise RuntimeError(f"reassign {status}: {data[:300]!r}")
            holder[0] = target
            phone = probes[target]
            while case_id not in delta(self.http, phone, timings, f"{label}: probe pull"):
                if time.perf_counter() - t1 > 3600:
                    raise RuntimeError("the reassignment never arrived")
                time.sleep(0.05)
            seconds = time.perf_counter() - t1
            timings.add(f"{label}: lag", seconds * 1000)
            return seconds

        quiet = Timings()
        for _ in range(5):
            probe(quiet, "no import")
            time.sleep(0.2)
        quiet.report("delta lag without an import (5 reassignments)", 1)

        log: list = []
        timings = Timings()
        stop = threading.Event()
        importer = threading.Thread(target=self.run_import, args=(parts, log), daemon=True)
        pullers = [p for p in self.phones if p.cursor][:20]
        if not pullers:  # the storm phase did not run: bootstrap a few steady pullers
            pullers = self.phones[:20]
            run_all(pullers, lambda p: bootstrap(self.http, p, None, Timings()), 10,
                    timings, "bootstrap")

        def steady() -> None:
            while not stop.is_set():
                for phone in pullers:
                    if stop.is_set():
                        return
                    try:
                        delta(self.http, phone, timings, "during import: pull")
                    except Exception as exc:
                        timings.error(f"pull: {exc!s:.100}")
                    time.sleep(self.args.lag_interval / len(pullers))

        started = time.perf_counter()
        importer.start()
        steady_thread = threading.Thread(target=steady, daemon=True)
        steady_thread.start()
        lags: list[tuple[float, float]] = []
        while importer.is_alive():
            tick = time.perf_counter()
            try:
                lags.append((tick - started, probe(timings, "during import")))
            except Exception as exc:
                timings.error(f"probe: {exc!s:.100}")
            time.sleep(max(0.0, self.args.lag_interval - (time.perf_counter() - tick)))
        stop.set()
        steady_thread.join()
        seconds = time.perf_counter() - started
        timings.report(f"during the import of {self.args.import_cases:,} cases "
                       f"({len(parts)} part(s)), one reassignment a "
                       f"{self.args.lag_interval:g} s", seconds)
        for entry in log:
            if entry[0] == "part":
                _, k, size, part_s, answer = entry
                rows = answer.get("rows") or answer.get("total")
                print(f"  import part {k}: {size / 2**20:.0f} MB, {part_s:.1f} s"
                      + (f", {rows:,} rows = {rows / part_s:,.0f} cases/s" if rows else "")
                      + f"; created {answer.get('created')}, errors {error_count(answer)}")
            elif entry[0] == "error":
                print(f"  import part {entry[1]} refused: {entry[2]} {entry[3]!r}")
        steps = [e[1] for e in log if e[0] == "progress"]
        if len(steps) > 2:
            gaps = [b - a for a, b in itertools.pairwise(steps)]
            print(f"  progress moved {len(steps)} times: median step {percentile(gaps, 50):.1f} s"
                  f" (about one chunk's time)")
        if lags:
            values = [lag for _, lag in lags]
            print(f"  delta lag: {len(values)} probes, p50 {percentile(values, 50):.2f} s, "
                  f"p95 {percentile(values, 95):.2f} s, max {max(values):.2f} s")
            held = [(t, lag) for t, lag in lags if lag > 5]
            if held:
                print("  held back over 5 s (s since the import began: lag s): " + ", ".join(
                    f"{t:.0f}: {lag:.1f}" for t, lag in held))
            print("  lag over time (s since the import began: lag s): " + ", ".join(
                f"{t:.0f}: {lag:.1f}" for t, lag in lags[:: max(1, len(lags) // 12)]))


def error_count(answer: dict):
    errors = answer.get("errors")
    if isinstance(errors, str):
        errors = json.loads(errors or "[]")
    return len(errors) if isinstance(errors, list) else errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="a database made by generate.py --keep")
    parser.add_argument("--cases", type=int, default=100_000,
                        help="without --database-url: generate this many cases first")
    parser.add_argument("--collectors", type=int, default=1_000)
    parser.add_argument("--keep", action="store_true", help="keep a generated database")
    parser.add_argument("--phones", type=int, default=1000)
    parser.add_argument("--logins", type=int, default=20,
                        help="phones that sign in through /auth/login (the rest: minted)")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--page-limit", type=int, default=50)
    parser.add_argument("--pull-rounds", type=int, default=3)
    parser.add_argument("--pushes", type=int, default=200)
    parser.add_argument("--import-cases", type=int, default=100_000)
    parser.add_argument("--lag-interval", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--port", type=int, default=18700 + os.getpid() % 1000)
    parser.add_argument("--phases", default="storm,pull,push,lag")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    phases = set(args.phases.split(","))
    url, generated = args.database_url, False
    if url is None:
        url = generate.create_database(f"fv_scale_{args.cases}_{uuid.uuid4().hex[:6]}")
        generated = True
        print(f"generating {args.cases:,} cases for {args.collectors:,} collectors in {url}")
        f = generate.generate(url, args.cases, args.collectors, 2, 5000)
        print(f"  {f['total_s']:.0f} s")
    with create_engine(url).connect() as conn:
        counts = conn.execute(text("SELECT (SELECT count(*) FROM cases), (SELECT count(*) "
                                   "FROM users WHERE role = 'collector')")).one()
    print(f"database: {counts[0]:,} cases, {counts[1]:,} collectors; server: {args.workers} "
          f"gunicorn workers x {args.threads} threads; load average {load()}", flush=True)
    server = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            server = Server(url, args.port, args.workers, args.threads, Path(tmp))
            server.wait_ready()
            bench = Bench(url, Http(args.port), args, server)
            bench.sign_in()
            if phases & {"storm", "pull", "push"}:
                bench.storm()
            if "pull" in phases:
                bench.pulls()
            if "push" in phases:
                bench.pushes()
            if "lag" in phases:
                bench.lag()
            server.stop()
    finally:
        if server is not None:
            server.stop()
        if generated and not args.keep:
            generate.drop_database(url)
            print("database dropped")
        elif generated:
            print(f"kept: --database-url {url}")


if __name__ == "__main__":
    main()
