"""A case's history in time order: what the field recorded, what the lender reported paid, and
who held the case when.

One count query for every kind, then at most one query per kind, each limited to the rows the
requested page can need (offset + page size, newest or oldest first), merged in Python. The
entries carry no national IDs and no phones (a proposal's proposed phone or address is left
out: open the proposal to review it)."""

from __future__ import annotations

import enum
import heapq
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from itertools import islice
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from api.models import (
    Assignment,
    CaseNote,
    ContactAttempt,
    FieldProposal,
    FieldReceipt,
    NoticeServed,
    Payment,
    RepaymentPromise,
    Repossession,
    User,
    VehicleSighting,
    VisitReport,
)
from api.services.identity import audit
from api.services.identity.access import get_visible_case
from api.services.identity.accounts import Principal

EXCERPT = 200  # characters of free text (notes) an entry carries


class TimelineKind(enum.StrEnum):
    CONTACT_ATTEMPT = "contact_attempt"
    CASE_NOTE = "case_note"
    VISIT_REPORT = "visit_report"
    REPAYMENT_PROMISE = "repayment_promise"
    FIELD_RECEIPT = "field_receipt"
    NOTICE_SERVED = "notice_served"
    VEHICLE_SIGHTING = "vehicle_sighting"
    REPOSSESSION = "repossession"
    FIELD_PROPOSAL = "field_proposal"
    PAYMENT = "payment"
    ASSIGNMENT = "assignment"


def excerpt(text: str | None, limit: int = EXCERPT) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def visit_summary(row) -> dict:
    """The essentials of a visit report (shared with the phone's case document)."""
    return {
        "address_id": row.address_id,
        "met": row.met,
        "outcome": row.outcome,
        "reason": row.reason,
        "next_step": row.next_step,
        "follow_up_on": row.follow_up_on,
        "geofence": row.geofence,
        "distance_m": None if row.distance_m is None else round(row.distance_m, 1),
        "promised_fen": row.promised_fen,
        "collected_fen": row.collected_fen,
        "supersedes_id": row.supersedes_id,
        "notes": excerpt(row.notes),
    }


def promise_summary(row) -> dict:
    """A promise's plan and how it stands (shared with the phone's case document)."""
    return {
        "status": row.status,
        "plan": json.loads(row.plan),
        "total_fen": row.total_fen,
        "paid_toward_fen": row.paid_toward_fen,
        "remaining_fen": max(row.total_fen - row.paid_toward_fen, 0),
        "first_due_on": row.first_due_on,
        "last_due_on": row.last_due_on,
        "method": row.method,
        "visit_report_id": row.visit_report_id,
    }


@dataclass(frozen=True)
class _Source:
    """Where one kind of entry comes from: its table, the moment it happened, and its view."""

    model: type
    at: ColumnElement
    columns: tuple
    summary: Callable[[object], dict]
    flags: Callable[[object], list[str]] = lambda row: []
    author: str | None = "author_id"


def _field(model, at, *columns, summary, flags=None) -> _Source:
    """A device-created record: it has an author and may have reached us after reassignment."""
    base = (model.author_id, model.case_reassigned)

    def all_flags(row) -> list[str]:
        found = flags(row) if flags else []
        if row.case_reassigned and "case_reassigned" not in found:
            found.append("case_reassigned")
        return found

    return _Source(model, at, base + columns, summary, all_flags)


def _vehicle_flags(row) -> list[str]:
    matches = (row.vin_match, row.engine_no_match, row.plate_match)
    return ["vehicle_mismatch"] if any(m is False for m in matches) else []


