"""The migrations build exactly the models' schema on each engine, and unwind cleanly."""

import os

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from mobile_sync.documents import fingerprint
from tests.conftest import ROOT, empty_database_url


def alembic_config(url):
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig(str(ROOT / "migrations" / "alembic.ini"))
    cfg.attributes["url"] = url
    return cfg


def test_models_and_migrations_agree(database_url):
    command.check(alembic_config(database_url))  # raises if autogenerate finds a difference


@pytest.fixture
def empty_database(database_url, tmp_path):
    """An empty database on the engine of this run's `database_url`."""
    with empty_database_url(database_url.split(":")[0].split("+")[0], tmp_path) as url:
        yield url


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


def test_documents_stored_before_fingerprints_get_theirs(empty_database):
    """The upgrade that adds `case_documents.fingerprint` fills it for the documents already
    stored, as the app computes it (PostgreSQL's md5(), SQLite taught one), so the next import
    still skips their unchanged cases."""
    cfg = alembic_config(empty_database)
    command.upgrade(cfg, "f5c9e3a7b421")
    sealed = os.urandom(1500)
    engine = create_engine(empty_database)
    try:
        with engine.connect() as conn:  # a document without its case: foreign keys off
            if engine.dialect.name == "sqlite":  # outside a transaction, or it does nothing
                conn.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
            else:
                conn.exec_driver_sql("SET session_replication_role = replica")
            conn.execute(text("INSERT INTO case_documents (case_id, sealed, updated_at) "
                              "VALUES (7, :sealed, CURRENT_TIMESTAMP)"), {"sealed": sealed})
            conn.commit()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            stored = conn.execute(text("SELECT fingerprint FROM case_documents")).scalar_one()
        assert stored == fingerprint(sealed)
    finally:
        engine.dispose()
