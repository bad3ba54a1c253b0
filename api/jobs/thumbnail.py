"""The `thumbnail` job: a received photo scaled to its thumbnail, stored beside the original
(`api.services.evidence.thumbnails`). Asked for by the upload's completion in its transaction;
until it has run the thumbnail's download answers 409 `not_ready`."""

from __future__ import annotations

from flask import current_app

from api.jobs import JobContext, job_kind
from api.services.evidence import thumbnails


def _failed(session, payload: dict, error: str) -> None:
    thumbnails.thumbnail_failed(session, payload["file_id"], error)


@job_kind(thumbnails.THUMBNAIL_JOB, retries=thumbnails.THUMBNAIL_RETRIES, on_failure=_failed)
def make_thumbnail(ctx: JobContext) -> dict:
    """Payload: `{"file_id"}`. The result names the thumbnail's key and size (`thumbnail_key`
    null: nothing to make, the file is gone or has its thumbnail)."""
    stored = thumbnails.store_thumbnail(ctx.session, ctx.payload["file_id"],
                                        current_app.extensions["fieldvisit.blobs"])
    ctx.session.commit()
    return stored or {"file_id": ctx.payload["file_id"], "thumbnail_key": None}
