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
@click.option(
    "--audit-public-key",
    default=None,
    help="The server's published audit public key (`fieldvisit audit public-key`): the pack's "
         "signed audit heads must be signed with it.",
)
def verify(pack: str, manifest_sha256: str | None, audit_public_key: str | None):
    """Recompute every file's SHA-256 against the pack's manifest and check the signature on
    its audit heads."""
    report = verify_pack(pack, expected_manifest_sha256=manifest_sha256,
                         audit_public_key=audit_public_key)
    if report.ok:
        click.echo(f"pack verified: {report.files_checked} files")
        if report.audit_heads_key:
            pinned = "the given key" if audit_public_key else (
                "compare it with the published key, or pass --audit-public-key")
            click.echo(f"audit heads signed by {report.audit_heads_key} ({pinned})")
        return
    for problem in report.problems:
        click.echo(problem, err=True)
    click.echo(f"pack NOT verified: {len(report.problems)} problem(s)", err=True)
    sys.exit(1)
