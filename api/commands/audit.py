"""`fieldvisit audit verify|heads|public-key`: check the audit chains, sign their heads (run it
from cron and keep its output outside the database), print the key that checks the
signatures."""

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from api.extensions import db
from api.services.identity.audit import sign_heads, verify_chain


@click.group("audit")
def command():
    """The audit log."""


@command.command("verify")
@with_appcontext
def verify():
    """Check every shard's chain and every signed head: names the first row altered, removed,
    inserted, reordered or hashed without the key."""
    report = verify_chain(db.session)
    for shard in report.shards:
        state = "ok" if shard.ok else f"BROKEN at row {shard.first_bad_id}: {shard.reason}"
        click.echo(f"shard {shard.shard}: {shard.rows} rows, last {shard.last_id}: {state}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for problem in report.problems:
        click.echo(problem, err=True)
    if report.ok:
        click.echo(f"audit chain intact: {report.rows} rows in {len(report.shards)} shards, "
                   f"{report.statements} signed head statements")
        return
    if report.first_bad_id is not None:
        click.echo(f"audit chain BROKEN at row {report.first_bad_id}: {report.reason}", err=True)
    else:
        click.echo("audit chain NOT verified: a signed head statement does not verify", err=True)
    sys.exit(1)


@command.command("heads")
@with_appcontext
def heads():
    """Sign and store every shard's head; prints the signed statement as JSON (keep it outside
    the database: a later rewrite of the rows it covers shows in `audit verify`)."""
    signed = sign_heads(db.session)
    db.session.commit()
    click.echo(json.dumps(signed.as_dict(), ensure_ascii=False))


@command.command("public-key")
@with_appcontext
def public_key():
    """Print each audit key's Ed25519 public key (base64): publish it, so anyone can check a
    signed head statement, e.g. in an evidence pack (`fieldvisit evidence verify
    --audit-public-key`)."""
    keys = current_app.extensions["fieldvisit.audit"]
    for key_id, key in keys.public_keys().items():
        click.echo(f"{key_id} {key}")
