"""Online filing: the request body is a push mutation's payload (`schemas.fieldwork`), with the
case taken from the path, the record id optional, and the client's clocks beside it."""

from __future__ import annotations

import marshmallow as ma

from api.extensions import Schema
from schemas import fieldwork


class OnlineFilingMixin(Schema):
    """What an online body adds to, or relaxes in, a push payload."""

    id = ma.fields.UUID(
        load_default=None,
        metadata={
            "description": "the record's id, chosen by the client so a retry is recognised "
            "(409 `already_filed`); the server generates one when absent"
        },
    )
    case_id = ma.fields.Integer(
        load_default=None,
        metadata={"description": "optional; when given it must be the case in the path"},
    )
    client_time = ma.fields.AwareDateTime(
        load_default=None,
        metadata={
            "description": "when the record was made on the client (with offset); default "
            "`device_time`, else the server's receive time"
        },
    )
    device_time = ma.fields.AwareDateTime(
        load_default=None,
        metadata={
            "description": "the client's clock when sending; a large offset from the "
            "server's is flagged (`device_clock_offset`), as on a push"
        },
    )


def online(payload: type[ma.Schema], name: str) -> type[ma.Schema]:
    """The online body of `payload`, named `name` in OpenAPI."""
    return type(name, (OnlineFilingMixin, payload), {})


OnlineVisitSchema = online(fieldwork.VisitReportSchema, "OnlineVisitReportSchema")
OnlinePromiseSchema = online(fieldwork.PromiseSchema, "OnlinePromiseSchema")
OnlineReceiptSchema = online(fieldwork.ReceiptSchema, "OnlineReceiptSchema")
OnlineNoticeSchema = online(fieldwork.NoticeSchema, "OnlineNoticeSchema")
OnlineSightingSchema = online(fieldwork.SightingSchema, "OnlineSightingSchema")
OnlineRepossessionSchema = online(fieldwork.RepossessionSchema, "OnlineRepossessionSchema")
OnlineContactAttemptSchema = online(fieldwork.ContactAttemptSchema, "OnlineContactAttemptSchema")
OnlineCaseNoteSchema = online(fieldwork.CaseNoteSchema, "OnlineCaseNoteSchema")
OnlineFieldProposalSchema = online(fieldwork.FieldProposalSchema, "OnlineFieldProposalSchema")
OnlinePresenceSchema = online(fieldwork.PresenceSchema, "OnlinePresenceSchema")
OnlineReachabilitySchema = online(fieldwork.ReachabilitySchema, "OnlineReachabilitySchema")


class FiledSchema(Schema):
    type = ma.fields.String(
        metadata={"example": "visit_report", "description": "the record type (as in a push)"}
    )
    record_id = ma.fields.String(metadata={"example": "0b6d2c1e-8f4a-4c1b-9d2e-3a5f6b7c8d9e"})
    flags = ma.fields.List(
        ma.fields.String(),
        metadata={
            "example": ["outside_visit_hours", "too_few_collectors"],
            "description": "exceptions the rules found (never a refusal); see docs/sync.md",
        },
    )
