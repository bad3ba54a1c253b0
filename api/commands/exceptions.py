"""`fieldvisit exceptions scan`: find and clear exceptions (for cron, nightly or hourly)."""

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from api.extensions import db
from api.models import Team
from api.models.types import utcnow
from api.services.supervision.exceptions_feed import ScanSettings, scan


@click.group("exceptions")
def command():
    """The supervisors' exceptions feed."""


@command.command("scan")
@click.option("--team", "team_code", default=None, help="scan only this team (its code)")
@with_appcontext
def scan_command(team_code: str | None):
    """Judge overdue promises again, open new exceptions, resolve cleared ones."""
    team_id = None
    if team_code is not None:
        team_id = db.session.scalar(select(Team.id).where(Team.code == team_code))
        if team_id is None:
            raise click.BadParameter(f"no team with code {team_code!r}", param_hint="--team")
    settings = ScanSettings.from_config(current_app.config["FIELDVISIT"])
    result = scan(db.session, utcnow(), settings, team_id=team_id)
    db.session.commit()
    counts = result.counts
    click.echo(f"opened {counts['opened']}, resolved {counts['resolved']}, "
               f"promises re-judged {counts['promises_rejudged']}")
    for kind, n in counts["kinds"].items():
        if n["opened"] or n["resolved"]:
            click.echo(f"  {kind}: opened {n['opened']}, resolved {n['resolved']}")
