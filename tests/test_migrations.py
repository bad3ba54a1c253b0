"""The migrations build exactly the models' schema on each engine, and unwind cleanly."""


import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

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
