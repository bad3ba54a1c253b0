"""What the field files, whether pushed from a phone or posted online: one payload schema per
record type. The same schema loads a push mutation's `payload` and an online request body."""

from __future__ import annotations

import marshmallow as ma

from api.extensions import Schema
from api.models import (
    AddressKind,
    Channel,
    ContactOutcome,
    EvidenceKind,
    NextStep,
    ProposalKind,
    Relation,
    VisitOutcome,
)
from api.models.vocabulary import (
    DELINQUENCY_REASONS,
    FILE_MIMES,
    FIX_PROVIDERS,
    MET,
    NOTICE_TYPES,
    PHONE_LABELS,
    PHONE_OWNERS,
    PROMISE_METHODS,
    RECEIPT_METHODS,
    SERVED_TO_ROLES,
    SERVICE_METHODS,
    UNREACHABLE_REASONS,
)
from api.services.fieldwork.promise_pdf import MAX_STROKE_POINTS
from api.services.geo import DATUMS

MAX_FILE = 200 * 1024 * 1024  # the largest file a record may declare
MAX_FILES = 50
MAX_FIXES = 100
MAX_STROKES, MAX_STROKE_LENGTH = 100, 1000  # a drawn signature: strokes, points in one


def one_of(values) -> ma.validate.OneOf:
    return ma.validate.OneOf(list(values))


class RecordSchema(Schema):
    id = ma.fields.UUID(required=True, metadata={"description": "client-generated record id"})
    case_id = ma.fields.Integer(required=True)


# --- contacts, notes, proposals -------------------------------------------------------------


class ContactAttemptSchema(RecordSchema):
    channel = ma.fields.Enum(Channel, by_value=True, required=True)
    outcome = ma.fields.Enum(ContactOutcome, by_value=True, required=True)
    occurred_at = ma.fields.AwareDateTime(required=True)
    contact_id = ma.fields.Integer(
        load_default=None,
        metadata={"description": "the contact reached; omit when it was the debtor"},
    )
    duration_s = ma.fields.Integer(load_default=None, validate=ma.validate.Range(0, 86400))
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=2000))


class CaseNoteSchema(RecordSchema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=4000))


class ReachabilitySchema(RecordSchema):
    """The debtor marked unreachable, or reachable again (compliance: contacts and third
    parties only while the debtor is marked unreachable)."""

    unreachable = ma.fields.Boolean(
        required=True, metadata={"description": "true: cannot be reached; false: reachable again"}
    )
    reason = ma.fields.String(
        load_default=None,
        validate=one_of(UNREACHABLE_REASONS),
        metadata={"description": "why the debtor cannot be reached; required when unreachable"},
    )
    since = ma.fields.AwareDateTime(
        load_default=None,
        metadata={"description": "unreachable since (default: the marking); not later than it"},
    )
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=2000))

    @ma.validates_schema
    def reason_only_when_unreachable(self, data, **kwargs):
        if data.get("unreachable") and not data.get("reason"):
            raise ma.ValidationError({"reason": ["required when marking unreachable"]})
        if data.get("unreachable") is False:
            given = [k for k in ("reason", "since") if data.get(k) is not None]
            if given:
                raise ma.ValidationError({k: ["only when marking unreachable"] for k in given})


class ProposedPhoneSchema(Schema):
    phone = ma.fields.String(required=True)
    belongs_to = ma.fields.String(load_default="debtor", validate=one_of(PHONE_OWNERS))
    contact_id = ma.fields.Integer(load_default=None)
    label = ma.fields.String(load_default="mobile", validate=one_of(PHONE_LABELS))


class ProposedAddressSchema(Schema):
    kind = ma.fields.Enum(AddressKind, by_value=True, required=True)
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=400))
    lat = ma.fields.Float(load_default=None, validate=ma.validate.Range(-90, 90))
    lon = ma.fields.Float(load_default=None, validate=ma.validate.Range(-180, 180))
    datum = ma.fields.String(load_default="WGS84", validate=one_of(DATUMS))


class ProposedContactSchema(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    relation = ma.fields.Enum(Relation, by_value=True, required=True)
    phone = ma.fields.String(load_default=None)
    knows_of_loan = ma.fields.Boolean(load_default=False)


PROPOSAL_SCHEMAS = {
    ProposalKind.PHONE: ProposedPhoneSchema,
    ProposalKind.ADDRESS: ProposedAddressSchema,
    ProposalKind.CONTACT: ProposedContactSchema,
}


class FieldProposalSchema(RecordSchema):
    kind = ma.fields.Enum(ProposalKind, by_value=True, required=True)
    data = ma.fields.Dict(
        required=True,
        metadata={
            "description": "the proposed phone, address or contact (by `kind`)",
            "one_of": list(PROPOSAL_SCHEMAS.values()),
        },
    )
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=2000))

    @ma.post_load
    def load_proposed(self, data, **kwargs):
        """The proposed record is checked against the schema of its kind."""
        try:
            data["data"] = PROPOSAL_SCHEMAS[data["kind"]]().load(data["data"])
        except ma.ValidationError as exc:
            raise ma.ValidationError({"data": exc.normalized_messages()}) from exc
        return data


