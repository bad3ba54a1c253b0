"""Readiness: whether this instance can serve requests now, check by check.

The database must answer and be at the newest migration (its Alembic revision equals the head
of the migration scripts shipped with this code), and the blob store must answer a cheap probe
(the directory is writable; S3: `head_bucket`). Results are kept for a few seconds, so a
load balancer probing every second costs one query and one store request per interval."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

import migrations
from api.services.evidence.storage import BlobStore

MIGRATIONS = Path(migrations.__file__).resolve().parent
CACHE_S = 3.0
VERSION_TABLE = "alembic_version"  # Alembic's default, which migrations/env.py keeps


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def script_heads() -> frozenset[str]:
    """The newest revision(s) of the migrations that ship with this code."""
    return frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())


def current_revisions(conn: Connection) -> frozenset[str]:
    """The database's Alembic revision(s); empty when it was never migrated. (Read directly:
    alembic's MigrationContext would log a line at every probe.)"""
    if not inspect(conn).has_table(VERSION_TABLE):
        return frozenset()
    return frozenset(conn.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}")))


def database_check(engine: Engine, heads: frozenset[str]) -> Check:
    try:
        with engine.connect() as conn:
            current = current_revisions(conn)
    except Exception as exc:  # any failure to connect or read is "not ready"
        return Check("database", False, f"unreachable: {type(exc).__name__}")
    if current == heads:
        return Check("database", True, f"at revision {', '.join(sorted(heads))}")
    if not current:
        return Check("database", False, "not migrated: run `fieldvisit db upgrade`")
    return Check("database", False, f"at revision {', '.join(sorted(current))}, expected "
                 f"{', '.join(sorted(heads))}: run `fieldvisit db upgrade`")


def blob_store_check(store: BlobStore) -> Check:
    try:
        store.ping()
    except Exception as exc:  # unreachable, refused, missing bucket, read-only disk...
        return Check("blob_store", False, f"unreachable: {type(exc).__name__}")
    return Check("blob_store", True, "reachable")


class Readiness:
    """The checks of one app, run at most once per `cache_s` (per process)."""

    def __init__(self, store: BlobStore, cache_s: float = CACHE_S):
        self._store = store
        self._cache_s = cache_s
        self._heads: frozenset[str] | None = None
        self._lock = threading.Lock()
        self._report: Report | None = None
        self._checked_at = 0.0

    def report(self, engine: Engine) -> Report:
        with self._lock:
            now = time.monotonic()
            if self._report is None or now - self._checked_at >= self._cache_s:
                if self._heads is None:
                    self._heads = script_heads()
                self._report = Report((database_check(engine, self._heads),
                                       blob_store_check(self._store)))
                self._checked_at = time.monotonic()
            return self._report
