"""Evidence files after their declaration: where to upload them, their completion (size and
SHA-256 verified, EXIF read and compared, thumbnail made), the chain of custody, signed
downloads and the evidence pack. Every read of evidence is written to the audit log.

A refused upload or completion leaves the slot pending with `last_error` set in the session and
nothing else changed; the caller commits that note and re-raises, so the phone and the legal
team both see why a file is still missing. Originals are only ever read here.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from api.config import Policy
from api.models import (
    Assignment,
    AuditEvent,
    Case,
    EvidenceFile,
    Role,
    UploadStatus,
    User,
)
from api.services.evidence.pack_format import PackItem
from api.services.evidence.photos import (
    PhotoFacts,
    compare_with_declaration,
    inspect_photo,
    make_thumbnail,
)
from api.services.evidence.storage import (
    BlobStore,
    LocalGrant,
    ReadableStream,
    StoredBlob,
    evidence_key,
    verify_blob,
)
from api.services.exceptions import Conflict, DomainError, InvalidInput, NotFound
from api.services.identity import audit
from api.services.identity.access import get_visible_case
from api.services.identity.accounts import Principal

# How far a photo's own EXIF may stray from what the phone declared before it is flagged (not
# refused: cameras with a wrong clock still take true pictures; a person reviews the flag).
MAX_TIME_SKEW_S = 10 * 60
MAX_DISTANCE_M = 200.0
UPLOAD_URL_TTL_S = 15 * 60
DOWNLOAD_URL_TTL_S = 5 * 60
THUMBNAIL = "thumbnail.jpg"
IMAGE_MIMES = ("image/jpeg", "image/heic", "image/heif", "image/png")
_FORMATS = {"image/jpeg": "JPEG", "image/heic": "HEIF", "image/heif": "HEIF", "image/png": "PNG"}
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/png": ".png",
    "application/pdf": ".pdf",
}
ACCESS_ACTIONS = ("evidence.download", "evidence.pack")
PACK_SEALED = "evidence.pack_sealed"
_SPOOL_BYTES = 8 * 1024 * 1024  # S3 bodies are copied to a spooled file for Pillow to seek in


# --------------------------------------------------------------------------- upload


def _no_such_file() -> NotFound:
    return NotFound("No such evidence file.")


def _uploader_slot(
    session: Session, principal: Principal, file_id: str, *, lock: bool = False
) -> EvidenceFile:
    """The slot, if the caller declared it on a case they hold or once held (a supervisor: on
    a case of their team); else NotFound (whether it exists is not the caller's business)."""
    stmt = select(EvidenceFile).where(EvidenceFile.id == str(file_id))
    slot = session.scalar(stmt.with_for_update() if lock else stmt)
    if (
        slot is None
        or principal.role not in (Role.COLLECTOR, Role.SUPERVISOR)
        or slot.uploader_id != principal.user_id
    ):
        raise _no_such_file()
    if principal.role is Role.SUPERVISOR:
        case = session.get(Case, slot.case_id)
        if case is None or principal.team_id is None or case.team_id != principal.team_id:
            raise _no_such_file()
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
        raise _no_such_file()
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
        raise _no_such_file()
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


# --------------------------------------------------------------------------- completion


def complete_upload(
    session: Session,
    principal: Principal,
    file_id: str,
    blobs: BlobStore,
    policy: Policy,
) -> EvidenceFile:
    """Verify the uploaded bytes against the declaration and accept them as the original.

    Size and SHA-256 must match (`InvalidInput` naming "size"/"sha256"); an image must decode
    completely (`InvalidInput` naming "file", code "corrupt_image"); a PDF must be one. Its EXIF
    time and GPS are stored and compared with the declaration (flags, never a refusal), and a
    thumbnail is stored beside it. Not uploaded yet: `Conflict` code "not_uploaded". Completing
    a complete file returns it unchanged. On a refusal the slot stays pending with `last_error`
    set (the caller commits that note)."""
    slot = _uploader_slot(session, principal, file_id, lock=True)
    if slot.status is UploadStatus.COMPLETE:
        return slot
    case = session.get(Case, slot.case_id)
    zone = (case.debtor.timezone if case else None) or policy.default_timezone
    try:
        exif, flags, thumbnail_key = _check_original(slot, blobs, zone)
    except (InvalidInput, Conflict) as error:
        _note_refusal(slot, error)
        raise
    slot.exif = None if exif is None else json.dumps(exif, sort_keys=True)
    slot.flags = json.dumps(flags)
    slot.thumbnail_key = thumbnail_key
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
) -> tuple[dict | None, list[str], str | None]:
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
        return None, [], None
    if slot.mime not in IMAGE_MIMES:
        return None, [], None
    with _seekable(blobs, slot.storage_key) as source:
        facts = inspect_photo(source)
        source.seek(0)
        thumbnail = make_thumbnail(source)
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
    key = evidence_key(slot.case_id, slot.id, THUMBNAIL)
    blobs.put_bytes(key, thumbnail, content_type="image/jpeg")
    return _facts_json(facts), flags, key


