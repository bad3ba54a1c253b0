"""Field-work mutations: visit reports, repayment promises, receipts, notices served, vehicle
sightings and repossessions, each with the evidence files it declares."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import marshmallow as ma
from sqlalchemy import select

from api.extensions import Schema
from api.models import (
    Address,
    Collateral,
    Contact,
    EvidenceFile,
    EvidenceKind,
    FieldReceipt,
    Geofence,
    NextStep,
    NoticeServed,
    RepaymentPromise,
    Repossession,
    RepossessionStatus,
    UploadStatus,
    VehicleSighting,
    VisitOutcome,
    VisitReport,
)
from api.models.cases import CoordSource
from api.services.casefile.identifiers import (
    normalize_engine_number,
    normalize_national_id,
    normalize_plate,
    normalize_vin,
)
from api.services.compliance import checks as compliance
from api.services.evidence.storage import evidence_key
from api.services.exceptions import InvalidInput
from api.services.fieldwork.promise_pdf import Instalment, PromiseDocument, render_promise_pdf
from api.services.geo import DATUMS, to_wgs84
from mobile_sync.mutations import MutationContext, RecordSchema
from mobile_sync.reference import DELINQUENCY_REASONS

MAX_FILE = 200 * 1024 * 1024
MIMES = ("image/jpeg", "image/heic", "image/heif", "image/png", "application/pdf")
CONFIRMING_ACCURACY_M = 50.0


class FileDeclarationSchema(Schema):
    id = ma.fields.UUID(required=True)
    kind = ma.fields.Enum(EvidenceKind, by_value=True, required=True)
    sha256 = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[0-9a-f]{64}$"))
    size = ma.fields.Integer(required=True, validate=ma.validate.Range(1, MAX_FILE))
    mime = ma.fields.String(required=True, validate=ma.validate.OneOf(MIMES))
    captured_at = ma.fields.AwareDateTime(load_default=None)
    lat = ma.fields.Float(load_default=None, validate=ma.validate.Range(-90, 90))
    lon = ma.fields.Float(load_default=None, validate=ma.validate.Range(-180, 180))
    accuracy_m = ma.fields.Float(load_default=None, validate=ma.validate.Range(0, 100_000))


class FixSchema(Schema):
    lat = ma.fields.Float(required=True, validate=ma.validate.Range(-90, 90))
    lon = ma.fields.Float(required=True, validate=ma.validate.Range(-180, 180))
    accuracy_m = ma.fields.Float(required=True, validate=ma.validate.Range(0, 100_000))
    provider = ma.fields.String(
        load_default="gps", validate=ma.validate.OneOf(["gps", "network", "fused", "other"])
    )
    mock = ma.fields.Boolean(load_default=False)
    fix_time = ma.fields.AwareDateTime(required=True)
    datum = ma.fields.String(load_default="WGS84", validate=ma.validate.OneOf(DATUMS))


class CoCollectorSchema(Schema):
    user_id = ma.fields.Integer(required=True)
    attestation = ma.fields.String(required=True, validate=ma.validate.Length(max=400))


class PlaceMixin(Schema):
    """Where something happened, as the phone reported it (WGS84)."""

    lat = ma.fields.Float(load_default=None, validate=ma.validate.Range(-90, 90))
    lon = ma.fields.Float(load_default=None, validate=ma.validate.Range(-180, 180))


class EvidenceRecordSchema(RecordSchema):
    files = ma.fields.List(
        ma.fields.Nested(FileDeclarationSchema),
        load_default=list,
        validate=ma.validate.Length(max=50),
    )


def declare_files(
    ctx: MutationContext,
    record_type: str,
    record_id: str,
    files: list[dict],
    *,
    require: EvidenceKind | None = None,
) -> None:
    """Open an upload slot for each declared file (bytes come later, out of band)."""
    if require is not None and not any(f["kind"] is require for f in files):
        raise InvalidInput(
            f"A {require.value} photo is required.",
            fields={"payload.files": [f"declare a {require.value} photo"]},
        )
    for declared in files:
        file_id = str(declared["id"])
        if ctx.session.get(EvidenceFile, file_id) is not None:
            raise InvalidInput(
                "A file with this id was already declared.",
                fields={"payload.files.id": ["already used"]},
            )
        ctx.session.add(
            EvidenceFile(
                id=file_id,
                case_id=ctx.case.id,
                record_type=record_type,
                record_id=record_id,
                kind=declared["kind"],
                sha256=declared["sha256"],
                size=declared["size"],
                mime=declared["mime"],
                captured_at=declared["captured_at"],
                lat=declared["lat"],
                lon=declared["lon"],
                accuracy_m=declared["accuracy_m"],
                uploader_id=ctx.user_id,
                device_id=ctx.device_id,
                storage_key=evidence_key(ctx.case.id, file_id),
            )
        )


# --- visit_report -------------------------------------------------------------------------


class VisitReportSchema(EvidenceRecordSchema):
    supersedes_id = ma.fields.UUID(load_default=None)
    address_id = ma.fields.Integer(load_default=None)
    started_at = ma.fields.AwareDateTime(required=True)
    ended_at = ma.fields.AwareDateTime(required=True)
    co_collectors = ma.fields.List(
        ma.fields.Nested(CoCollectorSchema), load_default=list, validate=ma.validate.Length(max=5)
    )
    fixes = ma.fields.List(
        ma.fields.Nested(FixSchema), load_default=list, validate=ma.validate.Length(max=100)
    )
    met = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(
            [
                "debtor",
                "spouse",
                "family",
                "guarantor",
                "colleague",
                "employer",
                "neighbour",
                "nobody",
                "other",
            ]
        ),
    )
    met_contact_id = ma.fields.Integer(load_default=None)
    outcome = ma.fields.Enum(VisitOutcome, by_value=True, required=True)
    reason = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf(list(DELINQUENCY_REASONS))
    )
    promised_fen = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=0))
    collected_fen = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=0))
    next_step = ma.fields.Enum(NextStep, by_value=True, required=True)
    follow_up_on = ma.fields.Date(load_default=None)
    notes = ma.fields.String(load_default=None, validate=ma.validate.Length(max=4000))

    @ma.validates_schema(skip_on_field_errors=False)
    def times(self, data, **kwargs):
        if (
            data.get("ended_at")
            and data.get("started_at")
            and data["ended_at"] < data["started_at"]
        ):
            raise ma.ValidationError({"ended_at": ["before started_at"]})


def apply_visit_report(ctx: MutationContext, data: dict) -> VisitReport:
    session, case = ctx.session, ctx.case
    record_id = str(data["id"])
    address = _own(ctx, Address, data["address_id"], "address_id", debtor=True)
    _own(ctx, Contact, data["met_contact_id"], "met_contact_id", debtor=True)
    if data["supersedes_id"] is not None:
        old = session.get(VisitReport, str(data["supersedes_id"]))
        if old is None or old.case_id != case.id:
            raise InvalidInput(
                "The report to correct is not one of this case's.",
                fields={"payload.supersedes_id": ["no such report on this case"]},
            )
    collectors = [ctx.user_id]
    for co in data["co_collectors"]:
        user_id = (
            ctx.verify_cosign(co["attestation"], data["started_at"], data["ended_at"])
            if ctx.verify_cosign
            else None
        )
        if user_id is None or user_id != co["user_id"]:
            ctx.flags.append("unverified_co_collector")
        elif user_id not in collectors:
            collectors.append(user_id)
    fixes = [{**f, "wgs84": to_wgs84(f["lat"], f["lon"], f["datum"])} for f in data["fixes"]]
    best = min(fixes, key=lambda f: f["accuracy_m"], default=None)
    fix = (*best["wgs84"], best["accuracy_m"]) if best else None
    target = (address.lat, address.lon) if address and address.lat is not None else None
    verdict, distance = compliance.geofence_verdict(fix, target, ctx.policy.geofence_radius_m)
    mock = any(f["mock"] for f in fixes)
    ctx.flags += compliance.visit_flags(
        started_at=data["started_at"],
        ended_at=data["ended_at"],
        timezone=case.debtor.timezone or ctx.policy.default_timezone,
        collectors=len(collectors),
        geofence=verdict,
        mock_location=mock,
        clock_offset_s=ctx.clock_offset_s,
        policy=ctx.policy,
    )
    report = VisitReport(
        **ctx.record_fields(record_id),
        supersedes_id=_str(data["supersedes_id"]),
        address_id=address.id if address else None,
        started_at=data["started_at"],
        ended_at=data["ended_at"],
        collector_ids=json.dumps(collectors),
        fixes=json.dumps([_fix_json(f) for f in fixes]),
        lat=fix[0] if fix else None,
        lon=fix[1] if fix else None,
        accuracy_m=fix[2] if fix else None,
        met=data["met"],
        met_contact_id=data["met_contact_id"],
        outcome=data["outcome"],
        reason=data["reason"],
        promised_fen=data["promised_fen"],
        collected_fen=data["collected_fen"],
        next_step=data["next_step"],
        follow_up_on=data["follow_up_on"],
        notes=data["notes"],
        distance_m=distance,
        geofence=verdict,
        flags=json.dumps(ctx.flags),
        device_clock_offset_s=ctx.clock_offset_s,
    )
    session.add(report)
    declare_files(ctx, "visit_report", record_id, data["files"])
    if (
        address is not None
        and fix is not None
        and not mock
        and fix[2] <= CONFIRMING_ACCURACY_M
        and not ctx.case_reassigned
    ):
        _confirm_address(address, verdict, fix, data["started_at"])
    return report


def _confirm_address(address: Address, verdict: Geofence, fix, when: datetime) -> None:
    """A good fix on site confirms the address; one without coordinates learns them."""
    if verdict is Geofence.INSIDE:
        address.confirmed_at = when
    elif verdict is Geofence.NO_TARGET:
        address.lat, address.lon = fix[0], fix[1]
        address.coord_source, address.source_datum = CoordSource.VISIT, "WGS84"
        address.confirmed_at = when


def _fix_json(fix: dict) -> dict:
    return {
        "lat": fix["wgs84"][0],
        "lon": fix["wgs84"][1],
        "accuracy_m": fix["accuracy_m"],
        "provider": fix["provider"],
        "mock": fix["mock"],
        "fix_time": fix["fix_time"].astimezone(UTC).isoformat(),
        "reported": {"lat": fix["lat"], "lon": fix["lon"], "datum": fix["datum"]},
    }


def _own(ctx: MutationContext, model, row_id, field: str, *, debtor: bool = False):
    """A row that must belong to this case (or its debtor), or None when not given."""
    if row_id is None:
        return None
    row = ctx.session.get(model, row_id)
    owner = (
        (row.debtor_id == ctx.case.debtor_id)
        if debtor and row
        else (row is not None and row.case_id == ctx.case.id)
    )
    if row is None or not owner:
        raise InvalidInput(
            f"That {field.removesuffix('_id')} is not part of this case.",
            fields={f"payload.{field}": ["not part of this case"]},
        )
    return row


def _str(value) -> str | None:
    return None if value is None else str(value)


# --- repayment_promise --------------------------------------------------------------------


class PlanItemSchema(Schema):
    due_on = ma.fields.Date(required=True)
    amount_fen = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))


class PromiseSchema(EvidenceRecordSchema, PlaceMixin):
    visit_report_id = ma.fields.UUID(load_default=None)
    plan = ma.fields.List(
        ma.fields.Nested(PlanItemSchema), required=True, validate=ma.validate.Length(min=1, max=60)
    )
    method = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["cash", "bank_transfer", "alipay", "wechat", "other"]),
    )
    signer_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    signer_national_id = ma.fields.String(load_default=None)
    signature_strokes = ma.fields.List(
        ma.fields.List(ma.fields.List(ma.fields.Float())), load_default=None
    )
    witness_name = ma.fields.String(load_default=None, validate=ma.validate.Length(max=120))
    place_text = ma.fields.String(load_default=None, validate=ma.validate.Length(max=400))
    signed_at = ma.fields.AwareDateTime(required=True)

    @ma.validates_schema
    def plan_in_order(self, data, **kwargs):
        dates = [item["due_on"] for item in data.get("plan", [])]
        if dates != sorted(set(dates)):
            raise ma.ValidationError({"plan": ["due dates must be distinct and increasing"]})


def apply_promise(ctx: MutationContext, data: dict) -> RepaymentPromise:
    case, record_id = ctx.case, str(data["id"])
    signature = next((f for f in data["files"] if f["kind"] is EvidenceKind.SIGNATURE), None)
    if signature is None and not data["signature_strokes"]:
        raise InvalidInput(
            "A promise needs the signer's signature.",
            fields={"payload.signature_strokes": ["give strokes or a signature image file"]},
        )
    if data["visit_report_id"] is not None:
        _own(ctx, VisitReport, str(data["visit_report_id"]), "visit_report_id")
    signer_id = None
    if data["signer_national_id"]:
        signer_id = normalize_national_id(
            data["signer_national_id"], field="payload.signer_national_id"
        )
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
            timezone=case.debtor.timezone or ctx.policy.default_timezone,
            signature_strokes=data["signature_strokes"],
        )
    )
    pdf_id = _derived_id(record_id, "promise_pdf")
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
        visit_report_id=_str(data["visit_report_id"]),
        plan=json.dumps(
            [{"due_on": i.due_on.isoformat(), "amount_fen": i.amount_fen} for i in plan]
        ),
        total_fen=total,
        first_due_on=plan[0].due_on,
        last_due_on=plan[-1].due_on,
        method=data["method"],
        signer_name=data["signer_name"],
        signer_id_cipher=ctx.cipher.encrypt(signer_id) if signer_id else None,
        signer_id_last4=signer_id[-4:] if signer_id else None,
        signature_file_id=_str(signature["id"]) if signature else None,
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


def _derived_id(record_id: str, what: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.UUID(record_id), what))


# --- field_receipt ------------------------------------------------------------------------


class ReceiptSchema(EvidenceRecordSchema):
    visit_report_id = ma.fields.UUID(load_default=None)
    receipt_no = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9-]{1,40}$")
    )
    amount_fen = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    method = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["cash", "bank_transfer", "alipay", "wechat", "pos", "other"]),
    )
    payer_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    received_at = ma.fields.AwareDateTime(required=True)


def apply_receipt(ctx: MutationContext, data: dict) -> FieldReceipt:
    record_id = str(data["id"])
    if ctx.session.scalar(
        select(FieldReceipt.id).where(FieldReceipt.receipt_no == data["receipt_no"])
    ):
        raise InvalidInput(
            f"Receipt {data['receipt_no']} was already filed.",
            fields={"payload.receipt_no": ["already used"]},
            code="conflict",
        )
    if data["visit_report_id"] is not None:
        _own(ctx, VisitReport, str(data["visit_report_id"]), "visit_report_id")
    receipt = FieldReceipt(
        **ctx.record_fields(record_id),
        visit_report_id=_str(data["visit_report_id"]),
        receipt_no=data["receipt_no"],
        amount_fen=data["amount_fen"],
        method=data["method"],
        payer_name=data["payer_name"],
        received_at=data["received_at"],
    )
    ctx.session.add(receipt)
    declare_files(ctx, "field_receipt", record_id, data["files"], require=EvidenceKind.RECEIPT)
    return receipt


# --- notice_served ------------------------------------------------------------------------


class NoticeSchema(EvidenceRecordSchema, PlaceMixin):
    visit_report_id = ma.fields.UUID(load_default=None)
    notice_type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["overdue_notice", "demand_letter", "lawyer_letter"]),
    )
    served_to_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    served_to_role = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(
            ["debtor", "guarantor", "counter_guarantor", "family_member", "employer", "other"]
        ),
    )
    method = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["in_person", "left_at_address", "registered_mail", "ems"]),
    )
    served_at = ma.fields.AwareDateTime(required=True)


def apply_notice(ctx: MutationContext, data: dict) -> NoticeServed:
    record_id = str(data["id"])
    if data["visit_report_id"] is not None:
        _own(ctx, VisitReport, str(data["visit_report_id"]), "visit_report_id")
    notice = NoticeServed(
        **ctx.record_fields(record_id),
        visit_report_id=_str(data["visit_report_id"]),
        notice_type=data["notice_type"],
        served_to_name=data["served_to_name"],
        served_to_role=data["served_to_role"],
        method=data["method"],
        served_at=data["served_at"],
        lat=data["lat"],
        lon=data["lon"],
    )
    ctx.session.add(notice)
    declare_files(ctx, "notice_served", record_id, data["files"], require=EvidenceKind.NOTICE)
    if not within_hours_for(ctx, data["served_at"]):
        ctx.flags.append("outside_visit_hours")
    return notice


def within_hours_for(ctx: MutationContext, moment: datetime) -> bool:
    return compliance.within_visit_hours(
        moment, ctx.case.debtor.timezone or ctx.policy.default_timezone, ctx.policy
    )


# --- vehicle_sighting ---------------------------------------------------------------------


class SightingSchema(EvidenceRecordSchema, PlaceMixin):
    collateral_id = ma.fields.Integer(required=True)
    vin_read = ma.fields.String(load_default=None, validate=ma.validate.Length(max=17))
    engine_no_read = ma.fields.String(load_default=None, validate=ma.validate.Length(max=20))
    plate_read = ma.fields.String(load_default=None, validate=ma.validate.Length(max=10))
    seen_at = ma.fields.AwareDateTime(required=True)
    place_text = ma.fields.String(load_default=None, validate=ma.validate.Length(max=400))
    notes = ma.fields.String(load_default=None, validate=ma.validate.Length(max=4000))


def _read(normalize, value: str | None, field: str) -> str | None:
    """Normalise what was read on site; an unreadable value is kept as typed (upper-cased)."""
    if not value:
        return None
    try:
        return normalize(value, field=field)
    except InvalidInput:
        return value.strip().upper()


def _match(read: str | None, on_file: str | None) -> bool | None:
    return None if read is None or on_file is None else read == on_file


def apply_sighting(ctx: MutationContext, data: dict) -> VehicleSighting:
    record_id = str(data["id"])
    vehicle = _own(ctx, Collateral, data["collateral_id"], "collateral_id")
    vin = _read(normalize_vin, data["vin_read"], "vin_read")
    engine = _read(normalize_engine_number, data["engine_no_read"], "engine_no_read")
    plate = _read(normalize_plate, data["plate_read"], "plate_read")
    sighting = VehicleSighting(
        **ctx.record_fields(record_id),
        collateral_id=vehicle.id,
        vin_read=vin,
        engine_no_read=engine,
        plate_read=plate,
        vin_match=_match(vin, vehicle.vin),
        engine_no_match=_match(engine, vehicle.engine_no),
        plate_match=_match(plate, vehicle.plate),
        seen_at=data["seen_at"],
        lat=data["lat"],
        lon=data["lon"],
        place_text=data["place_text"],
        notes=data["notes"],
    )
    ctx.session.add(sighting)
    declare_files(ctx, "vehicle_sighting", record_id, data["files"])
    if sighting.vin_match is False or sighting.engine_no_match is False:
        ctx.flags.append("vehicle_mismatch")
    elif (
        sighting.vin_match
        and sighting.engine_no_match is not False
        and vehicle.repossession_status in (RepossessionStatus.NONE, RepossessionStatus.SEARCHING)
    ):
        vehicle.repossession_status = RepossessionStatus.LOCATED
    return sighting


# --- repossession -------------------------------------------------------------------------


class RepossessionSchema(EvidenceRecordSchema, PlaceMixin):
    collateral_id = ma.fields.Integer(required=True)
    sighting_id = ma.fields.UUID(load_default=None)
    recovered_at = ma.fields.AwareDateTime(required=True)
    place_text = ma.fields.String(load_default=None, validate=ma.validate.Length(max=400))
    towed_by = ma.fields.String(load_default=None, validate=ma.validate.Length(max=120))
    odometer_km = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=0))
    condition = ma.fields.String(load_default=None, validate=ma.validate.Length(max=4000))


def apply_repossession(ctx: MutationContext, data: dict) -> Repossession:
    record_id = str(data["id"])
    vehicle = _own(ctx, Collateral, data["collateral_id"], "collateral_id")
    if data["sighting_id"] is not None:
        _own(ctx, VehicleSighting, str(data["sighting_id"]), "sighting_id")
    if vehicle.repossession_status is RepossessionStatus.REPOSSESSED:
        raise InvalidInput(
            "This vehicle is already recorded as repossessed.",
            fields={"payload.collateral_id": ["already repossessed"]},
        )
    log = Repossession(
        **ctx.record_fields(record_id),
        collateral_id=vehicle.id,
        sighting_id=_str(data["sighting_id"]),
        recovered_at=data["recovered_at"],
        lat=data["lat"],
        lon=data["lon"],
        place_text=data["place_text"],
        towed_by=data["towed_by"],
        odometer_km=data["odometer_km"],
        condition=data["condition"],
    )
    ctx.session.add(log)
    vehicle.repossession_status = RepossessionStatus.REPOSSESSED
    declare_files(ctx, "repossession", record_id, data["files"])
    return log
