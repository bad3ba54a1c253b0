"""The reference device client: what a phone does to take part in offline sync.

Mobile developers port this file; the tests use it to simulate phones; the benchmarks drive it.
It needs only the standard library (sqlite3, json, urllib), so it runs anywhere.

The protocol, from the phone's side
-----------------------------------
1. **Identity.** The app generates a device id (UUID) once and keeps it with its store. Login
   (`POST /auth/login` with `device {id, label, platform}`) binds it to the user; every request
   carries the short-lived access token, renewed through `/auth/refresh` on a 401
   `token_expired` (and by signing in again if the refresh token is refused).
2. **Recording.** Everything the collector creates (a contact attempt, a note, a proposal) is a
   *mutation*: it takes the next mutation id (1, 2, 3… per device, never reused, never
   renumbered) and a client-generated UUID for the record it creates. The mutation goes into the
   outbox, and a copy into `sent`, in ONE local transaction that is durable before the UI says
   "saved". The record is the device's from then on: nothing the server says deletes it.
3. **Push** (`POST /sync/push`): outbox entries, oldest first, in batches. One result per
   mutation: `applied`, `rejected` (a business refusal; the message is kept) and `duplicate`
   (the server had it already: it carries the `original` answer) are final, so the entry leaves
   the outbox. `not_applied` (it follows a failure) stays for the next push. A 503 means "retry
   after Retry-After seconds". A network error means the outcome is *unknown*: keep everything
   and send it again later; the server recognises replays by mutation id and answers
   `duplicate`. `gap` means the server is missing earlier mutations (it was restored from a
   backup): resend from the one it expects, taking them from `sent` if the outbox no longer
   has them, under their own ids (never renumber). Send `device_time` (the phone's clock) with
   each batch: the server flags records from a phone whose clock is far off.
4. **Pull** (`GET /sync/pull`): no cursor means a bootstrap. Each page is applied in ONE local
   transaction together with its cursor (`put`: store the case document, `remove`: drop the
   case), following `has_more` to the end. The cursor is opaque. A 410 `sync_reset` means: drop
   the local cases and the cursor, keep the outbox and `sent`, bootstrap again. Send the
   reference data version you hold (`ref_version`); new reference data comes with the page.
5. **Order.** Push before pull, so that the pulled documents already contain the device's own
   records. A page's `last_mutation_id` says which of the device's mutations the server has
   committed. (Outbox entries up to it could be dropped unsent, but resending them is cheap and
   tells whether each was applied or rejected, so this client resends.) A server that claims
   more than the device ever numbered means the local store is an old copy: stop, and sign the
   phone in as a new device, or new records would be taken for replays and lost.
6. **Crash safety.** The app can be killed at any instruction. State changes only inside local
   transactions, and no local transaction is ever held open across a network call (request
   first, then one transaction for the answer). Reopening the same store resumes: at worst a
   push is answered `duplicate` or a page is fetched twice, and both are harmless.

Local store (SQLite):
  meta(key, value)       device_id, next_mutation_id, cursor, ref_version, reference, tokens,
                         server_last_mutation_id
  cases(id, doc)         the case documents this device holds, as the server sent them
  outbox(mutation_id, type, client_time, payload)   what the server has not answered yet
  sent(record_id, mutation_id, type, status, case_id, client_time, payload, result)
                         every record the device created; status pending|applied|rejected
                         (|duplicate: answered as a replay whose first answer is gone)
"""

from __future__ import annotations

