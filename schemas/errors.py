"""The one error shape (documented in OpenAPI for every error response)."""

import marshmallow as ma


class ErrorBodySchema(ma.Schema):
    status = ma.fields.Integer(metadata={"example": 422})
    code = ma.fields.String(metadata={"example": "validation_error"})
    message = ma.fields.String(
        metadata={"example": "Some fields are not valid: debtor.national_id"}
    )
    fields = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"example": {"debtor.national_id": ["check digit should be X"]}},
    )
    # A rule breach (code `rule_breach`) names the rule and the policy version that applied.
    rule = ma.fields.String(metadata={"example": "visit_hours"})
    policy = ma.fields.String(metadata={"example": "cn-default"})
    policy_version = ma.fields.Integer(metadata={"example": 1})


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBodySchema)
