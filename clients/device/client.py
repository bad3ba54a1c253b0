"""The device client: the push/pull loop, evidence uploads and signing in."""

from __future__ import annotations

import json
from dataclasses import dataclass

from clients.device.store import DeviceStore, now
from clients.device.transport import (
    HttpTransport,
    NetworkError,
    Response,
    SyncError,
    Transport,
    dumps,
)

FINAL = ("applied", "duplicate", "rejected")  # answers that take a mutation out of the outbox


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


class DeviceClient(DeviceStore):
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
        super().__init__(path, device_id)

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
                body = {"device_id": self.device_id, "device_time": now(), "mutations": mutations}
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
                    (final, dumps(answer), mutation_id),
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
                    self.db.execute("DELETE FROM routes")
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
                self.db.execute("DELETE FROM routes")
            for change in page["changes"]:
                self._apply_change(change, report)
            reference = page.get("reference")
            if reference is not None:
                self._set("ref_version", reference["version"])
                self._set("reference", dumps(reference))
            server_last = int(page.get("last_mutation_id") or 0)
            if server_last >= int(self._get("next_mutation_id")):
                raise SyncError(
                    f"the server has mutation {server_last} of this device, which "
                    "never numbered it: this store is an old copy; sign in as a "
                    "new device"
                )
            self._set("server_last_mutation_id", str(server_last))
            self._set("cursor", page["cursor"])

    def _apply_change(self, change: dict, report: PullReport) -> None:
        """One change, by entity: a case document or a route plan (an unknown entity from a
        newer server is skipped, not stored as a case)."""
        entity, op = change.get("entity", "case"), change["op"]
        if entity not in ("case", "route"):
            return
        table = "cases" if entity == "case" else "routes"
        if op == "put":
            if entity == "case":
                self.db.execute(
                    "INSERT INTO cases (id, doc) VALUES (?, ?) ON CONFLICT (id) "
                    "DO UPDATE SET doc = excluded.doc",
                    (change["id"], dumps(change["data"])),
                )
            else:
                self.db.execute(
                    "INSERT INTO routes (id, day, doc) VALUES (?, ?, ?) ON CONFLICT (id) "
                    "DO UPDATE SET day = excluded.day, doc = excluded.doc",
                    (change["id"], change["data"]["service_day"], dumps(change["data"])),
                )
            report.puts += 1
        elif op == "remove":
            self.db.execute(f"DELETE FROM {table} WHERE id = ?", (change["id"],))
            report.removes += 1

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
