"""`fieldvisit keys new`: fresh keys for a deployment, as environment lines."""

from __future__ import annotations

import base64
import secrets

import click


@click.group("keys")
def command():
    """The server's keys (it refuses to start without its own, outside debug and tests)."""


@command.command("new")
@click.option("--pii-key-id", type=click.IntRange(1, 255), default=1, show_default=True,
              help="Id of the new PII key; when rotating, list it first in FIELDVISIT_PII_KEY "
                   "before the old ones.")
def new(pii_key_id: int) -> None:
    """Print new random keys as FIELDVISIT_...=... lines (keep them secret).

    Rotating: move the old FIELDVISIT_SECRET_KEY into FIELDVISIT_PREVIOUS_SECRET_KEYS, and put
    the new PII key first in FIELDVISIT_PII_KEY ("2:NEW,1:OLD"); keep FIELDVISIT_PII_LOOKUP_KEY
    as it is (national-ID lookups depend on it), and put a new audit key first in
    FIELDVISIT_AUDIT_KEY ("2:NEW,1:OLD"): old rows and head statements verify while their key
    is listed."""
    click.echo(f"FIELDVISIT_SECRET_KEY={secrets.token_urlsafe(48)}")
    click.echo(f"FIELDVISIT_PII_KEY={pii_key_id}:{_key()}")
    click.echo(f"FIELDVISIT_PII_LOOKUP_KEY={_key()}")
    click.echo(f"FIELDVISIT_AUDIT_KEY=1:{_key()}")


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()
