"""`fieldvisit users create-admin|reset-password|import`: the first administrator of a fresh
install, a way back in when an administrator's password is lost, and accounts in bulk.

Passwords come from `--password-file`, else from standard input when it is not a terminal (one
line), else from a prompt that does not echo; never from the command line, where other users of
the host could read them. Both commands write an audit row with no actor (an operator at the
server's console has no account) naming the command and the operating-system user."""

from __future__ import annotations

import csv
import getpass
import os
import sys
import time
from pathlib import Path

import click
import marshmallow as ma
from flask.cli import with_appcontext
from sqlalchemy import select

from api.extensions import db
from api.models import Role, User
from api.services.exceptions import DomainError
from api.services.identity import accounts, audit
from api.services.imports import users as users_import
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


@command.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--credentials-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Generate a password for each line without one and write username,password "
                   "to this new file (readable by you only) to hand them over.")
@click.option("--dry-run", is_flag=True, help="Check every line, create nobody.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@with_appcontext
def import_users_command(file: Path, credentials_out: Path | None, dry_run: bool,
                         quiet: bool) -> None:
    """Create the accounts listed in FILE, a CSV file with the columns username, full_name,
    role (collector, supervisor, legal, admin), and optionally team (its code), password,
    base_lat, base_lon, base_datum and certificate_no (a collector's certificate: granted the
    standard authorisation). Each bad line is reported and skipped; exit code 1 if any."""
    if credentials_out is not None and credentials_out.exists():
        raise click.ClickException(f"{credentials_out} exists; give a new file.")
    try:
        records = users_import.read_users_csv(file.read_bytes())
    except DomainError as exc:
        raise click.ClickException(_problem(exc)) from None
    started = time.perf_counter()
    with click.progressbar(length=len(records), label="hashing passwords", file=sys.stderr,
                           show_pos=True, hidden=quiet or dry_run) as bar:
        run = users_import.import_users(
            db.session, records, generate_missing=credentials_out is not None,
            dry_run=dry_run, progress=lambda done: bar.update(done - bar.pos))
    if dry_run:
        db.session.rollback()
    else:
        out = None
        if credentials_out is not None:  # made (only for us) before the accounts are
            out = os.fdopen(os.open(credentials_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                                    0o600), "w", encoding="utf-8", newline="")
        db.session.commit()
        if out is not None:
            with out:
                writer = csv.writer(out)
                writer.writerow(["username", "password"])
                writer.writerows((name, password) for _, name, password in run.created
                                 if password)
    seconds = time.perf_counter() - started
    rate = f"; {len(run.created) / seconds:.1f} users/s" if run.created and not dry_run else ""
    click.echo(f"{run.rows} lines, {len(run.created)} "
               f"{'would be created (dry run)' if dry_run else 'created'}, "
               f"{len(run.errors)} errors in {seconds:.1f} s{rate}")
    for error in run.errors:
        click.echo(f"  line {error['row']} {error['username'] or '-'} {error['field']}: "
                   f"{error['message']}", err=True)
    if run.errors:
        sys.exit(1)


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
