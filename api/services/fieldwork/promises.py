"""Repayment promises (还款承诺书): a plan of dates and amounts, signed on site, rendered to a
deterministic PDF stored beside the record with its SHA-256.

The PDF (0.5 s of rendering) is made by a `promise_pdf` job (`api.jobs.promise_pdf`), asked for
in the filing's transaction and run once it commits: the record's file slot waits `pending`
until then (its download answers 409 `not_ready`), and the job's commit puts the case's
document again, whose open promise then says `pdf_ready` (`pdf_status` `ready`). A job that
failed for good leaves the slot `failed` (`pdf_failed`); an administrator has it made again
(`retry_pdf`, `POST /admin/server-files/{file_id}/retry`)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import jobs
from api.models import (
    Case,
    Contact,
    EvidenceFile,
    EvidenceKind,
    Job,
    RepaymentPromise,
    UploadStatus,
    VisitReport,
)
from api.services.casefile.identifiers import normalize_national_id
from api.services.compliance import contact_rules
from api.services.evidence.storage import evidence_key
from api.services.exceptions import Conflict, InvalidInput
from api.services.fieldwork.context import FieldContext, id_or_none
from api.services.fieldwork.declarations import declare_files
from api.services.fieldwork.promise_pdf import Instalment, PromiseDocument, render_promise_pdf

PDF_JOB = "promise_pdf"
PDF_RETRIES = 3  # then the file is `failed`: the server's fault, shown to the administrator


def record_promise(ctx: FieldContext, data: dict) -> RepaymentPromise:
    case, record_id = ctx.case, str(data["id"])
    signature = next((f for f in data["files"] if f["kind"] is EvidenceKind.SIGNATURE), None)
    if signature is None and not data["signature_strokes"]:
        raise InvalidInput(
            "A promise needs the signer's signature.",
            fields={"signature_strokes": ["give strokes or a signature image file"]},
        )
    if data["visit_report_id"] is not None:
        ctx.own(VisitReport, str(data["visit_report_id"]), "visit_report_id")
    ctx.own(Contact, data["signer_contact_id"], "signer_contact_id", debtor=True)
    contact_rules.check_payer(ctx, data, "signer_contact_id")
    signer_id = None
    if data["signer_national_id"]:
        signer_id = normalize_national_id(data["signer_national_id"], field="signer_national_id")
    plan = [Instalment(i["due_on"], i["amount_fen"]) for i in data["plan"]]
    total = sum(i.amount_fen for i in plan)
    pdf_id = derived_id(record_id, "promise_pdf")
    ctx.session.add(
        EvidenceFile(  # its bytes are the job's: pending, unknown hash, until it has run
            id=pdf_id,
            case_id=case.id,
            record_type="repayment_promise",
            record_id=record_id,
            kind=EvidenceKind.PROMISE_PDF,
            sha256="",
            size=0,
            mime="application/pdf",
            captured_at=data["signed_at"],
            lat=data["lat"],
            lon=data["lon"],
            uploader_id=ctx.user_id,
            device_id=ctx.device_id,
            status=UploadStatus.PENDING,
            storage_key=evidence_key(case.id, pdf_id),
        )
    )
    promise = RepaymentPromise(
        **ctx.record_fields(record_id),
        visit_report_id=id_or_none(data["visit_report_id"]),
        plan=json.dumps(
            [{"due_on": i.due_on.isoformat(), "amount_fen": i.amount_fen} for i in plan]
        ),
        total_fen=total,
        first_due_on=plan[0].due_on,
        last_due_on=plan[-1].due_on,
        method=data["method"],
        signer_name=data["signer_name"],
        signer_contact_id=data["signer_contact_id"],
        signer_id_cipher=ctx.cipher.encrypt(signer_id) if signer_id else None,
        signer_id_last4=signer_id[-4:] if signer_id else None,
        signature_file_id=id_or_none(signature["id"]) if signature else None,
        signature_strokes=json.dumps(data["signature_strokes"])
        if data["signature_strokes"]
        else None,
        witness_name=data["witness_name"],
        place_text=data["place_text"],
        lat=data["lat"],
        lon=data["lon"],
        signed_at=data["signed_at"],
        pdf_file_id=pdf_id,
        pdf_sha256=None,
    )
    ctx.session.add(promise)
    declare_files(ctx, "repayment_promise", record_id, data["files"])
    # What the PDF shows as of the signing, fixed now (the job runs later): no personal data.
    jobs.enqueue(ctx.session, PDF_JOB, pdf_payload(record_id, case.overdue_fen, ctx.timezone),
                 actor_id=ctx.user_id)
    return promise


def pdf_payload(promise_id: str, overdue_fen: int, timezone: str) -> dict:
    return {"promise_id": promise_id, "overdue_fen": overdue_fen, "timezone": timezone}


def pdf_document(
    session: Session, promise_id: str, *, cipher, overdue_fen: int, timezone: str
) -> PromiseDocument | None:
    """What a stored promise's PDF shows; None when there is nothing to make (the promise is
    gone with its purged case, or its PDF was made already)."""
    promise = session.get(RepaymentPromise, promise_id)
    slot = promise and promise.pdf_file_id and session.get(EvidenceFile, promise.pdf_file_id)
    if not slot or slot.status is UploadStatus.COMPLETE:
        return None
    case = session.get(Case, promise.case_id)
    signer_id = cipher.decrypt(promise.signer_id_cipher) if promise.signer_id_cipher else ""
    return PromiseDocument(
        contract_no=case.contract_no,
        signer_name=promise.signer_name,
        signer_national_id=signer_id,
        promised_total_fen=promise.total_fen,
        plan=[Instalment(date.fromisoformat(i["due_on"]), i["amount_fen"])
              for i in json.loads(promise.plan)],
        method=promise.method,
        signed_at=promise.signed_at,
        place_text=promise.place_text or "",
        lat=promise.lat,
        lon=promise.lon,
        witness=promise.witness_name,
        overdue_fen=overdue_fen,
        record_id=promise.id,
        timezone=timezone,
        signature_strokes=json.loads(promise.signature_strokes)
        if promise.signature_strokes else None,
    )


def store_pdf(session: Session, promise_id: str, document: PromiseDocument, blobs) -> dict | None:
    """Render `document` (outside any transaction: half a second), store it, and complete the
    promise's file slot (the caller commits: the case's document is then put again). Answers
    the file's id and SHA-256; None when the promise went meanwhile."""
    pdf = render_promise_pdf(document)
    promise = session.get(RepaymentPromise, promise_id)
    slot = promise and session.get(EvidenceFile, promise.pdf_file_id)
    if not slot:
        return None
    if slot.status is not UploadStatus.COMPLETE:
        stored = blobs.put_bytes(slot.storage_key, pdf, content_type="application/pdf")
        slot.sha256, slot.size = stored.sha256, stored.size
        slot.status, slot.completed_at = UploadStatus.COMPLETE, datetime.now(UTC)
        promise.pdf_sha256 = stored.sha256  # a field record changed: the case is put again
    return {"file_id": slot.id, "sha256": slot.sha256}


