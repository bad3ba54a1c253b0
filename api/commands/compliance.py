"""`fieldvisit compliance purge [--dry-run] [--background]`: retention (for cron, nightly)."""

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from api import jobs
from api.extensions import db
from api.jobs.retention_purge import KIND
from api.models import Job, JobStatus
from api.models.types import utcnow
from api.services.compliance import retention


@click.group("compliance")
def command():
    """Compliance: retention of collection records."""


@command.command("purge")
@click.option("--dry-run", is_flag=True, help="say what would be purged; change nothing")
@click.option("--json", "as_json", is_flag=True, help="print the whole report as JSON")
@click.option("--background", is_flag=True,
              help="run as a retention_purge job: chunks that commit, with progress; with a "
              "broker, on a `fieldvisit worker`")
@click.option("--no-wait", is_flag=True, help="with --background: print the job id and return")
@with_appcontext
def purge_command(dry_run: bool, as_json: bool, background: bool, no_wait: bool):
    """Purge the field records and evidence of closed cases past their retention period and
    anonymise debtors with no case left to keep; cases under legal hold are not touched."""
    if background:
        return _purge_in_background(dry_run, as_json, no_wait)
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


def _purge_in_background(dry_run: bool, as_json: bool, no_wait: bool) -> None:
    job_id = jobs.enqueue(db.session, KIND, {"dry_run": dry_run}).id
    db.session.commit()
    click.echo(f"job {job_id}: retention_purge{' (dry run)' if dry_run else ''} queued",
               err=as_json)
    if no_wait:
        return
    while True:
        try:
            end = jobs.wait(db.session, job_id, timeout_s=1)
            break
        except TimeoutError:
            running = db.session.get(Job, job_id)
            if not as_json and running.total:
                click.echo(f"\r  {running.done}/{running.total} cases "
                           f"({running.percent or 0:.0f}%)", nl=False, err=True)
            db.session.rollback()
    if not as_json and end.total:
        click.echo(f"\r  {end.done}/{end.total} cases ({end.percent or 0:.0f}%)", err=True)
    if end.status != JobStatus.DONE:
        raise click.ClickException(f"job {job_id} {end.status}: {end.error or 'stopped'}")
    result = json.loads(end.result)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    verb = "would purge" if dry_run else "purged"
    click.echo(f"{verb} {result['purged']} case(s), {result['files_deleted']} evidence file(s); "
               f"{'would anonymise' if dry_run else 'anonymised'} "
               f"{result['debtors_anonymised']} debtor(s); kept: "
               + (", ".join(f"{n} {reason}" for reason, n in sorted(result["kept"].items()))
                  or "none"))
