"""Fixtures of the import job tests (test_imports_jobs.py, test_import_dry_run_chunks.py); a
test module that defines its own `lender` uses that one."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from api.jobs import imports as import_jobs


@pytest.fixture
def lender(world):
    """Team SZ-01 with the collector the generated files name (collector1), another collector,
    a signed-in administrator (`headers`) and supervisor."""
    team = world.team("SZ-01")
    collector = world.user("collector", team=team, username="collector1")
    other = world.user("collector", team=team)
    admin = world.user("admin")
    return {"team": team, "collector": collector, "other": other, "admin": admin,
            "headers": world.login(admin), "supervisor": world.login(
                world.user("supervisor", team=team))}


@pytest.fixture
def chunk_rows(app):
    """Set the records per committed chunk (and the atomic limit) for one test."""
    original = app.config["FIELDVISIT"]

    def use(rows: int, atomic_max: int = original.import_atomic_max_rows) -> None:
        app.config["FIELDVISIT"] = dataclasses.replace(
            original, import_chunk_rows=rows, import_atomic_max_rows=atomic_max)

    yield use
    app.config["FIELDVISIT"] = original


@pytest.fixture
def pause():
    """Hold an import job after its first committed chunk until the test lets it go on (the
    job's own seam, `api.jobs.imports.AFTER_CHUNK`)."""
    paused, resume = threading.Event(), threading.Event()
    seen: list[tuple[int, int, int | None]] = []

    def hold(run_id: int, done: int, total: int | None) -> None:
        seen.append((run_id, done, total))
        if len(seen) == 1:
            paused.set()
            assert resume.wait(30)

    import_jobs.AFTER_CHUNK.append(hold)
    yield paused, resume, seen
    resume.set()
    import_jobs.AFTER_CHUNK.remove(hold)
