"""`fieldvisit sync compact`: keep the change log short; `fieldvisit sync republish`: rebuild
every case's device document."""

import click
from flask.cli import with_appcontext

from api.extensions import db
from mobile_sync.changelog import republish_all
from mobile_sync.compaction import compact


@click.group("sync")
def command():
    """The offline-sync change log."""


@command.command("compact")
@click.option("--keep", default=1_000_000, show_default=True, help="change rows to keep")
@with_appcontext
def compact_command(keep: int):
    """Delete the oldest change rows; phones with older cursors will re-bootstrap."""
    (tx, seq), deleted = compact(db.session, keep)
    db.session.commit()
    click.echo(f"deleted {deleted} change rows; cursors before ({tx}, {seq}) will reset")


@command.command("republish")
@click.option("--batch", default=500, show_default=True, help="cases per transaction")
@with_appcontext
def republish_command(batch: int):
    """Rebuild every case's device document (after an upgrade changed what documents carry);
    phones receive them as ordinary changes."""
    done = republish_all(db.session, batch)
    click.echo(f"republished {done} case documents")
