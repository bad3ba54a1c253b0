"""`fieldvisit compliance purge [--dry-run]`: retention (for cron, nightly)."""

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from api.extensions import db
from api.models.types import utcnow
from api.services.compliance import retention


@click.group("compliance")
def command():
    """Compliance: retention of collection records."""


@command.command("purge")
@click.option("--dry-run", is_flag=True, help="say what would be purged; change nothing")
@click.option("--json", "as_json", is_flag=True, help="print the whole report as JSON")
@with_appcontext
def purge_command(dry_run: bool, as_json: bool):
    """Purge the field records and evidence of closed cases past their retention period and
    anonymise debtors with no case left to keep; cases under legal hold are not touched."""
    report = retention.run(db.session, current_app.extensions["fieldvisit.blobs"],
                           current_app.extensions["fieldvisit.pii"], utcnow(), dry_run=dry_run)
    db.session.commit()
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    verb = "would purge" if dry_run else "purged"
    click.echo(f"{verb} {len(report.purged)} case(s), {report.files_deleted} evidence file(s); "
               f"{'would anonymise' if dry_run else 'anonymised'} "
               f"{len(report.debtors_anonymised)} debtor(s)")
    for verdict in report.purged:
        click.echo(f"  {verb}: {verdict.sentence}")
    for verdict in report.kept:
        click.echo(f"  kept ({verdict.reason}): {verdict.sentence}")
    for debtor_id, case_ids in report.debtors_kept.items():
        click.echo(f"  debtor {debtor_id} kept: case(s) {', '.join(map(str, case_ids))} "
                   "still kept")