# --- evidence declarations, fixes, places ---------------------------------------------------


class FileDeclarationSchema(Schema):
    id = ma.fields.UUID(required=True)
    kind = ma.fields.Enum(EvidenceKind, by_value=True, required=True)
    sha256 = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[0-9a-f]{64}$"))
    size = ma.fields.Integer(required=True, validate=ma.validate.Range(1, MAX_FILE))
    mime = ma.fields.String(required=True, validate=one_of(FILE_MIMES))
    captured_at = ma.fields.AwareDateTime(load_default=None)
    lat = ma.fields.Float(load_default=None, validate=ma.validate.Range(-90, 90))
    lon = ma.fields.Float(load_default=None, validate=ma.validate.Range(-180, 180))
    accuracy_m = ma.fields.Float(load_default=None, validate=ma.validate.Range(0, 100_000))


class FixSchema(Schema):
    lat = ma.fields.Float(required=True, validate=ma.validate.Range(-90, 90))
    lon = ma.fields.Float(required=True, validate=ma.validate.Range(-180, 180))
    accuracy_m = ma.fields.Float(required=True, validate=ma.validate.Range(0, 100_000))
    provider = ma.fields.String(load_default="gps", validate=one_of(FIX_PROVIDERS))
    mock = ma.fields.Boolean(load_default=False)
    fix_time = ma.fields.AwareDateTime(required=True)
    datum = ma.fields.String(load_default="WGS84", validate=one_of(DATUMS))


class CoCollectorSchema(Schema):
    user_id = ma.fields.Integer(required=True)
    attestation = ma.fields.String(
        required=True,
        validate=ma.validate.Length(max=400),
        metadata={"description": "the co-collector's signed presence (`POST /auth/cosign`)"},
    )


class PlaceMixin(Schema):
    """Where something happened, as the phone reported it (WGS84)."""

    lat = ma.fields.Float(load_default=None, validate=ma.validate.Range(-90, 90))
    lon = ma.fields.Float(load_default=None, validate=ma.validate.Range(-180, 180))


class EvidenceRecordSchema(RecordSchema):
    files = ma.fields.List(
        ma.fields.Nested(FileDeclarationSchema),
        load_default=list,
        validate=ma.validate.Length(max=MAX_FILES),
        metadata={"description": "files to upload afterwards (`PUT` to the upload target)"},
    )


# --- visit reports --------------------------------------------------------------------------


class VisitReportSchema(EvidenceRecordSchema):
    supersedes_id = ma.fields.UUID(
        load_default=None, metadata={"description": "the report this one corrects"}
    )
    address_id = ma.fields.Integer(load_default=None)
    started_at = ma.fields.AwareDateTime(required=True)
    ended_at = ma.fields.AwareDateTime(required=True)
    co_collectors = ma.fields.List(
        ma.fields.Nested(CoCollectorSchema), load_default=list, validate=ma.validate.Length(max=5)
    )
    fixes = ma.fields.List(
        ma.fields.Nested(FixSchema), load_default=list, validate=ma.validate.Length(max=MAX_FIXES)
    )
    met = ma.fields.String(required=True, validate=one_of(MET))
    met_contact_id = ma.fields.Integer(load_default=None)
    outcome = ma.fields.Enum(VisitOutcome, by_value=True, required=True)
    reason = ma.fields.String(load_default=None, validate=one_of(DELINQUENCY_REASONS))
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


class PresenceSchema(RecordSchema):
    """A collector records, on their own phone, that they are at the case's door. The server
    pairs it with the visit report that names them (or that they wrote) when both are in."""

    recorded_at = ma.fields.AwareDateTime(
        required=True, metadata={"description": "when the collector was at the door"}
    )
    lat = ma.fields.Float(required=True, validate=ma.validate.Range(-90, 90))
    lon = ma.fields.Float(required=True, validate=ma.validate.Range(-180, 180))
    accuracy_m = ma.fields.Float(required=True, validate=ma.validate.Range(0, 100_000))
    datum = ma.fields.String(load_default="WGS84", validate=one_of(DATUMS))
    mock = ma.fields.Boolean(
        load_default=False, metadata={"description": "a mock location: kept, never counted"}
    )


# --- promises, receipts, notices ------------------------------------------------------------


class PlanItemSchema(Schema):
    due_on = ma.fields.Date(required=True)
    amount_fen = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))