import gzip
import http.client
import json
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (id INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    mutation_id INTEGER PRIMARY KEY, type TEXT NOT NULL, client_time TEXT NOT NULL,
    payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sent (
    record_id TEXT PRIMARY KEY, mutation_id INTEGER NOT NULL UNIQUE, type TEXT NOT NULL,
    status TEXT NOT NULL, case_id INTEGER, client_time TEXT NOT NULL, payload TEXT NOT NULL,
    result TEXT);
"""
FINAL = ("applied", "duplicate", "rejected")  # answers that take a mutation out of the outbox


# --- transport ---------------------------------------------------------------------------


class NetworkError(Exception):
    """The exchange failed: the server may or may not have received (and committed) the request."""


class SyncError(Exception):
    """An answer that retrying will not change (bad credentials, a refused request, a store
    older than the server's view of this device)."""


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body_json: Any  # the decoded JSON body, or None


class Transport(Protocol):
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Response:
        """Send one request (a JSON body, or raw `data`); return the answer (any status), or
        raise NetworkError."""
        ...


def _response(status: int, headers, raw: bytes) -> Response:
    names = {str(k).lower(): str(v) for k, v in headers.items()}
    if raw and names.get("content-encoding") == "gzip":
        raw = gzip.decompress(raw)
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return Response(status, names, body)


class FlaskTransport:
    """Requests through a Flask test client (tests, benchmarks): a real app, no sockets."""

    def __init__(self, test_client):
        self.client = test_client

    def request(self, method, path, *, json=None, params=None, headers=None, data=None):
        answer = self.client.open(
            path,
            method=method,
            json=json,
            data=data,
            query_string=params or None,
            headers={"Accept-Encoding": "gzip", **(headers or {})},
        )
        return _response(answer.status_code, answer.headers, answer.get_data())


class HttpTransport:
    """Requests to a real server over HTTP(S) with urllib."""

    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base_url, self.timeout = base_url.rstrip("/"), timeout

    def request(self, method, path, *, json=None, params=None, headers=None, data=None):
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        names = {"Accept": "application/json", "Accept-Encoding": "gzip", **(headers or {})}
        if json is not None:
            data = _dumps(json).encode()
            names["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=names)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return _response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as exc:  # an answer, only not a 2xx one
            with exc:
                return _response(exc.code, exc.headers, exc.read())
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise NetworkError(str(exc)) from exc


# --- reports -----------------------------------------------------------------------------


@dataclass
class PushReport:
    applied: int = 0
    duplicate: int = 0
    rejected: int = 0
    requests: int = 0
    # None: the outbox was drained | "network" | "unavailable" (503/5xx) | "not_applied"
    stopped: str | None = None
    retry_after: int | None = None  # seconds, when the server asked us to wait


@dataclass
class PullReport:
    pages: int = 0
    puts: int = 0
    removes: int = 0
    resets: int = 0
    complete: bool = False  # reached a page with has_more false
    stopped: str | None = None  # "network" | "unavailable"
    retry_after: int | None = None

    @property
    def changes(self) -> int:
        return self.puts + self.removes


@dataclass
class SyncReport:
    push: PushReport
    pull: PullReport
    push_again: PushReport | None = None

    @property
    def ok(self) -> bool:
        last = self.push_again or self.push
        return last.stopped is None and self.pull.complete

    @property
    def pushed(self) -> int:
        reports = [r for r in (self.push, self.push_again) if r]
        return sum(r.applied + r.duplicate + r.rejected for r in reports)


@dataclass
class Record:
    """Something this device created, and what became of it."""

    record_id: str
    mutation_id: int
    type: str
    status: str
    case_id: int | None
    client_time: str
    payload: dict
    result: dict | None = field(default=None)


# --- the client --------------------------------------------------------------------------


class DeviceClient:
    """One phone: a local SQLite store, an outbox, and the push/pull loop.

    Use one instance from one thread at a time; several instances (devices) may run in
    parallel, each with its own store file."""

    MAX_GAP_RECOVERIES = 3
    MAX_RESETS = 3

    def __init__(
        self,
        path: str,
        transport: Transport,
        *,
        username: str,
        password: str,
        device_id: str | None = None,
        label: str = "reference client",
        platform: str = "python",
    ):
        self.transport = transport
        self.username, self.password = username, password
        self.label, self.platform = label, platform
        self.db = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=30
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
        with self._tx():
            for statement in filter(str.strip, SCHEMA.split(";")):
                self.db.execute(statement)
            stored = self._get("device_id")
            if stored is None:
                self._set("schema_version", SCHEMA_VERSION)
                self._set("device_id", device_id or str(uuid.uuid4()))
                self._set("next_mutation_id", "1")
            elif device_id is not None and device_id != stored:
                raise SyncError(f"This store belongs to device {stored}, not {device_id}.")
        self.device_id = self._get("device_id")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- local store ---------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One local transaction. Never call the network inside one."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set(self, key: str, value: str | None) -> None:
        if value is None:
            self.db.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self.db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def cases(self) -> dict[int, dict]:
        """The case documents on this device, by case id."""
        return {
            case_id: json.loads(doc)
            for case_id, doc in self.db.execute("SELECT id, doc FROM cases ORDER BY id")
        }

    def case(self, case_id: int) -> dict | None:
        row = self.db.execute("SELECT doc FROM cases WHERE id = ?", (case_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def outbox_size(self) -> int:
        return self.db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def records(self) -> list[Record]:
        """Everything this device created, oldest first, with its fate."""
        rows = self.db.execute(
            "SELECT record_id, mutation_id, type, status, case_id, "
            "client_time, payload, result FROM sent ORDER BY mutation_id"
        )
        return [
            Record(*row[:6], json.loads(row[6]), json.loads(row[7]) if row[7] else None)
            for row in rows
        ]

    @property
    def reference(self) -> dict | None:
        raw = self._get("reference")
        return json.loads(raw) if raw else None

    @property
    def cursor(self) -> str | None:
        """Where the next pull starts (opaque; None: the next pull bootstraps)."""
        return self._get("cursor")

    @property
    def server_last_mutation_id(self) -> int:
        """The highest mutation id the server had committed at the last pull."""
        return int(self._get("server_last_mutation_id") or 0)

    # --- recording -----------------------------------------------------------------------

    def record(
        self, type: str, payload: dict, *, client_time: datetime | str | None = None
    ) -> tuple[int, str]:
        """Queue a new record; returns (mutation_id, record_id) once it is durable locally.

        `payload` gets a client UUID as `id` unless it has one. `client_time` is the phone's
        clock (with its offset) when the record was made; now by default."""
        if isinstance(client_time, datetime) and client_time.utcoffset() is None:
            raise ValueError("client_time needs its UTC offset")  # else 422 forever
        payload = dict(payload)
        payload.setdefault("id", str(uuid.uuid4()))
        when = client_time or _now()
        when = when if isinstance(when, str) else when.isoformat()
        body = _dumps(payload)
        with self._tx():
            mutation_id = int(self._get("next_mutation_id"))
            self._set("next_mutation_id", str(mutation_id + 1))
            self.db.execute(
                "INSERT INTO outbox (mutation_id, type, client_time, payload) VALUES (?, ?, ?, ?)",
                (mutation_id, type, when, body),
            )
            self.db.execute(
                "INSERT INTO sent (record_id, mutation_id, type, status, case_id, "
                "client_time, payload) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
                (str(payload["id"]), mutation_id, type, payload.get("case_id"), when, body),
            )
        return mutation_id, str(payload["id"])

    # --- sync ----------------------------------------------------------------------------

    def sync(self, *, batch_size: int = 50, page_limit: int | None = None) -> SyncReport:
        """Push, then pull; push again if records were made meanwhile."""
        pushed = self.push(batch_size)
        pulled = self.pull(page_limit)
        report = SyncReport(pushed, pulled)
        if pushed.stopped is None and self.outbox_size():
            report.push_again = self.push(batch_size)
        return report

    def push(self, batch_size: int = 50) -> PushReport:
        """Send the outbox, oldest first, until it is empty or something stops us."""
        report = PushReport()
        recoveries = 0
        while True:
            batch = self.db.execute(
                "SELECT mutation_id, type, client_time, payload FROM outbox "
                "ORDER BY mutation_id LIMIT ?",
                (batch_size,),
            ).fetchall()
            if not batch:
                return report
            mutations = [
                {"mutation_id": m, "type": t, "client_time": c, "payload": json.loads(p)}
                for m, t, c, p in batch
            ]
            try:
                body = {"device_id": self.device_id, "device_time": _now(), "mutations": mutations}
                answer = self._call("POST", "/sync/push", json=body)
            except NetworkError:
                report.stopped = "network"  # outcome unknown: resend later, replays are safe
                return report
            report.requests += 1
            if answer.status not in (200, 503) and answer.status < 500:
                raise SyncError(f"push refused: {answer.status} {answer.body_json}")
            results = (answer.body_json or {}).get("results", [])
            gap = self._take_results(results, report)
            if answer.status != 200:  # results before the failure are final all the same
                report.stopped = "unavailable"
                report.retry_after = _retry_after(answer)
                return report
            if gap is not None:
                recoveries += 1
                if recoveries > self.MAX_GAP_RECOVERIES:
                    raise SyncError(f"the server keeps expecting mutation {gap}")
                self._restore_from(gap)
                continue
            if any(r.get("status") == "not_applied" for r in results) or not results:
                report.stopped = "not_applied"
                return report

    def _take_results(self, results: list[dict], report: PushReport) -> int | None:
        """Record the final answers in one local transaction; returns the id a gap expects."""
        gap = None
        with self._tx():
            for result in results:
                status, mutation_id = result.get("status"), result.get("mutation_id")
                if status == "gap":
                    gap = int(result["expected_mutation_id"])
                if status not in FINAL:
                    continue
                answer = {k: v for k, v in result.items() if k not in ("mutation_id", "status")}
                final = status
                if status == "duplicate":  # a replay: its first answer is the one that counts
                    answer = result.get("original") or {}
                    final = answer.pop("status", "duplicate")
                setattr(report, status, getattr(report, status) + 1)
                self.db.execute("DELETE FROM outbox WHERE mutation_id = ?", (mutation_id,))
                self.db.execute(
                    "UPDATE sent SET status = ?, result = ? WHERE mutation_id = ?",
                    (final, _dumps(answer), mutation_id),
                )
        return gap

    def _restore_from(self, expected: int) -> None:
        """The server is missing mutations from `expected` on (it lost what it had answered):
        put them back in the outbox from `sent`, under their own ids."""
        with self._tx():
            first = self.db.execute("SELECT min(mutation_id) FROM outbox").fetchone()[0]
            rows = self.db.execute(
                "SELECT mutation_id, type, client_time, payload FROM sent "
                "WHERE mutation_id >= ? AND mutation_id < ? ORDER BY mutation_id",
                (expected, first),
            ).fetchall()
            if first is None or len(rows) != first - expected:
                raise SyncError(
                    f"the server expects mutation {expected}, which this device no longer holds"
                )
            self.db.executemany(
                "INSERT INTO outbox (mutation_id, type, client_time, payload) VALUES (?, ?, ?, ?)",
                rows,
            )
            self.db.execute(
                "UPDATE sent SET status = 'pending', result = NULL "
                "WHERE mutation_id >= ? AND mutation_id < ?",
                (expected, first),
            )

    def pull(self, limit: int | None = None) -> PullReport:
        """Follow the change log to its end, one local transaction per page."""
        report = PullReport()
        while True:
            cursor, ref_version = self._get("cursor"), self._get("ref_version")
            params = {
                k: v
                for k, v in (("cursor", cursor), ("ref_version", ref_version), ("limit", limit))
                if v is not None
            }
            try:
                answer = self._call("GET", "/sync/pull", params=params)
            except NetworkError:
                report.stopped = "network"
                return report
            if answer.status == 410 and _error_code(answer) == "sync_reset":
                report.resets += 1
                if report.resets > self.MAX_RESETS:
                    raise SyncError("the server keeps asking for a reset")
                with self._tx():  # keep the outbox and `sent`: they are the device's own
                    self.db.execute("DELETE FROM cases")
                    self._set("cursor", None)
                continue
            if answer.status >= 500:
                report.stopped = "unavailable"
                report.retry_after = _retry_after(answer)
                return report
            if answer.status != 200:
                raise SyncError(f"pull refused: {answer.status} {answer.body_json}")
            self._apply_page(answer.body_json, report)
            report.pages += 1
            if not answer.body_json["has_more"]:
                report.complete = True
                return report

    def _apply_page(self, page: dict, report: PullReport) -> None:
        with self._tx():
            if page.get("bootstrap"):  # the whole slice follows: forget what we held
                self.db.execute("DELETE FROM cases")
            for change in page["changes"]:
                if change["op"] == "put":
                    self.db.execute(
                        "INSERT INTO cases (id, doc) VALUES (?, ?) ON CONFLICT (id) "
                        "DO UPDATE SET doc = excluded.doc",
                        (change["id"], _dumps(change["data"])),
                    )
                    report.puts += 1
                elif change["op"] == "remove":
                    self.db.execute("DELETE FROM cases WHERE id = ?", (change["id"],))
                    report.removes += 1
            reference = page.get("reference")
            if reference is not None:
                self._set("ref_version", reference["version"])
                self._set("reference", _dumps(reference))
            server_last = int(page.get("last_mutation_id") or 0)
            if server_last >= int(self._get("next_mutation_id")):
                raise SyncError(
                    f"the server has mutation {server_last} of this device, which "
                    "never numbered it: this store is an old copy; sign in as a "
                    "new device"
                )
            self._set("server_last_mutation_id", str(server_last))
            self._set("cursor", page["cursor"])

    # --- evidence files --------------------------------------------------------------------

    def upload(self, file_id: str, content: bytes) -> Response:
        """Send the bytes of a file declared in a record, then ask the server to check them.

        Ask for a fresh upload target each time (URLs expire); PUT the bytes with exactly the
        headers given (S3 verifies the SHA-256 signed into them); then `complete`. A 409
        `already_complete` means an earlier try got through: nothing more to do. Safe to
        repeat after any failure."""
        target = self._call("POST", f"/evidence/{file_id}/upload-url")
        if target.status == 409 and _error_code(target) == "already_complete":
            return target
        if target.status != 200:
            raise SyncError(f"no upload target for {file_id}: {target.body_json}")
        plan = target.body_json
        url = plan["url"]
        put = (HttpTransport("") if url.startswith(("http://", "https://")) else self.transport)
        sent = put.request(plan.get("method", "PUT"), url, headers=plan.get("headers", {}),
                           data=content)
        if sent.status >= 300:
            raise SyncError(f"upload of {file_id} refused ({sent.status}): {sent.body_json}")
        return self._call("POST", f"/evidence/{file_id}/complete")

    # --- authentication ------------------------------------------------------------------

    def _call(self, method: str, path: str, *, json=None, params=None) -> Response:
        """One authenticated request; on a 401, renew the token once and repeat it."""
        if self._get("access_token") is None:
            self._login()
        answer = self.transport.request(
            method, path, json=json, params=params, headers=self._auth_headers()
        )
        if answer.status != 401:
            return answer
        self._renew(_error_code(answer))
        answer = self.transport.request(
            method, path, json=json, params=params, headers=self._auth_headers()
        )
        if answer.status == 401:
            raise SyncError(f"not signed in: {answer.body_json}")
        return answer

    def _auth_headers(self) -> dict:
        return {"Authorization": f"Bearer {self._get('access_token')}"}

    def _renew(self, code: str | None) -> None:
        refresh_token = self._get("refresh_token")
        if code == "token_expired" and refresh_token:
            answer = self.transport.request(
                "POST", "/auth/refresh", json={"refresh_token": refresh_token}
            )
            if answer.status == 200:
                self._keep_tokens(answer.body_json)
                return
            if answer.status >= 500:
                raise NetworkError(f"refresh unavailable: {answer.status}")
            if answer.status != 401:
                raise SyncError(f"refresh refused: {answer.status} {answer.body_json}")
        # Refresh token refused (expired, revoked, or rotated by a refresh whose answer we
        # lost), or the access token was revoked: sign in again.
        self._login()

    def _login(self) -> None:
        answer = self.transport.request(
            "POST",
            "/auth/login",
            json={
                "username": self.username,
                "password": self.password,
                "device": {"id": self.device_id, "label": self.label, "platform": self.platform},
            },
        )
        if answer.status >= 500:
            raise NetworkError(f"sign-in unavailable: {answer.status}")
        if answer.status != 200:
            raise SyncError(f"login refused: {answer.status} {answer.body_json}")
        self._keep_tokens(answer.body_json)

    def _keep_tokens(self, pair: dict) -> None:
        with self._tx():
            self._set("access_token", pair["access_token"])
            self._set("refresh_token", pair["refresh_token"])


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _now() -> str:
    """The phone's clock, with its UTC offset."""
    return datetime.now(UTC).astimezone().isoformat()


def _error_code(answer: Response) -> str | None:
    body = answer.body_json
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("code")
    return None


def _retry_after(answer: Response) -> int:
    try:
        return max(0, int(answer.headers.get("retry-after", "1")))
    except ValueError:
        return 1
