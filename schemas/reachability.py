"""The debtor's reachability on a case: its state, a suggestion, and the history of changes."""

from __future__ import annotations

import marshmallow as ma

from api.extensions import Schema
from api.models.vocabulary import UNREACHABLE_REASONS
from schemas.common import PageArgsSchema, PageMetaSchema

REASONS = "\n".join(f"- `{code}`: {label}" for code, label in UNREACHABLE_REASONS.items())


class ReachabilityStateSchema(Schema):
    unreachable = ma.fields.Boolean(
        metadata={"description": "true: marked unreachable, so the policy may allow contacting "
                  "its contacts; false: reachable (or never marked)"}
    )
    reason = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(list(UNREACHABLE_REASONS)),
        metadata={"description": "why the debtor cannot be reached:\n" + REASONS},
    )
    since = ma.fields.DateTime(allow_none=True, metadata={"description": "unreachable since"})
    note = ma.fields.String(allow_none=True)
    changed_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "when marked or cleared (the filer's clock)"}
    )
    changed_by_id = ma.fields.Integer(allow_none=True, metadata={"description": "who did it"})


class ReachabilityChangeSchema(ReachabilityStateSchema):
    id = ma.fields.String(metadata={"description": "the change's record id"})
    changed_by_name = ma.fields.String()
    received_at = ma.fields.DateTime(metadata={"description": "when the server received it"})
    device_id = ma.fields.String()


class ReachabilitySuggestionSchema(Schema):
    unreachable = ma.fields.Boolean()
    rule = ma.fields.String(metadata={"example": "contact_lost"})
    evidence = ma.fields.String(
        metadata={"example": "the debtor's last 3 calls since 2026-11-18: powered_off"}
    )


class CaseReachabilitySchema(Schema):
    case_id = ma.fields.Integer()
    state = ma.fields.Nested(ReachabilityStateSchema)
    suggestion = ma.fields.Nested(
        ReachabilitySuggestionSchema,
        allow_none=True,
        metadata={"description": "when the debtor is not marked unreachable but the calls say "
                  "contact is lost: a suggestion to mark it (never acted on by itself)"},
    )
    items = ma.fields.List(
        ma.fields.Nested(ReachabilityChangeSchema),
        metadata={"description": "the history of changes, newest first"},
    )
    page = ma.fields.Nested(PageMetaSchema)


class ReachabilityQuerySchema(PageArgsSchema):
    """The page of the history."""
