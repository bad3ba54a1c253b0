"""`fieldvisit users create-admin|reset-password`: the first administrator of a fresh install,
and a way back in when an administrator's password is lost.

Passwords come from `--password-file`, else from standard input when it is not a terminal (one
line), else from a prompt that does not echo; never from the command line, where other users of
the host could read them. Both commands write an audit row with no actor (an operator at the
server's console has no account) naming the command and the operating-system user."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
import marshmallow as ma
from flask.cli import with_appcontext
from sqlalchemy import select

from api.extensions import db
from api.models import Role, User
from api.services.exceptions import DomainError
from api.services.identity import accounts, audit
from schemas.org import UserCreateSchema


@click.group("users")
def command():
    """User accounts from the server's console (everything else: the /admin API)."""


PASSWORD_FILE = click.option(
    "--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the password from the first line of this file (else from standard input when "
         "it is not a terminal, else from a prompt).")


@command.command("create-admin")
@click.argument("username")
@click.option("--full-name", required=True, help="The administrator's name, as shown to users.")
@PASSWORD_FILE
@with_appcontext
def create_admin(username: str, full_name: str, password_file: Path | None) -> None:
    """Create an administrator USERNAME (refused if the username exists)."""
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise click.ClickException(
            f"User {username!r} already exists; nothing was changed "
            f"(a new password: fieldvisit users reset-password {username}).")
    password = read_password(password_file)
    try:
        args = UserCreateSchema().load({"username": username, "full_name": full_name,
                                  "role": Role.ADMIN.value, "password": password})
        user = accounts.create_user(db.session, **args)
        audit.record(db.session, None, "user.created", detail=_operator_detail(
            "users create-admin", user))
    except (DomainError, ma.ValidationError) as exc:
        db.session.rollback()
        raise click.ClickException(_problem(exc)) from None
    db.session.commit()
    click.echo(f"administrator {user.username!r} created (id {user.id}); sign in at /auth/login")


@command.command("reset-password")
@click.argument("username")
@PASSWORD_FILE
@with_appcontext
def reset_password(username: str, password_file: Path | None) -> None:
    """Give USERNAME a new password and end every session they hold (all their devices
    must sign in again)."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"No user {username!r}.")
    password = read_password(password_file)
    try:
        UserCreateSchema(only=("password",)).load({"password": password})
        accounts.update_user(db.session, user.id, {"password": password})
        audit.record(db.session, None, "user.password_reset", detail=_operator_detail(
            "users reset-password", user))
    except (DomainError, ma.ValidationError) as exc:
        db.session.rollback()
        raise click.ClickException(_problem(exc)) from None
    db.session.commit()
    click.echo(f"password of {user.username!r} changed; their sessions are ended")


def read_password(password_file: Path | None) -> str:
    """The new password, from the file, the piped standard input or a prompt (asked twice)."""
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    elif not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.ClickException("No password given.")
    return password


def _operator_detail(command_name: str, user: User) -> dict:
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        os_user = None
    return {"user_id": user.id, "username": user.username, "role": user.role.value,
            "by": f"fieldvisit {command_name}", "os_user": os_user}


def _problem(exc: DomainError | ma.ValidationError) -> str:
    if isinstance(exc, ma.ValidationError):
        fields = exc.normalized_messages()
        return "Not accepted: " + "; ".join(
            f"{name}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for name, msgs in fields.items())
    details = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                        for k, v in exc.fields.items())
    return exc.message + (f" ({details})" if details else "")
