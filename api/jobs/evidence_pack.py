"""The `evidence_pack` job: a case's evidence pack built into the blob store, for a pack of more
files than a streamed answer should carry (`FIELDVISIT_EVIDENCE_PACK_STREAM_MAX_FILES`)."""

from __future__ import annotations

from flask import current_app

from api.jobs import JobContext, acting_principal, job_kind
from api.models import Role
from api.services.evidence import packs

PACK_ROLES = (Role.LEGAL, Role.ADMIN)


@job_kind(packs.PACK_JOB)
def build_evidence_pack(ctx: JobContext) -> dict:
    """Payload: `{"case_id": ...}`. Progress counts files; the result names the pack and where
    to download it (`GET /evidence-packs/{job_id}`)."""
    principal = acting_principal(ctx.session, ctx.actor_id, *PACK_ROLES)
    result = packs.build_stored_pack(ctx.session, principal, ctx.payload["case_id"],
                                     current_app.extensions["fieldvisit.blobs"], ctx.checkpoint)
    return {**result, "download": f"/evidence-packs/{ctx.job_id}"}
