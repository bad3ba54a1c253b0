"""Field records read back: list filters, summaries and details of visit reports, promises,
receipts, notices served, vehicle sightings and repossessions."""

import marshmallow as ma

from api.extensions import Schema
from api.models import Geofence, PromiseStatus, VisitOutcome
from api.models.vocabulary import FLAGS
from schemas.common import PageArgsSchema, page_of
from schemas.evidence import EvidenceFileSchema

MAX_ID = 2**31 - 1


def row_id(description: str) -> ma.fields.Integer:
    return ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=MAX_ID), metadata={"description": description}
    )


def sort_field(keys: list[str], default: str) -> ma.fields.String:
    return ma.fields.String(
        load_default=default,
        validate=ma.validate.OneOf([f"{sign}{k}" for sign in ("", "-") for k in keys]),
        metadata={"description": "a key, or -key for descending"},
    )


def date_range_check(data: dict, start: str, end: str) -> None:
    if data.get(start) and data.get(end) and data[end] < data[start]:
        raise ma.ValidationError({end: [f"before {start}"]})


class RecordQuerySchema(PageArgsSchema):
    page = ma.fields.Integer(
        load_default=1,
        validate=ma.validate.Range(min=1, max=100_000),
        metadata={"description": "1-based page number"},
    )
    team_id = row_id("the case's team")
    collector_id = row_id("the collector who filed the record")
    case_id = row_id("one case")


class VisitQuerySchema(RecordQuerySchema):
    date_from = ma.fields.Date(
        metadata={"description": "first debtor-local day of `started_at` (inclusive)"}
    )
    date_to = ma.fields.Date(metadata={"description": "last debtor-local day (inclusive)"})
    outcome = ma.fields.Enum(VisitOutcome, by_value=True)
    flag = ma.fields.String(
        validate=ma.validate.OneOf(list(FLAGS)),
        metadata={"description": "reports carrying this flag", "example": "far_from_address"},
    )
    geofence = ma.fields.Enum(Geofence, by_value=True)
    sort = sort_field(["started_at", "received_at"], "-started_at")

    @ma.validates_schema
    def check(self, data, **kwargs):
        date_range_check(data, "date_from", "date_to")


class PromiseQuerySchema(RecordQuerySchema):
    status = ma.fields.Enum(PromiseStatus, by_value=True)
    due_from = ma.fields.Date(
        metadata={"description": "promises whose payment plan runs into [due_from, due_to]"}
    )
    due_to = ma.fields.Date()
    sort = sort_field(["signed_at", "first_due_on", "received_at"], "-signed_at")

    @ma.validates_schema
    def check(self, data, **kwargs):
        date_range_check(data, "due_from", "due_to")


class ReceiptQuerySchema(RecordQuerySchema):
    sort = sort_field(["paid_at", "received_at"], "-paid_at")


class NoticeQuerySchema(RecordQuerySchema):
    sort = sort_field(["served_at", "received_at"], "-served_at")


class SightingQuerySchema(RecordQuerySchema):
    collateral_id = row_id("one vehicle or machine")
    mismatch = ma.fields.Boolean(
        metadata={"description": "true: the VIN or engine number read differs from the file"}
    )
    sort = sort_field(["seen_at", "received_at"], "-seen_at")


class RepossessionQuerySchema(RecordQuerySchema):
    collateral_id = row_id("one vehicle or machine")
    sort = sort_field(["recovered_at", "received_at"], "-recovered_at")


# --- views ----------------------------------------------------------------------------------


class RecordSummarySchema(Schema):
    id = ma.fields.String(metadata={"example": "0b6f3c1e-4d4e-4a43-9d43-6a3c2f9f1a10"})
    case_id = ma.fields.Integer()
    contract_no = ma.fields.String()
    debtor_name = ma.fields.String()
    team_id = ma.fields.Integer(allow_none=True, metadata={"description": "the case's team"})
    author_id = ma.fields.Integer()
    author_name = ma.fields.String(allow_none=True)
    device_id = ma.fields.String()
    client_time = ma.fields.AwareDateTime(metadata={"description": "the phone's clock"})
    received_at = ma.fields.AwareDateTime()
    case_reassigned = ma.fields.Boolean(
        metadata={"description": "the case had left the author when the record arrived"}
    )
    flags = ma.fields.List(
        ma.fields.String(), metadata={"example": ["outside_visit_hours", "too_few_collectors"]}
    )
    policy_ref = ma.fields.String(allow_none=True, metadata={
        "example": "cn-default@1",
        "description": "the compliance policy version its flags were judged under"})
    files_declared = ma.fields.Integer()
    files_uploaded = ma.fields.Integer(metadata={"description": "received and verified"})


