"""The exceptions feed: its filters, its items, acting on them, and a scan's counts."""

import marshmallow as ma

from api.extensions import Schema
from api.models import ExceptionActor, ExceptionKind, ExceptionState
from api.services.supervision.exceptions_feed import ACTIONS
from api.services.supervision.exceptions_feed.feed import NOTE_MAX
from schemas.common import PageArgsSchema, page_of
from schemas.records import row_id

KINDS = ", ".join(k.value for k in ExceptionKind)


class ExceptionQuerySchema(PageArgsSchema):
    team_id = row_id("the item's team (its case's; a phone's: its owner's)")
    kind = ma.fields.List(
        ma.fields.Enum(ExceptionKind, by_value=True),
        metadata={"description": f"repeat to match any of several: {KINDS}",
                  "example": ["promise_broken"]},
    )
    state = ma.fields.List(
        ma.fields.Enum(ExceptionState, by_value=True),
        metadata={"description": "repeat to match any of several", "example": ["open"]},
    )
    case_id = row_id("one case")
    collector_id = row_id("the collector concerned")


class ExceptionItemSchema(Schema):
    id = ma.fields.Integer(metadata={"example": 412})
    kind = ma.fields.Enum(ExceptionKind, by_value=True)
    subject_type = ma.fields.String(
        metadata={"description": "visit_report, repayment_promise, device, field_proposal or "
                  "evidence_file", "example": "repayment_promise"}
    )
    subject_id = ma.fields.String(
        metadata={"description": "the id of the visit, promise, phone, proposal or file",
                  "example": "0d6f6a3e-3c1b-4a8e-9a59-5b0c2f1e7d42"}
    )
    case_id = ma.fields.Integer(allow_none=True, metadata={"description": "none for a phone"})
    contract_no = ma.fields.String(allow_none=True, metadata={"example": "HT-2025-000123"})
    debtor_name = ma.fields.String(allow_none=True)
    team_id = ma.fields.Integer(allow_none=True)
    collector_id = ma.fields.Integer(allow_none=True)
    collector_name = ma.fields.String(allow_none=True)
    actor = ma.fields.Enum(
        ExceptionActor, by_value=True,
        metadata={"description": "who should act: the team's supervisors, the collector, or "
                  "legal staff"},
    )
    action = ma.fields.String(
        metadata={"description": "what resolves it: " + ", ".join(ACTIONS),
                  "example": "call_debtor"}
    )
    action_text = ma.fields.String(
        metadata={"example": ACTIONS["call_debtor"]}
    )
    detail = ma.fields.Dict(
        metadata={"description": "facts of the kind (distance_m, due_on, amount_fen...)",
                  "example": {"status": "broken", "total_fen": 500000, "paid_toward_fen": 0,
                              "due_so_far_fen": 300000}}
    )
    occurred_at = ma.fields.AwareDateTime(
        metadata={"description": "when the condition arose: the visit's start, the start of "
                  "the debtor-local day the promise broke or falls due, the phone's last sync, "
                  "the proposal's or the file's arrival"}
    )
    detected_at = ma.fields.AwareDateTime(metadata={"description": "when a scan found it"})
    state = ma.fields.Enum(ExceptionState, by_value=True)
    acknowledged_by_id = ma.fields.Integer(allow_none=True)
    acknowledged_by_name = ma.fields.String(allow_none=True)
    acknowledged_at = ma.fields.AwareDateTime(allow_none=True)
    acknowledge_note = ma.fields.String(allow_none=True)
    resolved_by_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "none when a scan found it cleared"}
    )
    resolved_by_name = ma.fields.String(allow_none=True)
    resolved_at = ma.fields.AwareDateTime(allow_none=True)
    auto_resolved = ma.fields.Boolean()
    resolution_note = ma.fields.String(allow_none=True)


ExceptionPageSchema = page_of(ExceptionItemSchema, "ExceptionPage")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("must not be blank")


class AcknowledgeSchema(Schema):
    note = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(max=NOTE_MAX),
        metadata={"example": "Called Li Wei, he is on it this afternoon."},
    )


class ResolveSchema(Schema):
    note = ma.fields.String(
        required=True,
        validate=[ma.validate.Length(min=1, max=NOTE_MAX), _not_blank],
        metadata={"description": "how it was resolved (required)",
                  "example": "Visit reviewed: the debtor met us at the shop next door."},
    )


class KindCountsSchema(Schema):
    opened = ma.fields.Integer()
    resolved = ma.fields.Integer()


class ScanResultSchema(Schema):
    as_of = ma.fields.AwareDateTime()
    team_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "the team scanned; none: every team"}
    )
    opened = ma.fields.Integer(metadata={"description": "items opened or reopened"})
    resolved = ma.fields.Integer(metadata={"description": "items found cleared"})
    promises_rejudged = ma.fields.Integer(
        metadata={"description": "pending promises judged again that changed status"}
    )
    kinds = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(KindCountsSchema),
        metadata={"example": {"promise_broken": {"opened": 3, "resolved": 1}}},
    )