_SOURCES: dict[TimelineKind, _Source] = {
    TimelineKind.CONTACT_ATTEMPT: _field(
        ContactAttempt, ContactAttempt.occurred_at, ContactAttempt.channel,
        ContactAttempt.outcome, ContactAttempt.contact_id, ContactAttempt.duration_s,
        ContactAttempt.note, ContactAttempt.over_call_limit, ContactAttempt.contact_while_reachable,
        summary=lambda r: {"channel": r.channel, "outcome": r.outcome,
                           "contact_id": r.contact_id, "duration_s": r.duration_s,
                           "note": excerpt(r.note)},
        flags=lambda r: ["over_daily_call_limit"] * r.over_call_limit
        + ["contact_while_reachable"] * r.contact_while_reachable),
    TimelineKind.CASE_NOTE: _field(
        CaseNote, CaseNote.client_time, CaseNote.text,
        summary=lambda r: {"text": excerpt(r.text)}),
    TimelineKind.VISIT_REPORT: _field(
        VisitReport, VisitReport.started_at, VisitReport.address_id, VisitReport.met,
        VisitReport.outcome, VisitReport.reason, VisitReport.next_step,
        VisitReport.follow_up_on, VisitReport.geofence, VisitReport.distance_m,
        VisitReport.promised_fen, VisitReport.collected_fen, VisitReport.supersedes_id,
        VisitReport.notes, VisitReport.flags, VisitReport.ended_at, VisitReport.collector_ids,
        summary=lambda r: visit_summary(r) | {"ended_at": r.ended_at,
                                              "collector_ids": json.loads(r.collector_ids)},
        flags=lambda r: json.loads(r.flags)),
    TimelineKind.REPAYMENT_PROMISE: _field(
        RepaymentPromise, RepaymentPromise.signed_at, RepaymentPromise.status,
        RepaymentPromise.plan, RepaymentPromise.total_fen, RepaymentPromise.paid_toward_fen,
        RepaymentPromise.first_due_on, RepaymentPromise.last_due_on, RepaymentPromise.method,
        RepaymentPromise.visit_report_id, RepaymentPromise.signer_name,
        summary=lambda r: promise_summary(r) | {"signer_name": r.signer_name}),
    TimelineKind.FIELD_RECEIPT: _field(
        FieldReceipt, FieldReceipt.paid_at, FieldReceipt.receipt_no, FieldReceipt.amount_fen,
        FieldReceipt.method, FieldReceipt.payer_name, FieldReceipt.visit_report_id,
        summary=lambda r: {"receipt_no": r.receipt_no, "amount_fen": r.amount_fen,
                           "method": r.method, "payer_name": r.payer_name,
                           "visit_report_id": r.visit_report_id}),
    TimelineKind.NOTICE_SERVED: _field(
        NoticeServed, NoticeServed.served_at, NoticeServed.notice_type,
        NoticeServed.served_to_name, NoticeServed.served_to_role, NoticeServed.method,
        NoticeServed.visit_report_id,
        summary=lambda r: {"notice_type": r.notice_type, "served_to_name": r.served_to_name,
                           "served_to_role": r.served_to_role, "method": r.method,
                           "visit_report_id": r.visit_report_id}),
    TimelineKind.VEHICLE_SIGHTING: _field(
        VehicleSighting, VehicleSighting.seen_at, VehicleSighting.collateral_id,
        VehicleSighting.vin_match, VehicleSighting.engine_no_match, VehicleSighting.plate_match,
        VehicleSighting.place_text,
        summary=lambda r: {"collateral_id": r.collateral_id, "vin_match": r.vin_match,
                           "engine_no_match": r.engine_no_match, "plate_match": r.plate_match,
                           "place_text": r.place_text},
        flags=_vehicle_flags),
    TimelineKind.REPOSSESSION: _field(
        Repossession, Repossession.recovered_at, Repossession.collateral_id,
        Repossession.sighting_id, Repossession.place_text, Repossession.towed_by,
        Repossession.odometer_km,
        summary=lambda r: {"collateral_id": r.collateral_id, "sighting_id": r.sighting_id,
                           "place_text": r.place_text, "towed_by": r.towed_by,
                           "odometer_km": r.odometer_km}),
    TimelineKind.FIELD_PROPOSAL: _field(
        FieldProposal, FieldProposal.client_time, FieldProposal.kind, FieldProposal.status,
        FieldProposal.reviewed_by_id, FieldProposal.reviewed_at,
        summary=lambda r: {"proposal_kind": r.kind, "status": r.status,
                           "reviewed_by_id": r.reviewed_by_id, "reviewed_at": r.reviewed_at}),
    TimelineKind.PAYMENT: _Source(
        Payment, Payment.paid_on, (Payment.lender_ref, Payment.amount_fen, Payment.method),
        lambda r: {"ref": r.lender_ref, "paid_on": r.at, "amount_fen": r.amount_fen,
                   "method": r.method},
        author=None),
    TimelineKind.ASSIGNMENT: _Source(
        Assignment, Assignment.started_at,
        (Assignment.assigned_by_id, Assignment.team_id, Assignment.collector_id,
         Assignment.reason, Assignment.ended_at),
        lambda r: {"team_id": r.team_id, "collector_id": r.collector_id, "reason": r.reason,
                   "ended_at": r.ended_at},
        author="assigned_by_id"),
}


