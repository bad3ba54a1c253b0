"""Evidence uploads: where the phone sends a file, receiving it, and its verified completion.

Completion checks size and SHA-256, reads the EXIF and compares it, and asks for the thumbnail
(a job makes it: `api.services.evidence.thumbnails`).
A refused upload or completion leaves the slot pending with `last_error` set in the session and
nothing else changed; the caller commits that note and re-raises, so the phone and the legal
team both see why a file is still missing.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from api.models import Assignment, Case, EvidenceFile, EvidenceKind, Role, UploadStatus
from api.models.types import utcnow
from api.services.compliance.policies import policy_for_case
from api.services.evidence.custody import no_such_file
from api.services.evidence.photos import (
    PhotoFacts,
    compare_with_declaration,
    inspect_photo,
)
from api.services.evidence.storage import (
    BlobStore,
    LocalGrant,
    ReadableStream,
    StoredBlob,
    seekable,
    verify_blob,
)
from api.services.evidence.thumbnails import ask_for_thumbnail
from api.services.exceptions import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    TemporarilyUnavailable,
)
from api.services.identity import audit
from api.services.identity.accounts import Principal

# How far a photo's own EXIF may stray from what the phone declared before it is flagged (not
# refused: cameras with a wrong clock still take true pictures; a person reviews the flag).
MAX_TIME_SKEW_S = 10 * 60
MAX_DISTANCE_M = 200.0
UPLOAD_URL_TTL_S = 15 * 60
IMAGE_MIMES = ("image/jpeg", "image/heic", "image/heif", "image/png")
_FORMATS = {"image/jpeg": "JPEG", "image/heic": "HEIF", "image/heif": "HEIF", "image/png": "PNG"}
SERVER_MADE = (EvidenceKind.PROMISE_PDF,)


def _uploader_slot(
    session: Session, principal: Principal, file_id: str, *, lock: bool = False
) -> EvidenceFile:
    """The slot, if the caller declared it on a case they hold or once held (a supervisor: on
    a case of their team); else NotFound (whether it exists is not the caller's business)."""
    stmt = select(EvidenceFile).where(EvidenceFile.id == str(file_id))
    slot = session.scalar(stmt.with_for_update() if lock else stmt)
    if (
        slot is None
        or slot.kind in SERVER_MADE  # its bytes are the server's, never uploaded
        or principal.role not in (Role.COLLECTOR, Role.SUPERVISOR)
        or slot.uploader_id != principal.user_id
    ):
        raise no_such_file()
    if principal.role is Role.SUPERVISOR:
        case = session.get(Case, slot.case_id)
        if case is None or principal.team_id is None or case.team_id != principal.team_id:
            raise no_such_file()
        return slot
    held = session.scalar(
        select(
            exists().where(
                Assignment.case_id == slot.case_id, Assignment.collector_id == principal.user_id
            )
        )
    )
    case = session.get(Case, slot.case_id)
    if not held and (case is None or case.collector_id != principal.user_id):
        raise no_such_file()
    return slot


def upload_target(
    session: Session,
    principal: Principal,
    file_id: str,
    blobs: BlobStore,
    expires_s: int = UPLOAD_URL_TTL_S,
) -> dict[str, Any]:
    """A fresh URL the uploader's phone PUTs exactly the declared bytes to: an S3 presigned PUT
    with the SHA-256 signed in, or a signed URL to the server's own streaming endpoint. A slot
    already complete is a `Conflict` (code "already_complete"): the phone can stop retrying."""
    slot = _uploader_slot(session, principal, file_id)
    if slot.status is UploadStatus.COMPLETE:
        raise Conflict(
            "This file was already received and verified.",
            fields={"file": ["already complete"]},
            code="already_complete",
        )
    grant = blobs.presign_put(
        slot.storage_key,
        sha256_hex=slot.sha256,
        size=slot.size,
        content_type=slot.mime,
        expires_s=expires_s,
    )
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=expires_s)
    return {"file_id": slot.id, "status": slot.status.value, **grant, "expires_at": expires_at}


def _note_refusal(slot: EvidenceFile, error: DomainError) -> None:
    detail = next(
        (f"{name}: {messages[0]}" for name, messages in error.fields.items() if messages), ""
    )
    note = f"{error.code}: {error.message}" + (f" ({detail})" if detail else "")
    slot.last_error = note[:300]