class RecordDetailMixin(Schema):
    files = ma.fields.List(ma.fields.Nested(EvidenceFileSchema))


class CoCollectorViewSchema(Schema):
    user_id = ma.fields.Integer()
    name = ma.fields.String(allow_none=True)
    verified = ma.fields.Boolean(
        metadata={"description": "their presence is verified, by either way below"}
    )
    cosigned = ma.fields.Boolean(
        metadata={"description": "they attested on the lead's phone (`POST /auth/cosign`)"}
    )
    presence_id = ma.fields.String(
        allow_none=True,
        metadata={"description": "the presence they recorded on their own phone that paired "
                  "with this visit (`visit_presence`), once it has arrived"},
    )


class VisitSummarySchema(RecordSummarySchema):
    started_at = ma.fields.AwareDateTime()
    ended_at = ma.fields.AwareDateTime()
    local_day = ma.fields.Date(
        allow_none=True, metadata={"description": "the debtor-local day of started_at"}
    )
    address_id = ma.fields.Integer(allow_none=True)
    met = ma.fields.String()
    outcome = ma.fields.String(metadata={"example": "promise_to_pay"})
    reason = ma.fields.String(allow_none=True)
    promised_fen = ma.fields.Integer(allow_none=True)
    collected_fen = ma.fields.Integer(allow_none=True)
    next_step = ma.fields.String()
    follow_up_on = ma.fields.Date(allow_none=True)
    lat = ma.fields.Float(allow_none=True, metadata={"description": "the best fix, WGS84"})
    lon = ma.fields.Float(allow_none=True)
    accuracy_m = ma.fields.Float(allow_none=True)
    distance_m = ma.fields.Float(
        allow_none=True, metadata={"description": "from the best fix to the visited address"}
    )
    geofence = ma.fields.String(metadata={"example": "inside"})
    collector_ids = ma.fields.List(
        ma.fields.Integer(), metadata={"description": "verified collectors present, author first"}
    )
    co_collectors = ma.fields.List(ma.fields.Nested(CoCollectorViewSchema))
    supersedes_id = ma.fields.String(allow_none=True)
    superseded_by = ma.fields.List(ma.fields.String())


class FixViewSchema(Schema):
    lat = ma.fields.Float(metadata={"description": "WGS84"})
    lon = ma.fields.Float()
    accuracy_m = ma.fields.Float()
    provider = ma.fields.String()
    mock = ma.fields.Boolean()
    fix_time = ma.fields.String()
    reported = ma.fields.Dict(metadata={"description": "as the phone sent it, with its datum"})


