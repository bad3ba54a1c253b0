"""Case lists, the case file, and assignment."""

import marshmallow as ma

from api.extensions import Schema
from api.models import Bucket, CaseStatus, Relation
from api.services.casefile.reveal import PURPOSE_MAX, PURPOSE_MIN, RevealPurpose
from api.services.casefile.search import MAX_LENGTH, MIN_LENGTH
from schemas.common import PageArgsSchema, page_of


def _search_length(value: str) -> None:
    if not MIN_LENGTH <= len(value.strip()) <= MAX_LENGTH:
        raise ma.ValidationError(f"must be {MIN_LENGTH} to {MAX_LENGTH} characters")


class CaseQuerySchema(PageArgsSchema):
    q = ma.fields.String(
        validate=_search_length,
        metadata={
            "description": (
                f"search, {MIN_LENGTH}-{MAX_LENGTH} characters once trimmed: contract number, "
                "lender reference of the debtor, start of the debtor's name (case-sensitive), "
                "phone of the debtor or a contact (any common form: +86, spaces, hyphens), "
                "national ID (exact), plate (spaces and middle dot ignored), VIN or its last 6 "
                "characters. A query that could be several of these finds any of them; "
                "`matched_on` says which found each case"
            ),
            "example": "京A·D9203 5",
        },
    )
    team_id = ma.fields.Integer()
    collector_id = ma.fields.Integer()
    bucket = ma.fields.List(
        ma.fields.Enum(Bucket, by_value=True),
        metadata={"description": "repeat to match any of several"},
    )
    status = ma.fields.List(ma.fields.Enum(CaseStatus, by_value=True))
    dpd_min = ma.fields.Integer(validate=ma.validate.Range(min=0))
    dpd_max = ma.fields.Integer(validate=ma.validate.Range(min=0))
    unassigned = ma.fields.Boolean()
    near_lat = ma.fields.Float(
        validate=ma.validate.Range(min=-90, max=90),
        metadata={"description": "WGS84 latitude of the centre"},
    )
    near_lon = ma.fields.Float(validate=ma.validate.Range(min=-180, max=180))
    radius_m = ma.fields.Float(validate=ma.validate.Range(min=1, max=200_000))
    with_ = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(["location"])),
        data_key="with",
        load_default=list,
        metadata={
            "description": "extras on each item: `location`, the address a route plan visits "
            "by default (the debtor's home, else their first address with coordinates) with "
            "its WGS84 lat/lon, for a map; the audit row notes it",
            "example": ["location"],
        },
    )
    sort = ma.fields.String(
        load_default="-days_past_due",
        validate=ma.validate.OneOf(
            [
                f"{sign}{key}"
                for sign in ("", "-")
                for key in (
                    "days_past_due",
                    "overdue_fen",
                    "outstanding_fen",
                    "contract_no",
                    "next_due_on",
                    "id",
                    "distance",
                )
            ]
        ),
    )

    @ma.validates_schema
    def check(self, data, **kwargs):
        near = [k for k in ("near_lat", "near_lon", "radius_m") if k in data]
        if near and len(near) != 3:
            missing = {"near_lat", "near_lon", "radius_m"} - set(near)
            raise ma.ValidationError({k: ["needed with the other near_* fields"] for k in missing})
        if data.get("sort", "").lstrip("-") == "distance" and not near:
            raise ma.ValidationError({"sort": ["distance needs near_lat, near_lon, radius_m"]})
        if data.get("dpd_min", 0) > data.get("dpd_max", 10**9):
            raise ma.ValidationError({"dpd_min": ["greater than dpd_max"]})


class CaseSummarySchema(Schema):
    id = ma.fields.Integer()
    contract_no = ma.fields.String()
    product = ma.fields.String()
    debtor_name = ma.fields.String()
    status = ma.fields.String()
    bucket = ma.fields.String(metadata={"example": "M2"})
    days_past_due = ma.fields.Integer()
    reminder_class = ma.fields.String(metadata={"example": "B"})
    overdue_fen = ma.fields.Integer(metadata={"description": "integer fen (1/100 yuan)"})
    outstanding_fen = ma.fields.Integer()
    currency = ma.fields.String()
    next_due_on = ma.fields.Date(allow_none=True)
    team_id = ma.fields.Integer(allow_none=True)
    collector_id = ma.fields.Integer(allow_none=True)
    distance_m = ma.fields.Float(allow_none=True)


class CaseLocationSchema(Schema):
    address_id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"example": "home"})
    lat = ma.fields.Float(metadata={"description": "WGS84"})
    lon = ma.fields.Float()


class CaseListItemSchema(CaseSummarySchema):
    location = ma.fields.Nested(
        CaseLocationSchema,
        allow_none=True,
        metadata={"description": "with `with=location` only; null: no address has coordinates"},
    )
    matched_on = ma.fields.List(
        ma.fields.String(),
        metadata={
            "description": "with `q`: what the query matched (contract_no, lender_ref, name, "
            "phone, national_id, plate, vin, vin_serial)",
            "example": ["plate"],
        },
    )


class DebtorViewSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    name = ma.fields.String()
    national_id = ma.fields.String(
        metadata={"description": "full only for the assigned collector; otherwise last 4 digits"}
    )
    mobile_phone = ma.fields.String(allow_none=True)
    home_phone = ma.fields.String(allow_none=True)
    work_phone = ma.fields.String(allow_none=True)
    employer = ma.fields.String(allow_none=True)
    risk_notes = ma.fields.String(allow_none=True)
    timezone = ma.fields.String()
    masked = ma.fields.Boolean()


class ContactViewSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    name = ma.fields.String()
    relation = ma.fields.String()
    role = ma.fields.String()
    phone = ma.fields.String(allow_none=True)
    knows_of_loan = ma.fields.Boolean()
    may_discuss_debt = ma.fields.Boolean(
        metadata={"description": "false: say nothing about the debt to this person"}
    )
    third_party = ma.fields.Boolean(
        metadata={"description": "not a guarantor: contact only while the debtor is marked "
                  "unreachable, and record no amounts with them"}
    )


class AddressViewSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    kind = ma.fields.String()
    text = ma.fields.String()
    lat = ma.fields.Float(allow_none=True, metadata={"description": "WGS84"})
    lon = ma.fields.Float(allow_none=True)
    coord_source = ma.fields.String(allow_none=True)
    source_datum = ma.fields.String(allow_none=True)
    confirmed_at = ma.fields.DateTime(allow_none=True)
    contact_id = ma.fields.Integer(allow_none=True)


class InstalmentViewSchema(Schema):
    seq = ma.fields.Integer()
    due_on = ma.fields.Date()
    amount_fen = ma.fields.Integer()
    principal_fen = ma.fields.Integer()


class PaymentViewSchema(Schema):
    ref = ma.fields.String()
    paid_on = ma.fields.Date()
    amount_fen = ma.fields.Integer()
    method = ma.fields.String(allow_none=True)


class CollateralViewSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    kind = ma.fields.String()
    vin = ma.fields.String(allow_none=True)
    engine_no = ma.fields.String(allow_none=True)
    plate = ma.fields.String(allow_none=True)
    make = ma.fields.String(allow_none=True)
    model = ma.fields.String(allow_none=True)
    colour = ma.fields.String(allow_none=True)
    tracker_lat = ma.fields.Float(allow_none=True)
    tracker_lon = ma.fields.Float(allow_none=True)
    tracker_at = ma.fields.DateTime(allow_none=True)
    repossession_status = ma.fields.String()


class AssignmentViewSchema(Schema):
    team_id = ma.fields.Integer(allow_none=True)
    collector_id = ma.fields.Integer(allow_none=True)
    collector_name = ma.fields.String(allow_none=True)
    assigned_by_id = ma.fields.Integer(allow_none=True)
    assigned_by_name = ma.fields.String(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    started_at = ma.fields.DateTime()
    ended_at = ma.fields.DateTime(allow_none=True)


class FiguresSchema(Schema):
    figures_as_of = ma.fields.Date(allow_none=True)
    total_due_fen = ma.fields.Integer()
    paid_fen = ma.fields.Integer()
    overdue_fen = ma.fields.Integer()
    outstanding_fen = ma.fields.Integer()
    outstanding_principal_fen = ma.fields.Integer()
    penalty_fen = ma.fields.Integer()
    fees_fen = ma.fields.Integer()
    periods_overdue = ma.fields.Integer()
    penalty_basis = ma.fields.String(allow_none=True)
    lender_bucket = ma.fields.String(allow_none=True)


class CaseDetailSchema(CaseSummarySchema):
    principal_fen = ma.fields.Integer()
    disbursed_on = ma.fields.Date(allow_none=True)
    figures = ma.fields.Nested(FiguresSchema)
    debtor = ma.fields.Nested(DebtorViewSchema)
    contacts = ma.fields.List(ma.fields.Nested(ContactViewSchema))
    addresses = ma.fields.List(ma.fields.Nested(AddressViewSchema))
    schedule = ma.fields.List(ma.fields.Nested(InstalmentViewSchema))
    payments = ma.fields.List(ma.fields.Nested(PaymentViewSchema))
    collateral = ma.fields.List(ma.fields.Nested(CollateralViewSchema))
    assignments = ma.fields.List(ma.fields.Nested(AssignmentViewSchema))


class AssignSchema(Schema):
    collector_id = ma.fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "the collector to hold the case; null leaves it with the team"},
    )
    team_id = ma.fields.Integer(metadata={"description": "defaults to the collector's team"})
    reason = ma.fields.String(validate=ma.validate.Length(max=200))


class RevealSchema(Schema):
    purpose_code = ma.fields.Enum(
        RevealPurpose,
        by_value=True,
        required=True,
        metadata={"description": "why the full data is needed"},
    )
    purpose = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=PURPOSE_MIN, max=PURPOSE_MAX),
        metadata={
            "description": "the purpose in words (kept in the audit log)",
            "example": "Statement of claim to the Futian District People's Court",
        },
    )
    include_third_parties = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "also reveal the phones of contacts who are not guarantors (third "
            "parties); refused (`rule_breach`, rule `contacts_when_unreachable`) while the "
            "debtor is not marked unreachable, where the policy says so. Without it their "
            "phones come masked"
        },
    )


class RevealedDebtorSchema(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    national_id = ma.fields.String(metadata={"example": "440308199901101512"})
    mobile_phone = ma.fields.String(allow_none=True)
    home_phone = ma.fields.String(allow_none=True)
    work_phone = ma.fields.String(allow_none=True)


class RevealedContactSchema(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    relation = ma.fields.Enum(Relation, by_value=True)
    phone = ma.fields.String(allow_none=True)
    phone_masked = ma.fields.Boolean(
        metadata={"description": "true: a third party's phone, masked (ask with "
                  "`include_third_parties` once the debtor is marked unreachable)"}
    )
    knows_of_loan = ma.fields.Boolean(
        metadata={"description": "false: say nothing about the debt to this person"}
    )


class RevealedSchema(Schema):
    case_id = ma.fields.Integer()
    purpose_code = ma.fields.String()
    debtor = ma.fields.Nested(RevealedDebtorSchema)
    contacts = ma.fields.List(ma.fields.Nested(RevealedContactSchema))


CasePageSchema = page_of(CaseListItemSchema, "CasePage")