_RANK = {kind.value: rank for rank, kind in enumerate(TimelineKind)}


@dataclass
class TimelineQuery:
    kinds: list[TimelineKind] | None = None  # None or empty: every kind
    newest_first: bool = True
    page: int = 1
    page_size: int = 50


def case_timeline(
    session: Session, principal: Principal, case_id: int, q: TimelineQuery
) -> tuple[list[dict], int]:
    """One page of the case's timeline and the number of entries in all; the read is audited.
    A case the principal may not see is NotFound, exactly like a missing one."""
    case = get_visible_case(session, principal, case_id)
    kinds = [k for k in TimelineKind if not q.kinds or k in q.kinds]
    counts = _counts(session, case_id, kinds)
    total, wanted, skipped = sum(counts.values()), q.page * q.page_size, (q.page - 1) * q.page_size
    streams = [
        _entries(session, kind, case_id, wanted, q.newest_first, ZoneInfo(case.debtor.timezone))
        for kind in kinds
        if counts[kind] and skipped < total  # past the end: nothing to read
    ]
    # Ties in time go by kind, then by id: one total order, read either way.
    merged = heapq.merge(*streams, key=lambda e: (e["at"], _RANK[e["kind"]]),
                         reverse=q.newest_first)
    page = list(islice(merged, skipped, wanted))
    _name_people(session, page)
    audit.record(
        session, principal, "case.timeline", case_id=case.id,
        detail={"kinds": [k.value for k in q.kinds or ()], "page": q.page,
                "entries": len(page)},
    )
    return page, total


def _counts(session: Session, case_id: int, kinds: list[TimelineKind]) -> dict:
    """How many entries of each kind the case has, in one query."""
    columns = [
        select(func.count())
        .select_from(_SOURCES[k].model)
        .where(_SOURCES[k].model.case_id == case_id)
        .scalar_subquery()
        .label(k.value)
        for k in kinds
    ]
    row = session.execute(select(*columns)).one()
    return {k: row._mapping[k.value] for k in kinds}


def _entries(
    session: Session, kind: TimelineKind, case_id: int, limit: int, newest_first: bool, zone
) -> list[dict]:
    source = _SOURCES[kind]
    model = source.model
    order = (source.at.desc(), model.id.desc()) if newest_first else (source.at, model.id)
    rows = session.execute(
        select(model.id, source.at.label("at"), *source.columns)
        .where(model.case_id == case_id)
        .order_by(*order)
        .limit(limit)
    ).all()
    out = []
    for row in rows:
        at = row.at
        if isinstance(at, date) and not isinstance(at, datetime):  # a payment's value date
            at = datetime.combine(at, time(), zone).astimezone(UTC)
        out.append({
            "kind": kind.value,
            "at": at,
            "record_id": str(row.id),
            "author_id": getattr(row, source.author) if source.author else None,
            "author_name": None,
            "flags": source.flags(row),
            "summary": source.summary(row),
        })
    return out


def _name_people(session: Session, entries: Iterable[dict]) -> None:
    """Authors' (and assignees') names, in one query for the page."""
    entries = list(entries)
    ids = {e["author_id"] for e in entries} | {
        e["summary"].get("collector_id") for e in entries if e["kind"] == "assignment"
    }
    ids.discard(None)
    if not ids:
        return
    names = dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())
    for e in entries:
        e["author_name"] = names.get(e["author_id"])
        if e["kind"] == "assignment":
            e["summary"]["collector_name"] = names.get(e["summary"]["collector_id"])
