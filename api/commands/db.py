"""`fieldvisit db upgrade|check`: Alembic against the configured database."""

from pathlib import Path

import click
from alembic import command as alembic
from alembic.config import Config as AlembicConfig
from flask import current_app
from flask.cli import with_appcontext

INI = Path(__file__).resolve().parent.parent.parent / "migrations" / "alembic.ini"


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig(str(INI))
    cfg.attributes["url"] = url
    return cfg


@click.group("db")
def command():
    """Database schema (Alembic)."""


@command.command("upgrade")
@with_appcontext
def upgrade():
    """Bring the schema to the newest migration."""
    alembic.upgrade(alembic_config(current_app.config["FIELDVISIT"].database_url), "head")
    click.echo("database is at the newest migration")


@command.command("check")
@with_appcontext
def check():
    """Fail if the models and the migrations disagree."""
    alembic.check(alembic_config(current_app.config["FIELDVISIT"].database_url))
    click.echo("models and migrations agree")
