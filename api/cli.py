"""The `fieldvisit` command: `fieldvisit --help` lists the subcommands."""

from __future__ import annotations

import importlib

import click
from flask.cli import FlaskGroup

# Each module in api/commands/ defines `command`, a click command or group.
COMMANDS = ("db", "serve", "demo", "imports", "audit", "evidence", "sync")


def _create_app():
    from api import create_app

    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
)
def cli():
    """fieldvisit: case file, offline sync and field evidence for collection teams."""


for _name in COMMANDS:
    cli.add_command(importlib.import_module(f"api.commands.{_name}").command)


def main() -> None:
    cli()
