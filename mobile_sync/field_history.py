"""What the field already did on a case, carried in its device document, so a phone that
bootstraps again (a new phone, a reset) still knows what happened at that door.

Bounded: the newest `VISITS` visit reports, the newest `OPEN_PROMISES` promises still open
(pending or partly kept), the newest `RECEIPTS` field receipts and `NOTICES` notices served.
Each list is one query for every case of the chunk, ranked per case in the database (a window
function), so a case with years of history costs what a case with `VISITS` visits costs."""

from __future__ import annotations

import json

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from api.models import (
    EvidenceFile,
    FieldReceipt,
    NoticeServed,
    PromiseStatus,
    RepaymentPromise,
    UploadStatus,
    User,
    VisitReport,
)
from api.services.casefile.timeline import promise_summary, visit_summary

VISITS = 10
OPEN_PROMISES = 10
RECEIPTS = 5
NOTICES = 5
OPEN = (PromiseStatus.PENDING, PromiseStatus.PARTLY_KEPT)


def newest_per_case(stmt, model, order, n: int):
    """`stmt` (a select over `model`) cut to the newest `n` rows per case by `order`, for the
    cases bound as `case_ids`. Built once: executing it costs no statement construction."""
    rank = func.row_number().over(partition_by=model.case_id, order_by=order).label("rank_")
    ranked = stmt.add_columns(model.case_id.label("case_id_"), rank).where(
        model.case_id.in_(bindparam("case_ids", expanding=True))).subquery()
    return select(ranked).where(ranked.c.rank_ <= n).order_by(ranked.c.case_id_, ranked.c.rank_)


def grouped(session: Session, stmt, case_ids) -> dict[int, list]:
    """{case_id: rows} of a `newest_per_case` statement."""
    out: dict[int, list] = {}
    for row in session.execute(stmt, {"case_ids": list(case_ids)}):
        out.setdefault(row.case_id_, []).append(row)
    return out


_VISITS = newest_per_case(
    select(VisitReport.id, VisitReport.started_at, VisitReport.author_id,
           User.full_name.label("author_name"), VisitReport.address_id, VisitReport.met,
           VisitReport.outcome, VisitReport.reason, VisitReport.next_step,
           VisitReport.follow_up_on, VisitReport.geofence, VisitReport.distance_m,
           VisitReport.flags, VisitReport.promised_fen, VisitReport.collected_fen,
           VisitReport.supersedes_id, VisitReport.notes)
    .join(User, User.id == VisitReport.author_id),
    VisitReport, (VisitReport.started_at.desc(), VisitReport.id.desc()), VISITS)
_PROMISES = newest_per_case(
    select(RepaymentPromise.id, RepaymentPromise.signed_at, RepaymentPromise.author_id,
           RepaymentPromise.status, RepaymentPromise.plan, RepaymentPromise.total_fen,
           RepaymentPromise.paid_toward_fen, RepaymentPromise.first_due_on,
           RepaymentPromise.last_due_on, RepaymentPromise.method,
           RepaymentPromise.visit_report_id, RepaymentPromise.pdf_file_id,
           RepaymentPromise.pdf_sha256, EvidenceFile.status.label("pdf_slot_status"))
    .outerjoin(EvidenceFile, EvidenceFile.id == RepaymentPromise.pdf_file_id)
    .where(RepaymentPromise.status.in_(OPEN)),
    RepaymentPromise, (RepaymentPromise.signed_at.desc(), RepaymentPromise.id.desc()),
    OPEN_PROMISES)
_RECEIPTS = newest_per_case(
    select(FieldReceipt.id, FieldReceipt.receipt_no, FieldReceipt.amount_fen,
           FieldReceipt.method, FieldReceipt.paid_at, FieldReceipt.visit_report_id),
    FieldReceipt, (FieldReceipt.paid_at.desc(), FieldReceipt.id.desc()), RECEIPTS)
_NOTICES = newest_per_case(
    select(NoticeServed.id, NoticeServed.notice_type, NoticeServed.served_at,
           NoticeServed.served_to_role, NoticeServed.method, NoticeServed.visit_report_id),
    NoticeServed, (NoticeServed.served_at.desc(), NoticeServed.id.desc()), NOTICES)


def field_history(session: Session, case_ids: list[int]) -> dict[int, dict]:
    """{case_id: {"visits", "open_promises", "receipts", "notices"}} in four queries."""
    visits = grouped(session, _VISITS, case_ids)
    promises = grouped(session, _PROMISES, case_ids)
    receipts = grouped(session, _RECEIPTS, case_ids)
    notices = grouped(session, _NOTICES, case_ids)
    return {
        case_id: {
            "visits": [_visit(v) for v in visits.get(case_id, [])],
            "open_promises": [_promise(p) for p in promises.get(case_id, [])],
            "receipts": [_plain(r, "receipt_no", "amount_fen", "method", "paid_at",
                                "visit_report_id") for r in receipts.get(case_id, [])],
            "notices": [_plain(n, "notice_type", "served_at", "served_to_role", "method",
                               "visit_report_id") for n in notices.get(case_id, [])],
        }
        for case_id in case_ids
    }


def empty_history() -> dict:
    """What `field_history` gives a case nothing has been recorded about."""
    return {"visits": [], "open_promises": [], "receipts": [], "notices": []}


def _visit(row) -> dict:
    return {"id": row.id, "started_at": row.started_at, "author_id": row.author_id,
            "author_name": row.author_name, **visit_summary(row),
            "flags": json.loads(row.flags)}


PDF_STATUS = {UploadStatus.COMPLETE: "ready", UploadStatus.FAILED: "failed"}


def _promise(row) -> dict:
    """`pdf_status`: `pending` until the `promise_pdf` job has stored the PDF, then `ready`
    (`GET /evidence/{pdf_file_id}/download` serves it; before, 409 not_ready), or `failed` once
    the job gave up (500 server_file_failed; an administrator has it made again, and it is
    `pending` once more). Each change puts the document again. `pdf_ready` (older phones):
    whether it is `ready`."""
    ready = row.pdf_sha256 is not None
    status = "ready" if ready else PDF_STATUS.get(row.pdf_slot_status, "pending")
    return {"id": row.id, "signed_at": row.signed_at, "author_id": row.author_id,
            **promise_summary(row), "pdf_file_id": row.pdf_file_id,
            "pdf_ready": ready, "pdf_status": status}


def _plain(row, *names: str) -> dict:
    return {"id": row.id, **{name: getattr(row, name) for name in names}}
