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


class ShardReportSchema(Schema):
    shard = ma.fields.Integer()
    rows = ma.fields.Integer()
    last_id = ma.fields.Integer(allow_none=True)
    ok = ma.fields.Boolean()
    first_bad_id = ma.fields.Integer(allow_none=True)
    reason = ma.fields.String()


class ChainReportSchema(Schema):
    ok = ma.fields.Boolean()
    rows = ma.fields.Integer()
    first_bad_id = ma.fields.Integer(allow_none=True, metadata={
        "description": "The first row (lowest id) that does not fit its shard's chain"})
    reason = ma.fields.String(metadata={
        "example": "the row before it was deleted (no row has its previous hash)"})
    shards = ma.fields.List(ma.fields.Nested(ShardReportSchema))
    statements = ma.fields.Integer(metadata={"description": "Signed head statements checked"})
    problems = ma.fields.List(ma.fields.String(), metadata={
        "description": "Signed head statements whose signature does not verify"})
    warnings = ma.fields.List(ma.fields.String())


class SignedHeadsSchema(Schema):
    id = ma.fields.Integer(allow_none=True)
    statement = ma.fields.String(metadata={
        "description": "Canonical JSON, the bytes signed: every shard's last id, last hash, "
                       "row count and time, the signing time and the Ed25519 public key"})
    signature = ma.fields.String(metadata={"description": "Ed25519, base64"})
    key_id = ma.fields.Integer()


class AuditHeadsSchema(Schema):
    latest = ma.fields.Nested(SignedHeadsSchema, allow_none=True, metadata={
        "description": "The latest signed head statement (`fieldvisit audit heads` signs one)"})
    public_keys = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), metadata={
        "description": "Each audit key id's Ed25519 public key (base64 raw)"})


AuditPageSchema = page_of(AuditEventSchema, "AuditPage")