def receive_local_upload(
    session: Session, blobs: BlobStore, grant: LocalGrant, body: ReadableStream
) -> dict[str, Any]:
    """Store a streamed upload granted by a verified local signed URL, checked against the
    signed size and SHA-256 on the way. Idempotent: a slot already complete, or whose stored
    bytes already match, is answered without reading the body or touching the original."""
    parts = grant.key.split("/")
    slot = session.get(EvidenceFile, parts[2]) if len(parts) == 4 else None
    if slot is None or slot.storage_key != grant.key or grant.sha256 != slot.sha256:
        raise no_such_file()
    answer = {"file_id": slot.id, "key": slot.storage_key, "size": slot.size, "sha256": slot.sha256}
    if slot.status is UploadStatus.COMPLETE:
        return {**answer, "status": "complete"}
    stored = blobs.head(slot.storage_key)
    if stored == StoredBlob(size=slot.size, sha256=slot.sha256):
        return {**answer, "status": "already_stored"}
    try:
        blobs.put_stream(
            slot.storage_key,
            body,
            expected_sha256=slot.sha256,
            expected_size=slot.size,
            content_type=slot.mime,
        )
    except DomainError as error:
        _note_refusal(slot, error)
        raise
    slot.last_error = None
    return {**answer, "status": "stored"}



def complete_upload(
    session: Session,
    principal: Principal,
    file_id: str,
    blobs: BlobStore,
) -> EvidenceFile:
    """Verify the uploaded bytes against the declaration and accept them as the original.

    Size and SHA-256 must match (`InvalidInput` naming "size"/"sha256"); an image must decode
    completely (`InvalidInput` naming "file", code "corrupt_image"); a PDF must be one. Its EXIF
    time and GPS are stored and compared with the declaration (flags, never a refusal), and a
    photo's thumbnail is asked for (a job makes it). Not uploaded yet: `Conflict` code
    "not_uploaded". Completing a complete file returns it unchanged. On a refusal the slot
    stays pending with `last_error` set (the caller commits that note)."""
    slot = _uploader_slot(session, principal, file_id, lock=True)
    if slot.status is UploadStatus.COMPLETE:
        return slot
    case = session.get(Case, slot.case_id)
    zone = case.debtor.timezone or policy_for_case(session, case, utcnow()).default_timezone
    try:
        exif, flags, photo = _check_original(slot, blobs, zone)
    except (InvalidInput, Conflict, TemporarilyUnavailable) as error:
        _note_refusal(slot, error)
        raise
    slot.exif = None if exif is None else json.dumps(exif, sort_keys=True)
    slot.flags = json.dumps(flags)
    if photo:  # made by a job once this commits (`api.services.evidence.thumbnails`)
        ask_for_thumbnail(session, slot, principal.user_id)
    slot.status = UploadStatus.COMPLETE
    slot.completed_at = datetime.now(UTC)
    slot.last_error = None
    audit.record(
        session,
        principal,
        "evidence.received",
        case_id=slot.case_id,
        detail={"file_id": slot.id, "sha256": slot.sha256, "size": slot.size, "flags": flags},
    )
    return slot


def _check_original(
    slot: EvidenceFile, blobs: BlobStore, zone: str
) -> tuple[dict | None, list[str], bool]:
    """The file's EXIF facts, its flags, and whether it is a photo (then it gets a thumbnail)."""
    try:
        verify_blob(blobs, slot.storage_key, sha256_hex=slot.sha256, size=slot.size)
    except NotFound:
        raise Conflict(
            "The file has not been uploaded yet: PUT it to its upload URL first.",
            fields={"file": ["not uploaded"]},
            code="not_uploaded",
        ) from None
    if slot.mime == "application/pdf":
        with blobs.open(slot.storage_key) as stream:
            if stream.read(5) != b"%PDF-":
                raise InvalidInput(
                    "the file is not a PDF document",
                    fields={"file": ["not a PDF (no %PDF- header)"]},
                    code="not_a_pdf",
                )
        return None, [], False
    if slot.mime not in IMAGE_MIMES:
        return None, [], False
    with seekable(blobs, slot.storage_key) as source:
        facts = inspect_photo(source)
    flags = compare_with_declaration(
        facts,
        slot.captured_at,
        slot.lat,
        slot.lon,
        max_time_skew_s=MAX_TIME_SKEW_S,
        max_distance_m=MAX_DISTANCE_M,
        local_tz=zone,
    )
    if _FORMATS.get(slot.mime) != facts.format:
        flags.append("format_differs_from_declared_mime")
    return _facts_json(facts), flags, True


def _facts_json(facts: PhotoFacts) -> dict[str, Any]:
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in asdict(facts).items()
    }
