"""Bulk assignment, the unassigned-case queue and visit suggestions (supervisors)."""

import marshmallow as ma

from api.extensions import Schema
from api.models import Bucket
from api.services.supervision.assignment import MAX_CASES, REASON_TEXT_MAX, ReasonCode
from api.services.supervision.suggestions import RULES
from schemas.common import PageArgsSchema, PageMetaSchema, page_of


class BulkAssignSchema(Schema):
    case_ids = ma.fields.List(
        ma.fields.Integer(validate=ma.validate.Range(min=1)),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_CASES),
        metadata={
            "description": f"1 to {MAX_CASES} distinct case ids; all are assigned or none",
            "example": [101, 102, 103],
        },
    )
    collector_id = ma.fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "the collector to hold the cases; null leaves them with the "
                  "team, unassigned (the queue)", "example": 17},
    )
    team_id = ma.fields.Integer(
        metadata={"description": "administrators: the team to move the cases to (defaults to "
                  "the collector's team; without a collector, each case keeps its team)"},
    )
    reason = ma.fields.String(
        required=True,
        validate=[ma.validate.Length(min=1, max=REASON_TEXT_MAX),
                  ma.validate.Regexp(r"\S", error="must not be blank")],
        metadata={"description": 'why, kept in each case\'s history; an accepted suggestion '
                  'is "suggestion:<rule id>"', "example": "suggestion:calls_failed"},
    )
    reason_code = ma.fields.Enum(
        ReasonCode,
        by_value=True,
        metadata={"description": "why, from the vocabulary; stored as \"<code>: <reason>\""},
    )


class BulkAssignResultSchema(Schema):
    assigned = ma.fields.Integer(required=True, metadata={"description": "cases that changed "
                                 "hands (a history row each; phones updated)"})
    unchanged = ma.fields.Integer(required=True, metadata={"description": "cases already there"})
    assigned_case_ids = ma.fields.List(ma.fields.Integer(), required=True)
    unchanged_case_ids = ma.fields.List(ma.fields.Integer(), required=True)
    team_id = ma.fields.Integer(
        required=True, allow_none=True,
        metadata={"description": "null: each case kept its own team"})
    collector_id = ma.fields.Integer(required=True, allow_none=True)
    reason = ma.fields.String(required=True, metadata={"description": "as kept in the history"})


class QueueQuerySchema(PageArgsSchema):
    team_id = ma.fields.Integer(metadata={"description": "supervisors: only their own"})
    bucket = ma.fields.List(
        ma.fields.Enum(Bucket, by_value=True),
        metadata={"description": "repeat to match any of several"},
    )


class QueueItemSchema(Schema):
    id = ma.fields.Integer()
    contract_no = ma.fields.String()
    product = ma.fields.String()
    debtor_name = ma.fields.String()
    status = ma.fields.String()
    bucket = ma.fields.String(metadata={"example": "M2"})
    days_past_due = ma.fields.Integer()
    overdue_fen = ma.fields.Integer(metadata={"description": "integer fen (1/100 yuan)"})
    outstanding_fen = ma.fields.Integer()
    currency = ma.fields.String()
    team_id = ma.fields.Integer(allow_none=True)
    collector_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "set only when the holder is inactive"})
    holder_inactive = ma.fields.Boolean(
        metadata={"description": "held by a deactivated collector: nobody works it"})
    promise_broken = ma.fields.Boolean(
        metadata={"description": "the latest repayment promise was broken or partly kept"})
    last_visit_on = ma.fields.Date(allow_none=True, metadata={"description": "debtor-local"})


class SuggestionQuerySchema(PageArgsSchema):
    team_id = ma.fields.Integer(
        metadata={"description": "required for administrators; supervisors: their own team"})
    rule = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(list(RULES))),
        metadata={"description": "only cases matched by one of these rules (repeat for more)"},
    )
    unassigned = ma.fields.Boolean(
        metadata={"description": "true: only cases nobody holds; false: only held ones"})


class RuleSchema(Schema):
    id = ma.fields.String(metadata={"example": "calls_failed"})
    sentence = ma.fields.String()


class FindingSchema(RuleSchema):
    detail = ma.fields.String(
        metadata={"description": "the evidence", "example": "4 failed calls since 2026-11-18 "
                  "(none connected); last visit never"})


class CandidateSchema(Schema):
    collector_id = ma.fields.Integer()
    full_name = ma.fields.String()
    distance_m = ma.fields.Float(
        allow_none=True,
        metadata={"description": "geodesic metres from their base to the address to visit; "
                  "null if either is not located"})
    open_cases = ma.fields.Integer(metadata={"description": "open cases they hold now"})
    planned = ma.fields.Integer(
        metadata={"description": "cases suggested to them earlier in this list"})
    cost = ma.fields.Float(
        metadata={"description": "km from base + km_per_open_case x (open_cases + planned); "
                  "the lowest is suggested"})


class SuggestedCollectorSchema(CandidateSchema):
    why = ma.fields.String(metadata={"example": "lowest cost of 4 collectors (km from base + "
                           "0.1 per open case): 3.2 km from base, the nearest of 4 located; "
                           "41 open cases"})


class VisitAddressSchema(Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    text = ma.fields.String()
    lat = ma.fields.Float(metadata={"description": "WGS84"})
    lon = ma.fields.Float()


class SuggestionSchema(Schema):
    case_id = ma.fields.Integer()
    contract_no = ma.fields.String()
    debtor_name = ma.fields.String()
    bucket = ma.fields.String()
    days_past_due = ma.fields.Integer()
    overdue_fen = ma.fields.Integer()
    collector_id = ma.fields.Integer(allow_none=True, metadata={"description": "holder now"})
    address = ma.fields.Nested(VisitAddressSchema, allow_none=True,
                               metadata={"description": "the located address to visit"})
    rules = ma.fields.List(ma.fields.Nested(FindingSchema),
                           metadata={"description": "every rule that matched, most urgent first"})
    suggested_collector = ma.fields.Nested(SuggestedCollectorSchema, allow_none=True)
    candidates = ma.fields.List(ma.fields.Nested(CandidateSchema),
                                metadata={"description": "the best few, for an edit"})
    dispatch_blocked = ma.fields.String(
        allow_none=True,
        metadata={"description": "why nobody may be sent to the case today (an open "
                  "complaint, or no collector authorised for its lender and jurisdiction); "
                  "null when a collector is suggested"})
    accept_reason = ma.fields.String(
        metadata={"description": "the `reason` to POST to /assignments to accept",
                  "example": "suggestion:promise_broken"})


class SuggestionPageSchema(Schema):
    as_of = ma.fields.DateTime()
    rules = ma.fields.List(ma.fields.Nested(RuleSchema),
                           metadata={"description": "every rule, with its thresholds"})
    items = ma.fields.List(ma.fields.Nested(SuggestionSchema))
    page = ma.fields.Nested(PageMetaSchema)


QueuePageSchema = page_of(QueueItemSchema, "AssignmentQueuePage")
