"""Evidence packs: a case's originals, manifest and audit trail gathered, audited and sealed."""

from __future__ import annotations

import dataclasses
import json
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import AuditEvent, EvidenceFile, Job, JobStatus, UploadStatus
from api.services.evidence.custody import PACK_DOWNLOADED, PACK_SEALED, file_name, people_by_id
from api.services.evidence.pack_format import PackItem, write_pack
from api.services.evidence.storage import BlobStore, check_key
from api.services.evidence.uploads import MAX_DISTANCE_M, MAX_TIME_SKEW_S
from api.services.exceptions import NotFound
from api.services.identity import audit
from api.services.identity.access import get_visible_case
from api.services.identity.accounts import Principal

PACK_JOB = "evidence_pack"  # the job kind that builds a stored pack (api/jobs/evidence_pack.py)


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
        name=file_name(slot),
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
        "shard": event.shard,
        "key_id": event.key_id,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def prepare_pack(
    session: Session, principal: Principal, case_id: int, blobs: BlobStore
) -> EvidencePack:
    """Gather a case's received originals, the manifest's metadata and the case's audit trail
    for `iter_pack`. The export is audited ("evidence.pack", listing every file id) before
    anything is sent, so an interrupted download is on record too; the pack's own audit row is
    part of the trail it carries, and the manifest carries the audit chains' heads signed just
    after it (`audit_heads`). Pending slots and originals missing from the store are named
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
    # Signed after the export's own row: the heads cover every row of the trail.
    heads = audit.sign_heads(session)
    people = people_by_id(
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
        "audit_heads": heads.as_dict(),
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


# --------------------------------------------------------------------------- stored packs
# A pack of many files is built by a job (`api.jobs.evidence_pack`) into the blob store, then
# downloaded; it is deleted when the case is purged, or after `STORED_PACK_DAYS`.

STORED_PACK_DAYS = 7


def stored_pack_key(case_id: int, pack_id: str) -> str:
    return check_key(f"packs/{case_id}/{pack_id}.zip")


def complete_file_count(session: Session, case_id: int) -> int:
    """How many received files a pack of the case would hold (at most)."""
    return session.scalar(
        select(func.count()).select_from(EvidenceFile)
        .where(EvidenceFile.case_id == case_id, EvidenceFile.status == UploadStatus.COMPLETE)
    )


def build_stored_pack(
    session: Session,
    principal: Principal,
    case_id: int,
    blobs: BlobStore,
    progress: Callable[[int, int], None],
) -> dict[str, Any]:
    """Build the case's pack into the blob store, audited exactly as a streamed one (the export
    before the first file, the manifest's SHA-256 once it is stored). `progress(done, total)`
    is called before each file (a job's checkpoint: it commits, and may stop the build); the
    ZIP is written to a temporary file first, then stored. Returns what the job reports."""
    pack = prepare_pack(session, principal, case_id, blobs)
    total = len(pack.items)

    def counted(item: PackItem, position: int) -> PackItem:
        def open_counted():
            progress(position, total)
            return item.open()

        return dataclasses.replace(item, open=open_counted)

    progress(0, total)
    key = stored_pack_key(pack.case_id, pack.pack_id)
    with tempfile.TemporaryFile(prefix="fieldvisit-pack-") as out:
        manifest_sha256 = write_pack(
            out, [counted(item, i) for i, item in enumerate(pack.items)],
            pack.manifest_meta, pack.audit_trail,
        )
        progress(total, total)
        out.seek(0)
        stored = blobs.put_stream(key, out, content_type="application/zip")
    seal_pack(session, principal, pack, manifest_sha256)
    return {
        "case_id": pack.case_id,
        "pack_id": pack.pack_id,
        "filename": pack.filename,
        "files": total,
        "size": stored.size,
        "sha256": stored.sha256,
        "manifest_sha256": manifest_sha256,
        "expires_at": (datetime.now(UTC) + timedelta(days=STORED_PACK_DAYS)).isoformat(),
    }


def open_stored_pack(
    session: Session, principal: Principal, case_id: int, result: dict[str, Any], blobs: BlobStore
) -> BinaryIO:
    """The stored pack's bytes, for someone who may still see the case; the download is
    audited ("evidence.pack_download", with the pack's file ids, from its export row)."""
    case = get_visible_case(session, principal, case_id)
    pack_id = result["pack_id"]
    key = stored_pack_key(case.id, pack_id)
    if not blobs.exists(key):
        raise NotFound("The pack is no longer kept; build it again.",
                       fields={"job_id": ["pack expired or deleted"]}, code="pack_expired")
    file_ids: list[str] = []
    for event in session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == case.id,
                                 AuditEvent.action == "evidence.pack")
        .order_by(AuditEvent.id.desc())
    ):
        detail = json.loads(event.detail or "{}")
        if detail.get("pack_id") == pack_id:
            file_ids = list(detail.get("file_ids") or [])
            break
    stream = blobs.open(key)
    audit.record(session, principal, PACK_DOWNLOADED, case_id=case.id,
                 detail={"pack_id": pack_id, "file_ids": file_ids})
    return stream


def delete_stored_packs(session: Session, blobs: BlobStore, *, case_id: int | None = None,
                        finished_before: datetime | None = None) -> int:
    """Delete stored packs of a case (when it is purged) or built before a moment (expired);
    their jobs' results say so. Returns how many were deleted."""
    stmt = select(Job).where(Job.kind == PACK_JOB, Job.status == JobStatus.DONE,
                             Job.result.is_not(None))
    if finished_before is not None:
        stmt = stmt.where(Job.finished_at < finished_before)
    if case_id is not None:  # a narrowing only: the parsed result decides
        stmt = stmt.where(Job.result.contains(f'"case_id": {int(case_id)},'))
    deleted = 0
    for job in session.scalars(stmt):
        result = json.loads(job.result)
        if result.get("deleted") or (case_id is not None and result.get("case_id") != case_id):
            continue
        blobs.delete(stored_pack_key(result["case_id"], result["pack_id"]))
        job.result = json.dumps({**result, "deleted": True}, ensure_ascii=False)
        deleted += 1
    session.flush()
    return deleted
