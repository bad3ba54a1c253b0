"""Evidence as the case shows it: each file described, its chain of custody, signed downloads.

Every read of evidence is written to the audit log. Originals are only ever read here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import AuditEvent, EvidenceFile, EvidenceKind, UploadStatus, User
from api.services.evidence.storage import BlobStore
from api.services.exceptions import Conflict, DomainError, NotFound
from api.services.identity import audit
from api.services.identity.access import get_visible_case
from api.services.identity.accounts import Principal

DOWNLOAD_URL_TTL_S = 5 * 60
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/png": ".png",
    "application/pdf": ".pdf",
}
PACK_DOWNLOADED = "evidence.pack_download"  # a pack built by a job, downloaded
# An administrator had a file the server makes (a PDF, a thumbnail) made again (`repair`).
SERVER_FILE_RETRIED = "evidence.server_file_retried"
ACCESS_ACTIONS = ("evidence.download", "evidence.pack", PACK_DOWNLOADED, SERVER_FILE_RETRIED)
PACK_SEALED = "evidence.pack_sealed"


class NotReady(Conflict):
    """A file the server makes by a job (a promise's PDF, a thumbnail) is not made yet: 409
    with Retry-After; the phone learns it is ready from its next pull."""

    code = "not_ready"
    retry_after = 2

    def __init__(self, message: str):
        super().__init__(message, fields={"file": ["not made yet"]})


class ServerFileFailed(DomainError):
    """The server could not make this file (a promise's PDF, a thumbnail) after retrying: its
    fault, not the caller's; the exceptions feed shows it to the administrator."""

    status = 500
    code = "server_file_failed"

    def __init__(self, message: str, error: str | None):
        super().__init__(message, fields={"file": [error or "failed"]})


def no_such_file() -> NotFound:
    return NotFound("No such evidence file.")


def describe_file(slot: EvidenceFile) -> dict[str, Any]:
    """A slot as the API shows it (flags and EXIF decoded)."""
    return {
        "id": slot.id,
        "case_id": slot.case_id,
        "record_type": slot.record_type,
        "record_id": slot.record_id,
        "kind": slot.kind.value,
        "mime": slot.mime,
        "status": slot.status.value,
        "sha256": slot.sha256,
        "size": slot.size,
        "captured_at": slot.captured_at,
        "lat": slot.lat,
        "lon": slot.lon,
        "accuracy_m": slot.accuracy_m,
        "device_id": slot.device_id,
        "declared_at": slot.declared_at,
        "completed_at": slot.completed_at,
        "flags": json.loads(slot.flags or "[]"),
        "exif": json.loads(slot.exif) if slot.exif else None,
        "has_thumbnail": slot.thumbnail_key is not None,
        "thumbnail_status": slot.thumbnail_status and slot.thumbnail_status.value,
        "last_error": slot.last_error,
        "server_error": slot.server_error,
    }



def _visible_slot(session: Session, principal: Principal, file_id: str) -> EvidenceFile:
    slot = session.get(EvidenceFile, str(file_id))
    if slot is None:
        raise no_such_file()
    try:
        get_visible_case(session, principal, slot.case_id)
    except NotFound:
        raise no_such_file() from None
    return slot


def file_name(slot: EvidenceFile) -> str:
    return f"{slot.record_type}-{slot.kind.value}-{slot.id}{_EXTENSIONS.get(slot.mime, '')}"


def download_url(
    session: Session,
    principal: Principal,
    file_id: str,
    blobs: BlobStore,
    expires_s: int = DOWNLOAD_URL_TTL_S,
    variant: str = "original",
) -> dict[str, Any]:
    """A short-lived signed URL to the original (or its thumbnail); the grant is audited as
    "evidence.download". Only for someone who may see the case (else NotFound)."""
    slot = _visible_slot(session, principal, file_id)
    if slot.status is UploadStatus.FAILED:
        raise ServerFileFailed("The server could not make this file; an administrator is told "
                               "(exceptions feed).", slot.server_error)
    if slot.status is not UploadStatus.COMPLETE and slot.kind is EvidenceKind.PROMISE_PDF:
        raise NotReady("The promise's PDF is still being made; retry shortly.")
    if slot.status is not UploadStatus.COMPLETE:
        raise Conflict(
            "The file has not been received yet.",
            fields={"file": ["still pending"]},
            code="not_uploaded",
        )
    if variant == "thumbnail":
        if slot.thumbnail_status is UploadStatus.FAILED:
            raise ServerFileFailed("The server could not make this photo's thumbnail; the "
                                   "original is intact.", slot.server_error)
        if slot.thumbnail_status is UploadStatus.PENDING:
            raise NotReady("The photo's thumbnail is still being made; retry shortly.")
        if slot.thumbnail_key is None:
            raise NotFound("This file has no thumbnail.", fields={"variant": ["no thumbnail"]})
        key, name = slot.thumbnail_key, f"{slot.kind.value}-{slot.id}-thumbnail.jpg"
    else:
        key, name = slot.storage_key, file_name(slot)
    url = blobs.presign_get(key, expires_s=expires_s, filename=name)
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=expires_s)
    audit.record(
        session,
        principal,
        "evidence.download",
        case_id=slot.case_id,
        detail={
            "file_id": slot.id,
            "variant": variant,
            "sha256": slot.sha256,
            "expires_at": expires_at.isoformat(),
        },
    )
    return {
        "file_id": slot.id,
        "variant": variant,
        "url": url,
        "expires_at": expires_at,
        "filename": name,
        "sha256": slot.sha256 if variant == "original" else None,
    }


def people_by_id(session: Session, ids: set[int | None]) -> dict[int, dict[str, Any]]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    users = session.scalars(select(User).where(User.id.in_(wanted))).all()
    return {u.id: {"id": u.id, "username": u.username, "full_name": u.full_name} for u in users}


def _detail(event: AuditEvent) -> dict[str, Any]:
    try:
        value = json.loads(event.detail or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _file_ids_of(detail: dict[str, Any]) -> list[str]:
    ids = list(detail.get("file_ids") or [])
    return [*ids, detail["file_id"]] if detail.get("file_id") else ids


def case_evidence(session: Session, principal: Principal, case_id: int) -> dict[str, Any]:
    """The case's evidence with its chain of custody: for each file the declared capture time
    and place, uploader and device, declaration and receipt times, hash, flags, what the EXIF
    says, and every later access (downloads, packs, a derived file made again: from the audit
    log). Audited as "evidence.list"."""
    case = get_visible_case(session, principal, case_id)
    files = session.scalars(
        select(EvidenceFile)
        .where(EvidenceFile.case_id == case.id)
        .order_by(EvidenceFile.declared_at, EvidenceFile.id)
    ).all()
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.case_id == case.id,
            AuditEvent.action.in_([*ACCESS_ACTIONS, PACK_SEALED]),
        )
        .order_by(AuditEvent.id)
    ).all()
    people = people_by_id(session, {f.uploader_id for f in files} | {e.actor_id for e in events})
    accesses: dict[str, list[dict]] = {}
    packs: dict[str, dict] = {}
    for event in events:
        detail = _detail(event)
        actor = people.get(event.actor_id) if event.actor_id else None
        if event.action == PACK_SEALED:
            if detail.get("pack_id") in packs:
                packs[detail["pack_id"]]["manifest_sha256"] = detail.get("manifest_sha256")
            continue
        access = {
            "audit_id": event.id,
            "at": event.occurred_at,
            "action": event.action,
            "actor": actor,
            "device_id": event.device_id,
            "variant": detail.get("variant"),
            "pack_id": detail.get("pack_id"),
        }
        for file_id in _file_ids_of(detail):
            accesses.setdefault(file_id, []).append(access)
        if event.action == "evidence.pack" and detail.get("pack_id"):
            packs[detail["pack_id"]] = {
                "pack_id": detail["pack_id"],
                "audit_id": event.id,
                "at": event.occurred_at,
                "actor": actor,
                "files": len(detail.get("file_ids") or []),
                "manifest_sha256": None,
            }
    audit.record(
        session,
        principal,
        "evidence.list",
        case_id=case.id,
        detail={"files": len(files)},
    )
    return {
        "case_id": case.id,
        "contract_no": case.contract_no,
        "files": [
            {
                **describe_file(f),
                "record": {"type": f.record_type, "id": f.record_id},
                "captured": {
                    "at": f.captured_at,
                    "lat": f.lat,
                    "lon": f.lon,
                    "accuracy_m": f.accuracy_m,
                },
                "uploader": people.get(f.uploader_id) if f.uploader_id else None,
                "received_at": f.completed_at,
                "accesses": accesses.get(f.id, []),
            }
            for f in files
        ],
        "packs": list(packs.values()),
    }
