"""Test harness: every test that touches the database runs on SQLite and on PostgreSQL.

Each engine gets a fresh database built by the real Alembic migrations; each test starts from
empty tables (rows are removed after it), so commits inside routes behave as in production."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from flask import current_app
from sqlalchemy import create_engine, text

from api import create_app
from api.config import Config
from api.extensions import db
from api.models import CompliancePolicy, PolicyVersion

pytest_plugins = ["tests.s3_server"]

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
PG_ADMIN_URL = os.environ.get(
    "FIELDVISIT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ENGINES = [
    e for e in os.environ.get("FIELDVISIT_TEST_ENGINES", "sqlite,postgresql").split(",") if e
]


def migrate(url: str) -> None:
    cfg = AlembicConfig(str(ROOT / "migrations" / "alembic.ini"))
    cfg.attributes["url"] = url
    command.upgrade(cfg, "head")


@pytest.fixture(scope="session", params=ENGINES)
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        migrate(url)
        yield url
        return
    name = f"fv_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    migrate(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def empty_database_url(engine: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a database nobody has run `fieldvisit db upgrade` on (dropped afterwards)."""
    if engine == "sqlite":
        path = tmp_path / "empty.db"
        path.touch()
        yield f"sqlite:///{path}"
        return
    name = f"fv_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=ENGINES)
def empty_database(request, tmp_path):
    """A database nobody has run `fieldvisit db upgrade` on, on each engine."""
    with empty_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def app_config(database_url, tmp_path_factory) -> Config:
    return Config(
        database_url=database_url,
        blob_store=f"local:{tmp_path_factory.mktemp('blobs')}",
        secret_key="test-secret-key",
        testing=True,
        argon2_profile="CHEAPEST",  # production strength is tested in tests/unit/test_passwords.py
    )


@pytest.fixture(scope="session")
def _app(app_config):
    app = create_app(app_config)
    app.config["TESTING"] = True
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(_app):
    """The app with an application context; all rows are removed after the test."""
    with _app.app_context():
        yield _app
        db.session.remove()
        _app.extensions["fieldvisit.jobs"].drain()  # no job thread writes while rows go
        wipe()


def wipe() -> None:
    """Remove every row but the policy presets a new database starts with, and forget failed
    sign-ins (so no test inherits another's lockout)."""
    current_app.extensions["fieldvisit.password_guard"].reset()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
        seed_presets(conn)


def seed_presets(conn) -> None:
    from api.services.compliance.policies import preset_rows

    policies, versions = preset_rows(datetime.now(UTC))
    conn.execute(CompliancePolicy.__table__.insert(), policies)
    conn.execute(PolicyVersion.__table__.insert(), versions)
    if conn.dialect.name == "postgresql":
        for table in ("compliance_policies", "policy_versions"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))


@pytest.fixture
def use_policy(app):
    """`use_policy(policy, jurisdiction="CN")`: every case of the jurisdiction is governed by
    `policy` from now on (stored as a new version of the jurisdiction's policy, in effect
    from 2000). The one seam through which tests choose a policy."""
    from api.services.compliance.policies import store_version

    def use(policy, jurisdiction="CN"):
        version = store_version(db.session, jurisdiction, policy,
                                effective_from=datetime(2000, 1, 1, tzinfo=UTC))
        db.session.commit()
        return version

    return use


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    return db.session


@pytest.fixture
def world(app, client):
    from tests.factories import World

    return World(app, client)
