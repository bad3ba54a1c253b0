"""Alembic environment: the URL comes from FIELDVISIT_DATABASE_URL (or -x url=...)."""

from alembic import context
from sqlalchemy import create_engine, pool

import api.models  # noqa: F401  (registers every table)
from api.config import Config, absolute_sqlite_url
from api.extensions import db

config = context.config
url = (
    context.get_x_argument(as_dictionary=True).get("url")
    or config.attributes.get("url")
    or Config.from_env().database_url
)
target_metadata = db.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(absolute_sqlite_url(url), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
