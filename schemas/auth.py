"""Login, token refresh, and the caller's own profile."""

import marshmallow as ma

from api.extensions import Schema


class DeviceInfoSchema(Schema):
    id = ma.fields.UUID(
        required=True,
        metadata={
            "description": "Generated once by the app and kept; binds the refresh token "
            "to the phone.",
            "example": "9b2f6a2e-3c1d-4c55-9a3e-0d7f0c1e2b11",
        },
    )
    label = ma.fields.String(
        load_default="", validate=ma.validate.Length(max=120), metadata={"example": "Redmi Note 12"}
    )
    platform = ma.fields.String(
        load_default="", validate=ma.validate.Length(max=40), metadata={"example": "android-14"}
    )


class LoginSchema(Schema):
    username = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=64),
        metadata={"example": "collector1"},
    )
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=1, max=256)
    )
    device = ma.fields.Nested(DeviceInfoSchema, required=True)


class RefreshSchema(Schema):
    refresh_token = ma.fields.String(required=True, validate=ma.validate.Length(min=10, max=200))


class TokenPairSchema(Schema):
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    token_type = ma.fields.Constant("Bearer")
    expires_in = ma.fields.Integer(metadata={"description": "seconds"})
    device_id = ma.fields.String()


class MeSchema(Schema):
    id = ma.fields.Integer()
    username = ma.fields.String()
    full_name = ma.fields.String()
    role = ma.fields.String()
    team_id = ma.fields.Integer(allow_none=True)
    device_id = ma.fields.String(allow_none=True)


class CosignSchema(Schema):
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=1, max=256)
    )


class AttestationSchema(Schema):
    attestation = ma.fields.String()
    expires_in = ma.fields.Integer(metadata={"description": "seconds"})
