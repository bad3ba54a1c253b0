"""Operations tests: the console commands, the probes and the server process."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from api.cli import cli
from tests.conftest import ENGINES, PG_ADMIN_URL


@pytest.fixture
def run_cli(app):
    """Run a `fieldvisit ...` command against the test app; returns click's Result."""
    runner = app.test_cli_runner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(cli, list(args), input=input)

    return run


@pytest.fixture(params=ENGINES)
def empty_database(request, tmp_path):
    """A database nobody has run `fieldvisit db upgrade` on."""
    if request.param == "sqlite":
        path = tmp_path / "empty.db"
        path.touch()
        yield f"sqlite:///{path}"
        return
    name = f"fv_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