@contextmanager
def _seekable(blobs: BlobStore, key: str) -> Iterator[BinaryIO]:
    """The stored object as a seekable stream: the file itself on local disk, else a spooled
    copy (memory up to 8 MB, then a temporary file)."""
    with blobs.open(key) as stream:
        if getattr(stream, "seekable", lambda: False)():
            yield stream
            return
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as copy:
            shutil.copyfileobj(stream, copy, 1024 * 1024)
            copy.seek(0)
            yield copy  # type: ignore[misc]


def _facts_json(facts: PhotoFacts) -> dict[str, Any]:
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in asdict(facts).items()
    }


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
        "last_error": slot.last_error,
    }


# --------------------------------------------------------------------------- reading


def _visible_slot(session: Session, principal: Principal, file_id: str) -> EvidenceFile:
    slot = session.get(EvidenceFile, str(file_id))
    if slot is None:
        raise _no_such_file()
    try:
        get_visible_case(session, principal, slot.case_id)
    except NotFound:
        raise _no_such_file() from None
    return slot


def _file_name(slot: EvidenceFile) -> str:
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
    if slot.status is not UploadStatus.COMPLETE:
        raise Conflict(
            "The file has not been received yet.",
            fields={"file": ["still pending"]},
            code="not_uploaded",
        )
    if variant == "thumbnail":
        if slot.thumbnail_key is None:
            raise NotFound("This file has no thumbnail.", fields={"variant": ["no thumbnail"]})
        key, name = slot.thumbnail_key, f"{slot.kind.value}-{slot.id}-thumbnail.jpg"
    else:
        key, name = slot.storage_key, _file_name(slot)
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


