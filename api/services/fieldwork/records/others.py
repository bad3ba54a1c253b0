"""Promises, receipts, notices served, vehicle sightings and repossessions read back."""

from __future__ import annotations

from sqlalchemy import Select, or_
from sqlalchemy.orm import Session

from api.models import (
    FieldReceipt,
    NoticeServed,
    RepaymentPromise,
    Repossession,
    VehicleSighting,
)
from api.services.casefile.identifiers import mask_national_id
from api.services.fieldwork.records.common import Lookups, RecordKind, common_view, json_list


def _promise_filter(stmt: Select, extra: dict) -> Select:
    """`due_from`/`due_to`: promises with a payment plan that runs into the range."""
    if extra.get("status") is not None:
        stmt = stmt.where(RepaymentPromise.status == extra["status"])
    if extra.get("due_to") is not None:
        stmt = stmt.where(RepaymentPromise.first_due_on <= extra["due_to"])
    if extra.get("due_from") is not None:
        stmt = stmt.where(RepaymentPromise.last_due_on >= extra["due_from"])
    return stmt


def promise_view(p: RepaymentPromise, lookups: Lookups) -> dict:
    return {
        **common_view(p, lookups),
        "visit_report_id": p.visit_report_id,
        "signer_name": p.signer_name,
        # Last 4 only, for every reader: the full number is sealed (signer_id_cipher).
        "signer_national_id": mask_national_id("0" * 14 + p.signer_id_last4)
        if p.signer_id_last4
        else None,
        "total_fen": p.total_fen,
        "paid_toward_fen": p.paid_toward_fen,
        "due_fen": p.total_fen - p.paid_toward_fen,
        "status": p.status.value,
        "first_due_on": p.first_due_on,
        "last_due_on": p.last_due_on,
        "method": p.method,
        "signed_at": p.signed_at,
    }


def promise_detail(session: Session, p: RepaymentPromise, lookups: Lookups) -> dict:
    return {
        "plan": json_list(p.plan),
        "witness_name": p.witness_name,
        "place_text": p.place_text,
        "lat": p.lat,
        "lon": p.lon,
        "pdf_file_id": p.pdf_file_id,
        "pdf_sha256": p.pdf_sha256,
        "signature_file_id": p.signature_file_id,
        "has_signature_strokes": p.signature_strokes is not None,
    }


def receipt_view(r: FieldReceipt, lookups: Lookups) -> dict:
    return {
        **common_view(r, lookups),
        "visit_report_id": r.visit_report_id,
        "receipt_no": r.receipt_no,
        "paid_at": r.paid_at,
        "amount_fen": r.amount_fen,
        "method": r.method,
        "payer_name": r.payer_name,
    }


def notice_view(n: NoticeServed, lookups: Lookups) -> dict:
    return {
        **common_view(n, lookups),
        "visit_report_id": n.visit_report_id,
        "notice_type": n.notice_type,
        "served_to_name": n.served_to_name,
        "served_to_role": n.served_to_role,
        "method": n.method,
        "served_at": n.served_at,
        "lat": n.lat,
        "lon": n.lon,
    }


def _mismatch(s: VehicleSighting) -> bool:
    return s.vin_match is False or s.engine_no_match is False


def _sighting_filter(stmt: Select, extra: dict) -> Select:
    if extra.get("collateral_id") is not None:
        stmt = stmt.where(VehicleSighting.collateral_id == extra["collateral_id"])
    if extra.get("mismatch") is not None:
        wrong = or_(
            VehicleSighting.vin_match.is_(False), VehicleSighting.engine_no_match.is_(False)
        )
        stmt = stmt.where(wrong if extra["mismatch"] else ~wrong)
    return stmt


def sighting_view(s: VehicleSighting, lookups: Lookups) -> dict:
    return {
        **common_view(s, lookups, flags=["vehicle_mismatch"] if _mismatch(s) else []),
        "collateral_id": s.collateral_id,
        "vin_read": s.vin_read,
        "engine_no_read": s.engine_no_read,
        "plate_read": s.plate_read,
        "vin_match": s.vin_match,
        "engine_no_match": s.engine_no_match,
        "plate_match": s.plate_match,
        "seen_at": s.seen_at,
        "lat": s.lat,
        "lon": s.lon,
        "place_text": s.place_text,
        "notes": s.notes,
    }


def _repossession_filter(stmt: Select, extra: dict) -> Select:
    if extra.get("collateral_id") is not None:
        stmt = stmt.where(Repossession.collateral_id == extra["collateral_id"])
    return stmt


def repossession_view(r: Repossession, lookups: Lookups) -> dict:
    return {
        **common_view(r, lookups),
        "collateral_id": r.collateral_id,
        "sighting_id": r.sighting_id,
        "recovered_at": r.recovered_at,
        "lat": r.lat,
        "lon": r.lon,
        "place_text": r.place_text,
        "towed_by": r.towed_by,
        "odometer_km": r.odometer_km,
        "condition": r.condition,
    }


PROMISES = RecordKind(
    name="repayment_promise",
    label="promise",
    model=RepaymentPromise,
    sorts={
        "signed_at": RepaymentPromise.signed_at,
        "first_due_on": RepaymentPromise.first_due_on,
        "received_at": RepaymentPromise.received_at,
    },
    default_sort="-signed_at",
    view=promise_view,
    filter=_promise_filter,
    detail=promise_detail,
)
RECEIPTS = RecordKind(
    name="field_receipt",
    label="receipt",
    model=FieldReceipt,
    sorts={"paid_at": FieldReceipt.paid_at, "received_at": FieldReceipt.received_at},
    default_sort="-paid_at",
    view=receipt_view,
)
NOTICES = RecordKind(
    name="notice_served",
    label="notice",
    model=NoticeServed,
    sorts={"served_at": NoticeServed.served_at, "received_at": NoticeServed.received_at},
    default_sort="-served_at",
    view=notice_view,
)
SIGHTINGS = RecordKind(
    name="vehicle_sighting",
    label="vehicle sighting",
    model=VehicleSighting,
    sorts={"seen_at": VehicleSighting.seen_at, "received_at": VehicleSighting.received_at},
    default_sort="-seen_at",
    view=sighting_view,
    filter=_sighting_filter,
)
REPOSSESSIONS = RecordKind(
    name="repossession",
    label="repossession",
    model=Repossession,
    sorts={"recovered_at": Repossession.recovered_at, "received_at": Repossession.received_at},
    default_sort="-recovered_at",
    view=repossession_view,
    filter=_repossession_filter,
)
