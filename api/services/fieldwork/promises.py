"""Repayment promises (还款承诺书): a plan of dates and amounts, signed on site, rendered to a
deterministic PDF stored beside the record with its SHA-256."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from api.models import (
    Contact,
    EvidenceFile,
    EvidenceKind,
    RepaymentPromise,
    UploadStatus,
    VisitReport,
)
from api.services.casefile.identifiers import normalize_national_id
from api.services.compliance import contact_rules
from api.services.evidence.storage import evidence_key
from api.services.exceptions import InvalidInput
from api.services.fieldwork.context import FieldContext, id_or_none
from api.services.fieldwork.declarations import declare_files
from api.services.fieldwork.promise_pdf import Instalment, PromiseDocument, render_promise_pdf


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
    pdf = render_promise_pdf(
        PromiseDocument(
            contract_no=case.contract_no,
            signer_name=data["signer_name"],
            signer_national_id=signer_id or "",
            promised_total_fen=total,
            plan=plan,
            method=data["method"],
            signed_at=data["signed_at"],
            place_text=data["place_text"] or "",
            lat=data["lat"],
            lon=data["lon"],
            witness=data["witness_name"],
            overdue_fen=case.overdue_fen,
            record_id=record_id,
            timezone=ctx.timezone,
            signature_strokes=data["signature_strokes"],
        )
    )
    pdf_id = derived_id(record_id, "promise_pdf")
    stored = ctx.blobs.put_bytes(evidence_key(case.id, pdf_id), pdf, content_type="application/pdf")
    ctx.session.add(
        EvidenceFile(
            id=pdf_id,
            case_id=case.id,
            record_type="repayment_promise",
            record_id=record_id,
            kind=EvidenceKind.PROMISE_PDF,
            sha256=stored.sha256,
            size=stored.size,
            mime="application/pdf",
            captured_at=data["signed_at"],
            lat=data["lat"],
            lon=data["lon"],
            uploader_id=ctx.user_id,
            device_id=ctx.device_id,
            status=UploadStatus.COMPLETE,
            storage_key=evidence_key(case.id, pdf_id),
            completed_at=datetime.now(UTC),
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
        pdf_sha256=stored.sha256,
    )
    ctx.session.add(promise)
    declare_files(ctx, "repayment_promise", record_id, data["files"])
    return promise


def derived_id(record_id: str, what: str) -> str:
    """The id of a file the server derives from a record: the same on every replay."""
    return str(uuid.uuid5(uuid.UUID(record_id), what))
