"""A received photo's thumbnail, made by a `thumbnail` job (`api.jobs.thumbnail`) asked for in
the transaction that completes the upload: the completion answers without rendering, the slot's
`thumbnail_status` is `pending` until the job has stored it (its download answers 409
`not_ready` meanwhile), then `complete` with `thumbnail_key` set; `failed` (with
`server_error`) once its job has failed for good, until an administrator has it made again
(`retry_thumbnail`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api import jobs
from api.models import EvidenceFile, Job, UploadStatus
from api.services.evidence.photos import make_thumbnail
from api.services.evidence.storage import BlobStore, evidence_key, seekable

THUMBNAIL_JOB = "thumbnail"
THUMBNAIL = "thumbnail.jpg"
THUMBNAIL_RETRIES = 3  # then the thumbnail is `failed`: the server's fault


def ask_for_thumbnail(session: Session, slot: EvidenceFile, actor_id: int | None) -> Job:
    """Mark the slot's thumbnail pending and ask for its job (sent once the caller commits)."""
    slot.thumbnail_status, slot.thumbnail_key = UploadStatus.PENDING, None
    return jobs.enqueue(session, THUMBNAIL_JOB, {"file_id": slot.id}, actor_id=actor_id)


def retry_thumbnail(session: Session, slot: EvidenceFile, actor_id: int | None) -> Job:
    """Have a failed thumbnail made again (the caller commits): pending, its error cleared,
    the same `thumbnail` job asked for, so its retries and backoff apply again."""
    slot.server_error = None
    return ask_for_thumbnail(session, slot, actor_id)


def store_thumbnail(session: Session, file_id: str, blobs: BlobStore) -> dict | None:
    """Make and store the thumbnail of a received photo, then record it on its slot (the caller
    commits). No transaction is held while the photo is read and scaled. None when there is
    nothing to make: the slot is gone (its case purged) or its thumbnail is no longer pending."""
    slot = session.get(EvidenceFile, file_id)
    if slot is None or slot.thumbnail_status is not UploadStatus.PENDING:
        session.commit()
        return None
    original, key = slot.storage_key, evidence_key(slot.case_id, slot.id, THUMBNAIL)
    session.commit()
    with seekable(blobs, original) as source:
        thumbnail = make_thumbnail(source)
    stored = blobs.put_bytes(key, thumbnail, content_type="image/jpeg")
    slot = session.get(EvidenceFile, file_id, populate_existing=True)
    if slot is None or slot.thumbnail_status is not UploadStatus.PENDING:
        blobs.delete(key)  # purged meanwhile: leave nothing behind
        return None
    slot.thumbnail_key, slot.thumbnail_status = key, UploadStatus.COMPLETE
    return {"file_id": file_id, "thumbnail_key": key, "size": stored.size}


def thumbnail_failed(session: Session, file_id: str, error: str) -> None:
    """The thumbnail's job failed for good: marked `failed` by the server (the caller
    commits); the original stays as received."""
    slot = session.get(EvidenceFile, file_id)
    if slot is not None and slot.thumbnail_status is UploadStatus.PENDING:
        slot.thumbnail_status, slot.server_error = UploadStatus.FAILED, error[:300]
