"""`fieldvisit evidence verify PACK.zip`: check an evidence pack offline (no database needed)."""

import sys

import click

from api.services.evidence.pack_format import verify_pack


@click.group("evidence")
def command():
    """Evidence packs."""


@command.command("verify")
@click.argument("pack", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--manifest-sha256",
    default=None,
    help="The manifest SHA-256 recorded in the audit log when the pack was exported.",
)
def verify(pack: str, manifest_sha256: str | None):
    """Recompute every file's SHA-256 against the pack's manifest."""
    report = verify_pack(pack, expected_manifest_sha256=manifest_sha256)
    if report.ok:
        click.echo(f"pack verified: {report.files_checked} files")
        return
    for problem in report.problems:
        click.echo(problem, err=True)
    click.echo(f"pack NOT verified: {len(report.problems)} problem(s)", err=True)
    sys.exit(1)
