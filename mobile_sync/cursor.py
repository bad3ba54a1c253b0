"""The opaque pull cursor: base64url of a small JSON with a version, the bucket it is for and
its position. Clients store it and send it back; they never look inside."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from api.services.exceptions import DomainError

VERSION = 1
# Bumped whenever what a bucket contains changes meaning: every old cursor then resets.
BUCKET_DEFINITION = 2  # 2: buckets carry route plans beside cases
END_OF_TX = 2**62


class ResetRequired(DomainError):
    """The cursor cannot be served: drop local cases, keep the outbox, bootstrap again."""

    status = 410
    code = "sync_reset"


@dataclass(frozen=True)
class Cursor:
    bucket: str
    mode: str  # "boot": bootstrap in progress | "delta": following the change log
    tx: int  # delta: served everything up to (tx, seq); boot: the watermark to follow from
    seq: int = END_OF_TX
    after_case: int = 0  # boot: last case id sent

    def encode(self) -> str:
        raw = json.dumps(
            [
                VERSION,
                BUCKET_DEFINITION,
                self.bucket,
                self.mode,
                self.tx,
                self.seq,
                self.after_case,
            ],
            separators=(",", ":"),
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str, bucket: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        version, definition, owner, mode, tx, seq, after = json.loads(raw)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ResetRequired("The cursor is not one this server issued; bootstrap again.") from exc
    if version != VERSION or definition != BUCKET_DEFINITION:
        raise ResetRequired("The sync protocol changed; bootstrap again.")
    if owner != bucket:
        raise ResetRequired("The cursor belongs to another user's slice; bootstrap again.")
    if mode not in ("boot", "delta") or not all(isinstance(v, int) for v in (tx, seq, after)):
        raise ResetRequired("The cursor is damaged; bootstrap again.")
    return Cursor(owner, mode, tx, seq, after)
