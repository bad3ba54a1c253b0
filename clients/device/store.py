"""The phone's local store: SQLite tables of cases, outbox and sent records, and recording.

Tables:
  meta(key, value)       device_id, next_mutation_id, cursor, ref_version, reference, tokens,
                         server_last_mutation_id
  cases(id, doc)         the case documents this device holds, as the server sent them
  routes(id, day, doc)   the route plans this device holds (published, current), by plan id;
                         `day` is the plan's service day (team-local)
  outbox(mutation_id, type, client_time, payload)   what the server has not answered yet
  sent(record_id, mutation_id, type, status, case_id, client_time, payload, result)
                         every record the device created; status pending|applied|rejected
                         (|duplicate: answered as a replay whose first answer is gone)
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Self

from clients.device.transport import SyncError, dumps

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (id INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS routes (id INTEGER PRIMARY KEY, day TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    mutation_id INTEGER PRIMARY KEY, type TEXT NOT NULL, client_time TEXT NOT NULL,
    payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sent (
    record_id TEXT PRIMARY KEY, mutation_id INTEGER NOT NULL UNIQUE, type TEXT NOT NULL,
    status TEXT NOT NULL, case_id INTEGER, client_time TEXT NOT NULL, payload TEXT NOT NULL,
    result TEXT);
"""


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


def now() -> str:
    """The phone's clock, with its UTC offset."""
    return datetime.now(UTC).astimezone().isoformat()


class DeviceStore:
    """A device's SQLite store: its id, the cases it holds, its outbox and what it created.

    A commit is on disk when it returns; no local transaction is held across a network call."""

    def __init__(self, path: str, device_id: str | None = None):
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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

    def routes(self) -> dict[int, dict]:
        """The route plans on this device, by plan id."""
        return {
            plan_id: json.loads(doc)
            for plan_id, doc in self.db.execute("SELECT id, doc FROM routes ORDER BY id")
        }

    def route_for(self, day: str) -> dict | None:
        """The plan for a service day (ISO date), with its stops in order; None if none came.
        There is one per day: a re-plan's new version arrives and the old one is removed."""
        row = self.db.execute(
            "SELECT doc FROM routes WHERE day = ? ORDER BY id DESC LIMIT 1", (day,)
        ).fetchone()
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
        when = client_time or now()
        when = when if isinstance(when, str) else when.isoformat()
        body = dumps(payload)
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