STROKES = (
    "The signature as drawn: a list of strokes (pen down to pen up), each a list of [x, y] "
    "points: finite numbers in any unit (device pixels are fine), y pointing down; the server "
    "scales the drawing into the signature box of the promise PDF, aspect kept. A stroke of one "
    f"point is a dot; at most {MAX_STROKE_POINTS} points in all. Give strokes or a `signature` "
    "image file. A point that is not [x, y] is answered `rejected` naming it."
)


class PromiseSchema(EvidenceRecordSchema, PlaceMixin):
    visit_report_id = ma.fields.UUID(load_default=None)
    plan = ma.fields.List(
        ma.fields.Nested(PlanItemSchema), required=True, validate=ma.validate.Length(min=1, max=60)
    )
    method = ma.fields.String(required=True, validate=one_of(PROMISE_METHODS))
    signer_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    signer_contact_id = ma.fields.Integer(
        load_default=None,
        metadata={"description": "the debtor's contact who signed (a guarantor); omit when "
                  "the debtor signed. A third party is refused (`third_party_no_amounts`)"},
    )
    signer_national_id = ma.fields.String(load_default=None)
    signature_strokes = ma.fields.List(
        ma.fields.List(
            ma.fields.List(
                ma.fields.Float(),
                validate=ma.validate.Length(equal=2),
                metadata={"minItems": 2, "maxItems": 2, "description": "a point: [x, y]"},
            ),
            validate=ma.validate.Length(max=MAX_STROKE_LENGTH),
            metadata={"description": "a stroke: its points in drawing order"},
        ),
        load_default=None,
        validate=ma.validate.Length(max=MAX_STROKES),
        metadata={
            "description": STROKES,
            "example": [[[12, 40], [30, 22], [51, 38]], [[60, 30]]],
        },
    )
    witness_name = ma.fields.String(load_default=None, validate=ma.validate.Length(max=120))
    place_text = ma.fields.String(load_default=None, validate=ma.validate.Length(max=400))
    signed_at = ma.fields.AwareDateTime(required=True)

    @ma.validates_schema
    def plan_in_order(self, data, **kwargs):
        dates = [item["due_on"] for item in data.get("plan", [])]
        if dates != sorted(set(dates)):
            raise ma.ValidationError({"plan": ["due dates must be distinct and increasing"]})


class ReceiptSchema(EvidenceRecordSchema):
    visit_report_id = ma.fields.UUID(load_default=None)
    receipt_no = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9-]{1,40}$")
    )
    amount_fen = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    method = ma.fields.String(required=True, validate=one_of(RECEIPT_METHODS))
    payer_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    payer_contact_id = ma.fields.Integer(
        load_default=None,
        metadata={"description": "the debtor's contact who paid (a guarantor); omit when the "
                  "debtor paid. A third party is refused (`third_party_no_amounts`)"},
    )
    received_at = ma.fields.AwareDateTime(required=True)


class NoticeSchema(EvidenceRecordSchema, PlaceMixin):
    visit_report_id = ma.fields.UUID(load_default=None)
    notice_type = ma.fields.String(required=True, validate=one_of(NOTICE_TYPES))
    served_to_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    served_to_role = ma.fields.String(required=True, validate=one_of(SERVED_TO_ROLES))
    served_to_contact_id = ma.fields.Integer(
        load_default=None,
        metadata={"description": "the debtor's contact it was served to, if one; refused "
                  "(`uninformed_contact_no_loan_data`) when they do not know of the loan"},
    )
    method = ma.fields.String(required=True, validate=one_of(SERVICE_METHODS))
    served_at = ma.fields.AwareDateTime(required=True)


# --- vehicles -------------------------------------------------------------------------------


class SightingSchema(EvidenceRecordSchema, PlaceMixin):
    collateral_id = ma.fields.Integer(required=True)
    vin_read = ma.fields.String(load_default=None, validate=ma.validate.Length(max=17))
    engine_no_read = ma.fields.String(load_default=None, validate=ma.validate.Length(max=20))
    plate_read = ma.fields.String(load_default=None, validate=ma.validate.Length(max=10))
    seen_at = ma.fields.AwareDateTime(required=True)
    place_text = ma.fields.String(load_default=None, validate=ma.validate.Length(max=400))
    notes = ma.fields.String(load_default=None, validate=ma.validate.Length(max=4000))


class RepossessionSchema(EvidenceRecordSchema, PlaceMixin):
    collateral_id = ma.fields.Integer(required=True)
    sighting_id = ma.fields.UUID(load_default=None)
    recovered_at = ma.fields.AwareDateTime(required=True)
    place_text = ma.fields.String(load_default=None, validate=ma.validate.Length(max=400))
    towed_by = ma.fields.String(load_default=None, validate=ma.validate.Length(max=120))
    odometer_km = ma.fields.Integer(load_default=None, validate=ma.validate.Range(0, 10_000_000))
    condition = ma.fields.String(load_default=None, validate=ma.validate.Length(max=4000))
