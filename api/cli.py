"""The `fieldvisit` command: `fieldvisit --help` lists the subcommands."""

from __future__ import annotations

import importlib

import click
from flask.cli import FlaskGroup

# Each module in api/commands/ defines `command`, a click command or group.
COMMANDS = ("db", "serve", "demo", "imports", "audit", "evidence", "sync", "keys", "users",
            "exceptions", "compliance", "worker")
# These touch neither tokens nor personal data, so they run without the server's own keys.
KEYLESS_COMMANDS = ("openapi", "db")


def _create_app():
    from api import create_app
    from api.config import Config, ConfigError
    from api.keys import InsecureConfiguration

    try:
        config = Config.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    context = click.get_current_context(silent=True)
    if context is not None and context.meta.get("fieldvisit.command") in KEYLESS_COMMANDS:
        config.debug = True
    try:
        return create_app(config)
    except InsecureConfiguration as exc:
        raise click.ClickException(str(exc)) from exc


class _Group(FlaskGroup):
    def get_command(self, ctx: click.Context, cmd_name: str):
        ctx.meta["fieldvisit.command"] = cmd_name  # _create_app reads it
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=_Group,
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
