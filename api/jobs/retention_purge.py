"""The `retention_purge` job: `fieldvisit compliance purge` in chunks that commit, with
progress (cases judged) and a cancel that keeps what was committed."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from api.jobs import JobContext, acting_principal, job_kind
from api.models import Role
from api.models.types import utcnow
from api.services.compliance import retention

KIND = "retention_purge"
CHUNK = 200  # cases per commit: on SQLite a chunk holds the write lock


@job_kind(KIND)
def purge(ctx: JobContext) -> dict:
    """Payload: `{"dry_run": bool, "at": ISO time or absent (now)}`; an actor, if any, must
    still be an administrator (the CLI enqueues with none)."""
    principal = (acting_principal(ctx.session, ctx.actor_id, Role.ADMIN)
                 if ctx.actor_id is not None else None)
    at = datetime.fromisoformat(ctx.payload["at"]) if ctx.payload.get("at") else utcnow()
    return retention.run_in_chunks(
        ctx.session, current_app.extensions["fieldvisit.blobs"],
        current_app.extensions["fieldvisit.pii"], at, dry_run=bool(ctx.payload.get("dry_run")),
        principal=principal, checkpoint=ctx.checkpoint, chunk=CHUNK,
        run_ref={"job_id": ctx.job_id},
    )