def pdf_failed(session: Session, promise_id: str, error: str) -> int | None:
    """The PDF's job failed for good: its slot is `failed` by the server (the caller commits),
    so the download says so instead of `not_ready` forever. Answers the case whose document
    now says `pdf_status` `failed` (None: nothing changed)."""
    promise = session.get(RepaymentPromise, promise_id)
    slot = promise and promise.pdf_file_id and session.get(EvidenceFile, promise.pdf_file_id)
    if slot and slot.status is UploadStatus.PENDING:
        slot.status, slot.server_error = UploadStatus.FAILED, error[:300]
        return promise.case_id
    return None


def retry_pdf(session: Session, slot: EvidenceFile, actor_id: int | None) -> Job:
    """Have a failed PDF made again (the caller commits): its slot `pending`, its error
    cleared, and the same `promise_pdf` job asked for with what the PDF showed as of the
    signing (the first job's payload), so its retries and backoff apply again."""
    promise_id = slot.record_id
    payload = None
    for text in session.scalars(select(Job.payload).where(
            Job.kind == PDF_JOB, Job.payload.contains(json.dumps(promise_id), autoescape=True))
            .order_by(Job.id.desc())):
        candidate = json.loads(text)
        if candidate.get("promise_id") == promise_id:
            payload = candidate
            break
    if payload is None:  # jobs are never deleted: only a hand-made slot has none
        raise Conflict("The promise's PDF was never asked for: nothing to make again.",
                       fields={"file_id": ["no promise_pdf job on record"]})
    slot.status, slot.server_error = UploadStatus.PENDING, None
    return jobs.enqueue(session, PDF_JOB, payload, actor_id=actor_id)


def derived_id(record_id: str, what: str) -> str:
    """The id of a file the server derives from a record: the same on every replay."""
    return str(uuid.uuid5(uuid.UUID(record_id), what))