class VisitedAddressSchema(Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    text = ma.fields.String()
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    confirmed_at = ma.fields.AwareDateTime(allow_none=True)


class PresenceViewSchema(Schema):
    id = ma.fields.String()
    collector_id = ma.fields.Integer(metadata={"description": "who recorded being there"})
    device_id = ma.fields.String(metadata={"description": "on their own phone"})
    recorded_at = ma.fields.AwareDateTime()
    lat = ma.fields.Float(metadata={"description": "WGS84"})
    lon = ma.fields.Float()
    accuracy_m = ma.fields.Float()
    received_at = ma.fields.AwareDateTime()


class VisitDetailSchema(VisitSummarySchema, RecordDetailMixin):
    presences = ma.fields.List(
        ma.fields.Nested(PresenceViewSchema),
        metadata={"description": "the presences recorded on the collectors' own phones that "
                  "paired with this visit (`visit_presence`), the author's included"},
    )
    notes = ma.fields.String(allow_none=True)
    met_contact_id = ma.fields.Integer(allow_none=True)
    device_clock_offset_s = ma.fields.Float(allow_none=True)
    fixes = ma.fields.List(ma.fields.Nested(FixViewSchema))
    address = ma.fields.Nested(VisitedAddressSchema, allow_none=True)
    promise_ids = ma.fields.List(ma.fields.String())
    receipt_ids = ma.fields.List(ma.fields.String())
    notice_ids = ma.fields.List(ma.fields.String())


class PromiseSummarySchema(RecordSummarySchema):
    visit_report_id = ma.fields.String(allow_none=True)
    signer_name = ma.fields.String()
    signer_national_id = ma.fields.String(
        allow_none=True,
        metadata={"description": "last 4 digits only", "example": "**************1512"},
    )
    total_fen = ma.fields.Integer()
    paid_toward_fen = ma.fields.Integer()
    due_fen = ma.fields.Integer(metadata={"description": "still due: total - paid toward it"})
    status = ma.fields.String(metadata={"description": "pending|kept|partly_kept|broken"})
    first_due_on = ma.fields.Date()
    last_due_on = ma.fields.Date()
    method = ma.fields.String()
    signed_at = ma.fields.AwareDateTime()


class InstalmentPlanSchema(Schema):
    due_on = ma.fields.String(metadata={"example": "2026-12-01"})
    amount_fen = ma.fields.Integer()


class PromiseDetailSchema(PromiseSummarySchema, RecordDetailMixin):
    plan = ma.fields.List(ma.fields.Nested(InstalmentPlanSchema))
    witness_name = ma.fields.String(allow_none=True)
    place_text = ma.fields.String(allow_none=True)
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    pdf_file_id = ma.fields.String(allow_none=True)
    pdf_sha256 = ma.fields.String(allow_none=True)
    signature_file_id = ma.fields.String(allow_none=True)
    has_signature_strokes = ma.fields.Boolean()


class ReceiptSummarySchema(RecordSummarySchema):
    paid_at = ma.fields.AwareDateTime(metadata={"description": "when the money was taken"})
    visit_report_id = ma.fields.String(allow_none=True)
    receipt_no = ma.fields.String()
    amount_fen = ma.fields.Integer()
    method = ma.fields.String()
    payer_name = ma.fields.String()


class NoticeSummarySchema(RecordSummarySchema):
    visit_report_id = ma.fields.String(allow_none=True)
    notice_type = ma.fields.String()
    served_to_name = ma.fields.String()
    served_to_role = ma.fields.String()
    method = ma.fields.String()
    served_at = ma.fields.AwareDateTime()
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)


class SightingSummarySchema(RecordSummarySchema):
    collateral_id = ma.fields.Integer()
    vin_read = ma.fields.String(allow_none=True)
    engine_no_read = ma.fields.String(allow_none=True)
    plate_read = ma.fields.String(allow_none=True)
    vin_match = ma.fields.Boolean(allow_none=True, metadata={"description": "null: not read"})
    engine_no_match = ma.fields.Boolean(allow_none=True)
    plate_match = ma.fields.Boolean(allow_none=True)
    seen_at = ma.fields.AwareDateTime()
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    place_text = ma.fields.String(allow_none=True)
    notes = ma.fields.String(allow_none=True)


class RepossessionSummarySchema(RecordSummarySchema):
    collateral_id = ma.fields.Integer()
    sighting_id = ma.fields.String(allow_none=True)
    recovered_at = ma.fields.AwareDateTime()
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    place_text = ma.fields.String(allow_none=True)
    towed_by = ma.fields.String(allow_none=True)
    odometer_km = ma.fields.Integer(allow_none=True)
    condition = ma.fields.String(allow_none=True)


def detail_of(summary: type[ma.Schema], name: str) -> type[ma.Schema]:
    return type(name, (summary, RecordDetailMixin), {})


VisitPageSchema = page_of(VisitSummarySchema, "VisitPage")
PromisePageSchema = page_of(PromiseSummarySchema, "PromisePage")
ReceiptPageSchema = page_of(ReceiptSummarySchema, "ReceiptPage")
ReceiptDetailSchema = detail_of(ReceiptSummarySchema, "ReceiptDetail")
NoticePageSchema = page_of(NoticeSummarySchema, "NoticePage")
NoticeDetailSchema = detail_of(NoticeSummarySchema, "NoticeDetail")
SightingPageSchema = page_of(SightingSummarySchema, "SightingPage")
SightingDetailSchema = detail_of(SightingSummarySchema, "SightingDetail")
RepossessionPageSchema = page_of(RepossessionSummarySchema, "RepossessionPage")
RepossessionDetailSchema = detail_of(RepossessionSummarySchema, "RepossessionDetail")
