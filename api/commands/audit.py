"""`fieldvisit audit verify`: recompute the audit hash chain."""

import sys

import click
from flask.cli import with_appcontext

from api.extensions import db
from api.services.identity.audit import verify_chain


@click.group("audit")
def command():
    """The audit log."""


@command.command("verify")
@with_appcontext
def verify():
    """Check that no audit row was altered, removed or inserted."""
    report = verify_chain(db.session)
    if report.ok:
        click.echo(f"audit chain intact: {report.rows} rows")
        return
    click.echo(
        f"audit chain BROKEN at row {report.first_bad_id} (after {report.rows} good rows): "
        f"{report.reason}",
        err=True,
    )
    sys.exit(1)
