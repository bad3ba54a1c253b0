"""`fieldvisit import FILE`: take in a lender file from the command line."""

import json
import sys
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from api.extensions import db
from api.services.exceptions import DomainError
from api.services.imports.runs import import_file


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["cases", "payments"]), default="cases",
              show_default=True, help="A case file (upsert) or a payments and balances file.")
@click.option("--format", "file_format", type=click.Choice(["json", "csv"]),
              help="Default: from the file name.")
@click.option("--dry-run", is_flag=True, help="Check and count, save nothing.")
@click.option("--atomic", is_flag=True, help="Any row error and nothing is saved.")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Date of the figures. Default: the file's as_of, else today (Shanghai).")
@with_appcontext
def command(file: Path, kind: str, file_format: str | None, dry_run: bool, atomic: bool,
            as_of: datetime | None) -> None:
    """Import a lender FILE (docs/import-format.md). Exit code 1 if any row failed."""
    file_format = file_format or file.suffix.lower().lstrip(".")
    if file_format not in ("json", "csv"):
        raise click.UsageError("Cannot tell the format from the file name: give --format.")
    try:
        run = import_file(db.session, current_app.extensions["fieldvisit.pii"],
                          file.read_bytes(), kind=kind, file_format=file_format,
                          filename=file.name, dry_run=dry_run, atomic=atomic,
                          as_of=as_of.date() if as_of else None)
    except DomainError as exc:
        db.session.rollback()
        details = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                            for k, v in exc.fields.items())
        raise click.ClickException(exc.message + (f" ({details})" if details else "")) from None
    db.session.commit()
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

