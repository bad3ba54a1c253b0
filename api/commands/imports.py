"""`fieldvisit import FILE`: take in a lender file from the command line, as a job run in this
process, with a progress bar."""

import json
import sys
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from api import jobs
from api.extensions import WRITE_INTENT, db
from api.jobs import imports as import_jobs
from api.models import ImportRun, JobStatus
from api.services.exceptions import DomainError
from api.services.imports.runs import queue_import


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["cases", "payments"]), default="cases",
              show_default=True, help="A case file (upsert) or a payments and balances file.")
@click.option("--format", "file_format", type=click.Choice(["json", "csv"]),
              help="Default: from the file name.")
@click.option("--dry-run", is_flag=True, help="Check and count, save nothing.")
@click.option("--atomic", is_flag=True, help="Any row error and nothing is saved (one "
              "transaction: at most FIELDVISIT_IMPORT_ATOMIC_MAX_ROWS records).")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Date of the figures. Default: the file's as_of, else today (Shanghai).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@with_appcontext
def command(file: Path, kind: str, file_format: str | None, dry_run: bool, atomic: bool,
            as_of: datetime | None, quiet: bool) -> None:
    """Import a lender FILE (docs/import-format.md). Exit code 1 if any row failed.

    The import is committed in chunks (FIELDVISIT_IMPORT_CHUNK_ROWS records), like one sent
    to POST /imports: phones keep syncing meanwhile, and an import stopped half-way keeps the
    chunks it committed (import the file again to take in the rest)."""
    file_format = file_format or file.suffix.lower().lstrip(".")
    if file_format not in ("json", "csv"):
        raise click.UsageError("Cannot tell the format from the file name: give --format.")
    config = current_app.config["FIELDVISIT"]
    db.session.info[WRITE_INTENT] = True  # SQLite: each chunk takes the write lock up front
    try:
        with file.open("rb") as upload:
            run = queue_import(db.session, current_app.extensions["fieldvisit.blobs"], upload,
                               kind=kind, file_format=file_format, principal=None,
                               filename=file.name, dry_run=dry_run, atomic=atomic,
                               as_of=as_of.date() if as_of else None,
                               atomic_max_rows=config.import_atomic_max_rows)
    except DomainError as exc:
        db.session.rollback()
        details = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                            for k, v in exc.fields.items())
        raise click.ClickException(exc.message + (f" ({details})" if details else "")) from None
    job = import_jobs.ask_for_job(db.session, run, send=False)
    db.session.commit()
    run_id, job_id, total = run.id, job.id, run.total
    with click.progressbar(length=total or 0, label=f"import #{run_id}", file=sys.stderr,
                           show_pos=True, show_percent=True, hidden=quiet) as bar:
        def advance(chunk_run_id: int, done: int, _total: int | None) -> None:
            if chunk_run_id == run_id:
                bar.update(done - bar.pos)

        import_jobs.AFTER_CHUNK.append(advance)
        try:
            jobs.run(db.session, job_id)
        finally:
            import_jobs.AFTER_CHUNK.remove(advance)
        bar.update((total or 0) - bar.pos)
    run = db.session.get(ImportRun, run_id, populate_existing=True)
    if run.state != JobStatus.DONE:
        raise click.ClickException(
            f"import #{run.id} {run.state} after {run.done} of {run.total} records: "
            f"{run.job.error or 'see the log'} (the chunks committed stay; import the file "
            f"again to take in the rest)")
    errors = json.loads(run.errors)
    saved = "nothing saved (dry run)" if dry_run else (
        "nothing saved (atomic run with errors)" if atomic and errors else "saved")
    click.echo(f"import #{run.id} {kind} {file_format}: {run.rows} rows, {run.created} created, "
               f"{run.updated} updated, {run.unchanged} unchanged, {len(errors)} errors; "
               f"{saved}")
    for error in errors:
        row = "-" if error["row"] is None else error["row"]
        click.echo(f"  row {row} {error['contract_no'] or '-'} {error['field']}: "
                   f"{error['message']}", err=True)
    if errors:
        sys.exit(1)
