"""The audit log, for administrators."""

import marshmallow as ma

from api.extensions import Schema
from schemas.common import PageArgsSchema, page_of


class AuditQuerySchema(PageArgsSchema):
    case_id = ma.fields.Integer()
    actor_id = ma.fields.Integer()
    action = ma.fields.String(validate=ma.validate.Length(max=40))


class AuditEventSchema(Schema):
    id = ma.fields.Integer()
    occurred_at = ma.fields.DateTime()
    actor_id = ma.fields.Integer(allow_none=True)
    device_id = ma.fields.String(allow_none=True)
    action = ma.fields.String(metadata={"example": "case.read"})
    case_id = ma.fields.Integer(allow_none=True)
    detail = ma.fields.String(metadata={"description": "JSON text"})
    prev_hash = ma.fields.String()
    hash = ma.fields.String()


class ChainReportSchema(Schema):
    ok = ma.fields.Boolean()
    rows = ma.fields.Integer()
    first_bad_id = ma.fields.Integer(allow_none=True)
    reason = ma.fields.String()


AuditPageSchema = page_of(AuditEventSchema, "AuditPage")