def _people(session: Session, ids: set[int | None]) -> dict[int, dict[str, Any]]:
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
    says, and every later access (downloads and packs, from the audit log). Audited as
    "evidence.list"."""
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
    people = _people(session, {f.uploader_id for f in files} | {e.actor_id for e in events})
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


# --------------------------------------------------------------------------- evidence pack


@dataclass
class EvidencePack:
    """Everything `iter_pack` needs, gathered (and audited) before the first byte is sent."""

    pack_id: str
    case_id: int
    filename: str
    items: list[PackItem]
    manifest_meta: dict[str, Any]
    audit_trail: list[dict[str, Any]]
    file_ids: list[str] = field(default_factory=list)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _pack_item(slot: EvidenceFile, blobs: BlobStore, people: dict[int, dict]) -> PackItem:
    person = people.get(slot.uploader_id) if slot.uploader_id else None
    uploader = f"{person['username']} (user {person['id']})" if person else "unknown"
    key = slot.storage_key
    return PackItem(
        name=_file_name(slot),
        open=lambda: blobs.open(key),
        sha256=slot.sha256,
        size=slot.size,
        mime=slot.mime,
        kind=slot.kind.value,
        uploader=uploader,
        device=slot.device_id or "unknown",
        received_at=_iso(slot.completed_at) or "",
        captured_at=_iso(slot.captured_at),
        lat=slot.lat,
        lon=slot.lon,
        accuracy=slot.accuracy_m,
        record_id=slot.record_id,
        extra={
            "file_id": slot.id,
            "record_type": slot.record_type,
            "declared_at": _iso(slot.declared_at),
            "flags": json.loads(slot.flags or "[]"),
            "exif": json.loads(slot.exif) if slot.exif else None,
        },
    )


def _audit_row(event: AuditEvent, people: dict[int, dict]) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurred_at": _iso(event.occurred_at),
        "actor_id": event.actor_id,
        "actor": (people.get(event.actor_id) or {}).get("username") if event.actor_id else None,
        "device_id": event.device_id,
        "action": event.action,
        "case_id": event.case_id,
        "detail": event.detail,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def prepare_pack(
    session: Session, principal: Principal, case_id: int, blobs: BlobStore
) -> EvidencePack:
    """Gather a case's received originals, the manifest's metadata and the case's audit trail
    for `iter_pack`. The export is audited ("evidence.pack", listing every file id) before
    anything is sent, so an interrupted download is on record too; the pack's own audit row is
    part of the trail it carries. Pending slots and originals missing from the store are named
    in the manifest rather than silently left out."""
    case = get_visible_case(session, principal, case_id)
    slots = session.scalars(
        select(EvidenceFile)
        .where(EvidenceFile.case_id == case.id)
        .order_by(EvidenceFile.declared_at, EvidenceFile.id)
    ).all()
    complete = [s for s in slots if s.status is UploadStatus.COMPLETE]
    present = [s for s in complete if blobs.exists(s.storage_key)]
    missing = [s.id for s in complete if s not in present]
    pack_id = str(uuid.uuid4())
    generated_at = datetime.now(UTC).replace(microsecond=0)
    audit.record(
        session,
        principal,
        "evidence.pack",
        case_id=case.id,
        detail={"pack_id": pack_id, "file_ids": [s.id for s in present]},
    )
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id)
    ).all()
    people = _people(
        session,
        {s.uploader_id for s in slots} | {e.actor_id for e in events} | {principal.user_id},
    )
    manifest_meta = {
        "pack_id": pack_id,
        "case_id": case.id,
        "contract_no": case.contract_no,
        "generated_at": generated_at.isoformat(),
        "generated_by": people.get(principal.user_id),
        "pending_files": [
            {"file_id": s.id, "kind": s.kind.value, "last_error": s.last_error}
            for s in slots
            if s.status is not UploadStatus.COMPLETE
        ],
        "missing_from_store": missing,
        "limits": {"max_time_skew_s": MAX_TIME_SKEW_S, "max_distance_m": MAX_DISTANCE_M},
    }
    return EvidencePack(
        pack_id=pack_id,
        case_id=case.id,
        filename=f"evidence-{case.contract_no}-{generated_at:%Y%m%dT%H%M%SZ}.zip",
        items=[_pack_item(s, blobs, people) for s in present],
        manifest_meta=manifest_meta,
        audit_trail=[_audit_row(e, people) for e in events],
        file_ids=[s.id for s in present],
    )


def seal_pack(
    session: Session, principal: Principal, pack: EvidencePack, manifest_sha256: str
) -> AuditEvent:
    """Record the finished pack's manifest SHA-256: the value to give
    `fieldvisit evidence verify --manifest-sha256`."""
    return audit.record(
        session,
        principal,
        PACK_SEALED,
        case_id=pack.case_id,
        detail={"pack_id": pack.pack_id, "manifest_sha256": manifest_sha256},
    )
