"""Field proposals and their review."""

import json

import marshmallow as ma

from api.extensions import Schema
from api.models import ProposalStatus
from schemas.common import PageArgsSchema, page_of


class ProposalQuerySchema(PageArgsSchema):
    status = ma.fields.Enum(ProposalStatus, by_value=True)


class ProposalSchema(Schema):
    id = ma.fields.String()
    case_id = ma.fields.Integer()
    author_id = ma.fields.Integer()
    device_id = ma.fields.String()
    kind = ma.fields.Function(lambda p: p.kind.value)
    data = ma.fields.Function(lambda p: json.loads(p.data))
    note = ma.fields.String(allow_none=True)
    status = ma.fields.Enum(ProposalStatus, by_value=True)
    client_time = ma.fields.DateTime()
    received_at = ma.fields.DateTime()
    case_reassigned = ma.fields.Boolean()
    reviewed_by_id = ma.fields.Integer(allow_none=True)
    reviewed_at = ma.fields.DateTime(allow_none=True)
    review_note = ma.fields.String(allow_none=True)


class ReviewSchema(Schema):
    decision = ma.fields.String(required=True, validate=ma.validate.OneOf(["accept", "reject"]))
    note = ma.fields.String(validate=ma.validate.Length(max=200))


ProposalPageSchema = page_of(ProposalSchema, "ProposalPage")
