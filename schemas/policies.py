"""Compliance policies as the API shows and takes them (api/resources/policies.py)."""

import dataclasses

import marshmallow as ma

from api.config import Policy
from api.extensions import Schema
from api.services.compliance.catalogue import RULES
from api.services.compliance.policies import IDENTITY
from api.services.compliance.presets import PRESETS
from schemas.common import PageArgsSchema, in_years, page_of

_TYPES = {"str": ma.fields.String, "int": ma.fields.Integer, "float": ma.fields.Float,
          "bool": ma.fields.Boolean}
CAPS = ("daily_attempt_cap", "weekly_attempt_cap")  # None: no cap
RULE_FIELDS = [f for f in dataclasses.fields(Policy) if f.name not in IDENTITY]
JURISDICTIONS = list(PRESETS)


def _rule_field(f: dataclasses.Field, *, required: bool) -> ma.fields.Field:
    kind = ma.fields.Integer if f.name in CAPS else _TYPES[type(f.default).__name__]
    return kind(required=required, allow_none=f.name in CAPS, metadata={"example": f.default})


# Read: every setting of a version. Write: any subset; the rest is kept from the version it
# changes (or the jurisdiction's preset). Values are checked by api.config.Policy.
PolicyRulesSchema = Schema.from_dict(
    {f.name: _rule_field(f, required=True) for f in RULE_FIELDS}, name="PolicyRulesSchema")
PolicyRulesInputSchema = Schema.from_dict(
    {f.name: _rule_field(f, required=False) for f in RULE_FIELDS},
    name="PolicyRulesInputSchema")


class PolicyVersionSchema(Schema):
    id = ma.fields.Integer(required=True)
    version = ma.fields.Integer(required=True, metadata={"example": 2})
    effective_from = ma.fields.AwareDateTime(required=True)
    note = ma.fields.String(allow_none=True)
    created_by_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.AwareDateTime(required=True)
    rules = ma.fields.Nested(PolicyRulesSchema, required=True)


class PolicySchema(Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True, metadata={"example": "cn-default"})
    jurisdiction = ma.fields.String(required=True, metadata={"example": "CN"})
    lender = ma.fields.String(required=True, metadata={
        "example": "*", "description": "the lender it governs; `*`: any lender"})
    description = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime(required=True)
    current = ma.fields.Nested(PolicyVersionSchema, allow_none=True, metadata={
        "description": "the version in effect now (null: none yet)"})
    versions = ma.fields.List(ma.fields.Nested(PolicyVersionSchema), required=True)


PolicyPageSchema = page_of(PolicySchema, "PolicyPage")


class _Dated(Schema):
    effective_from = ma.fields.AwareDateTime(validate=in_years, metadata={
        "description": "when it takes effect (default: now); never in the past, so no past "
        "verdict changes meaning"})
    note = ma.fields.String(validate=ma.validate.Length(max=400))
    rules = ma.fields.Nested(PolicyRulesInputSchema, load_default=dict)


class PolicyCreateSchema(_Dated):
    name = ma.fields.String(required=True, validate=[
        ma.validate.Length(min=2, max=64), ma.validate.Regexp(r"^[a-z0-9][a-z0-9._-]*$",
                                                                error="lower-case letters, "
                                                                "digits, . _ -")])
    jurisdiction = ma.fields.String(required=True, validate=ma.validate.OneOf(JURISDICTIONS))
    lender = ma.fields.String(load_default="*", validate=ma.validate.Length(min=1, max=64))
    description = ma.fields.String(validate=ma.validate.Length(max=400))


class PolicyVersionCreateSchema(_Dated):
    pass


class PolicyQuerySchema(PageArgsSchema):
    jurisdiction = ma.fields.String(validate=ma.validate.OneOf(JURISDICTIONS))
    lender = ma.fields.String(validate=ma.validate.Length(max=64))


class CasePolicyUpdateSchema(Schema):
    policy_id = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "the policy this case is held to; null: its lender's and jurisdiction's"})


class CasePolicySchema(Schema):
    """The policy governing a case now, and why it is that one."""

    case_id = ma.fields.Integer(required=True)
    lender = ma.fields.String(required=True)
    jurisdiction = ma.fields.String(required=True)
    chosen_by = ma.fields.String(required=True, metadata={
        "description": "`case` (assigned to it), `lender`, `jurisdiction` or `preset`"})
    policy = ma.fields.String(required=True, metadata={"example": "cn-default"})
    version = ma.fields.Integer(required=True)
    rules = ma.fields.Nested(PolicyRulesSchema, required=True)


class RefusalSchema(Schema):
    """A plan, assignment or contact refused for a rule."""

    id = ma.fields.Integer(required=True)
    at = ma.fields.AwareDateTime(required=True)
    rule = ma.fields.String(required=True, metadata={"example": "collector_authorised"})
    policy_ref = ma.fields.String(required=True, metadata={"example": "cn-default@1"})
    actor_id = ma.fields.Integer(allow_none=True, metadata={"description": "who tried"})
    team_id = ma.fields.Integer(allow_none=True, metadata={"description": "the actor's team"})
    operation = ma.fields.String(required=True, metadata={"example": "POST /assignments"})
    fields = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()))
    sentence = ma.fields.String(required=True)


RefusalPageSchema = page_of(RefusalSchema, "RefusalPage")


class RefusalQuerySchema(PageArgsSchema):
    rule = ma.fields.String(validate=ma.validate.OneOf(list(RULES)))
    since = ma.fields.AwareDateTime(validate=in_years)
