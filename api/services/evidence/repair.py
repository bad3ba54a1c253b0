"""Repairing a file the server could not make: an administrator has a failed promise PDF or
photo thumbnail made again once the cause is fixed (the exceptions feed's `server_file_failed`
item names the file; `POST /admin/server-files/{file_id}/retry`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from api.models import EvidenceFile, EvidenceKind, Job, Role, UploadStatus
from api.services.evidence import thumbnails
from api.services.evidence.custody import SERVER_FILE_RETRIED
from api.services.exceptions import Conflict, Forbidden, NotFound
from api.services.fieldwork import promises
from api.services.identity import audit
from api.services.identity.accounts import Principal
from api.services.supervision.exceptions_feed import reopen_server_file

PROMISE_PDF, THUMBNAIL = "promise_pdf", "thumbnail"


@dataclass(frozen=True)
class Retried:
    slot: EvidenceFile
    derived: str  # PROMISE_PDF (the file itself) or THUMBNAIL (the photo's thumbnail)
    job: Job


def derived_status(slot: EvidenceFile) -> tuple[str, UploadStatus] | None:
    """Which file the server makes for this slot, and its state; None: it makes none."""
    if slot.kind is EvidenceKind.PROMISE_PDF:
        return PROMISE_PDF, slot.status
    if slot.thumbnail_status is not None:
        return THUMBNAIL, slot.thumbnail_status
    return None


def retry_server_file(session: Session, principal: Principal, file_id: str) -> Retried:
    """Make a failed derived file again (the caller commits): the slot pending, its
    `server_error` cleared, the same job kind asked for (its retries and backoff apply). Only
    an administrator; 404 when the id names no file the server makes, 409 unless it failed."""
    if principal.role is not Role.ADMIN:
        raise Forbidden("Only an administrator has a failed file made again.")
    slot = session.get(EvidenceFile, str(file_id), with_for_update=True)
    found = slot and derived_status(slot)
    if not found:
        raise NotFound("No file the server makes (a promise's PDF, a photo's thumbnail) has "
                       "this id.", fields={"file_id": ["no such derived file"]})
    derived, status = found
    if status is not UploadStatus.FAILED:
        raise Conflict(f"The {derived.replace('_', ' ')} is {status.value}, not failed: "
                       "nothing to make again.",
                       fields={"file_id": [f"{derived} is {status.value}"]}, code="not_failed")
    error = slot.server_error
    if derived == PROMISE_PDF:
        job = promises.retry_pdf(session, slot, principal.user_id)
    else:
        job = thumbnails.retry_thumbnail(session, slot, principal.user_id)
    reopen_server_file(session, slot.id)
    audit.record(session, principal, SERVER_FILE_RETRIED, case_id=slot.case_id, detail={
        "file_id": slot.id, "variant": "original" if derived == PROMISE_PDF else "thumbnail",
        "derived": derived, "job_id": job.id, "error": error})
    return Retried(slot, derived, job)
