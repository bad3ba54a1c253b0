"""The migrations build exactly the models' schema on each engine, and unwind cleanly."""

import uuid

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from tests.conftest import PG_ADMIN_URL, ROOT


def alembic_config(url):
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig(str(ROOT / "migrations" / "alembic.ini"))
    cfg.attributes["url"] = url
    return cfg


def test_models_and_migrations_agree(database_url):
    command.check(alembic_config(database_url))  # raises if autogenerate finds a difference


@pytest.fixture
def empty_database(database_url, tmp_path):
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'roundtrip.db'}"
        return
    name = f"fv_roundtrip_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_downgrade_to_nothing_and_up_again(empty_database):
    url = empty_database
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    engine = create_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    command.upgrade(cfg, "head")
    command.check(cfg)
