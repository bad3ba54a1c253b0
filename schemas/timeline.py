"""A case's timeline: field records, payments and assignments in time order."""

from __future__ import annotations

import enum
from datetime import date, datetime

import marshmallow as ma

from api.extensions import Schema
from api.services.casefile.timeline import TimelineKind
from schemas.common import PageArgsSchema, page_of


class TimelineQuerySchema(PageArgsSchema):
    kind = ma.fields.List(
        ma.fields.Enum(TimelineKind, by_value=True),
        metadata={"description": "only these kinds (repeat to choose several); all by default"},
    )
    order = ma.fields.String(
        load_default="desc",
        validate=ma.validate.OneOf(["desc", "asc"]),
        metadata={"description": "desc: newest first (default); asc: oldest first"},
    )


def _plain(value):
    """Dates as ISO 8601, enums as their values, all the way down."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class SummaryField(ma.fields.Dict):
    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else _plain(value)


SUMMARY_KEYS = {  # what `summary` holds, by kind
    "contact_attempt": "channel, outcome, contact_id, duration_s, note",
    "case_note": "text (first 200 characters)",
    "visit_report": "address_id, met, outcome, reason, next_step, follow_up_on, geofence, "
    "distance_m, promised_fen, collected_fen, supersedes_id, notes (first 200 characters), "
    "ended_at, collector_ids",
    "repayment_promise": "status, plan [{due_on, amount_fen}], total_fen, paid_toward_fen, "
    "remaining_fen, first_due_on, last_due_on, method, visit_report_id, signer_name",
    "field_receipt": "receipt_no, amount_fen, method, payer_name, visit_report_id",
    "notice_served": "notice_type, served_to_name, served_to_role, method, visit_report_id",
    "vehicle_sighting": "collateral_id, vin_match, engine_no_match, plate_match, place_text",
    "repossession": "collateral_id, sighting_id, place_text, towed_by, odometer_km",
    "field_proposal": "proposal_kind, status, reviewed_by_id, reviewed_at (the proposed "
    "detail itself is under /proposals)",
    "payment": "ref, paid_on, amount_fen, method",
    "assignment": "team_id, collector_id, collector_name, reason, ended_at",
}
SUMMARY_DESCRIPTION = "What the entry says, by kind (amounts in integer fen, times ISO 8601):\n" + \
    "\n".join(f"- `{kind}`: {keys}" for kind, keys in SUMMARY_KEYS.items())


class TimelineEntrySchema(Schema):
    kind = ma.fields.String(metadata={"enum": [k.value for k in TimelineKind]})
    at = ma.fields.DateTime(
        metadata={
            "description": "when it happened: occurred_at, started_at (visit, assignment), "
            "signed_at, received_at, served_at, seen_at, recovered_at, the note's or "
            "proposal's device time; a payment's paid_on at 00:00 in the debtor's time zone"
        }
    )
    record_id = ma.fields.String(
        metadata={"description": "the record's id (a UUID; payments and assignments: a number)"}
    )
    author_id = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "who filed it (assignment: who assigned; payment: none)"},
    )
    author_name = ma.fields.String(allow_none=True)
    flags = ma.fields.List(
        ma.fields.String(),
        metadata={"example": ["far_from_address", "case_reassigned"]},
    )
    summary = SummaryField(
        metadata={
            "description": SUMMARY_DESCRIPTION,
            "example": {"outcome": "promise_to_pay", "next_step": "revisit",
                        "follow_up_on": "2026-11-27", "geofence": "inside",
                        "distance_m": 12.4, "promised_fen": 500000, "collected_fen": None},
        }
    )


TimelinePageSchema = page_of(TimelineEntrySchema, "TimelinePage")
