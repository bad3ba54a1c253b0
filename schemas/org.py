"""Teams, users and devices (administration)."""

import marshmallow as ma

from api.extensions import Schema
from api.models import Role
from schemas.common import PageArgsSchema, page_of


class TeamCreateSchema(Schema):
    """A new team, as an administrator sends it."""

    code = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"),
        metadata={"example": "SZ-01"},
    )
    name = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=120),
        metadata={"example": "Shenzhen Futian branch"},
    )
    timezone = ma.fields.String(
        load_default="Asia/Shanghai", validate=ma.validate.Length(min=1, max=64)
    )


class TeamSchema(Schema):
    """A team as the API answers it."""

    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True, metadata={"example": "SZ-01"})
    name = ma.fields.String(required=True, metadata={"example": "Shenzhen Futian branch"})
    timezone = ma.fields.String(required=True, metadata={"example": "Asia/Shanghai"})


class UserCreateSchema(Schema):
    """A new account, as an administrator sends it (the password is never answered back)."""

    username = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9_.-]{3,64}$")
    )
    full_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    role = ma.fields.Enum(Role, by_value=True, required=True)
    team_id = ma.fields.Integer(allow_none=True, load_default=None)
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=8, max=256)
    )


class UserSchema(Schema):
    """An account as the API answers it."""

    id = ma.fields.Integer(required=True)
    username = ma.fields.String(required=True)
    full_name = ma.fields.String(required=True)
    role = ma.fields.Enum(Role, by_value=True, required=True)
    team_id = ma.fields.Integer(required=True, allow_none=True)
    is_active = ma.fields.Boolean(required=True)


class UserUpdateSchema(Schema):
    full_name = ma.fields.String(validate=ma.validate.Length(min=1, max=120))
    role = ma.fields.Enum(Role, by_value=True)
    team_id = ma.fields.Integer(allow_none=True)
    is_active = ma.fields.Boolean()
    password = ma.fields.String(load_only=True, validate=ma.validate.Length(min=8, max=256))


class UserQuerySchema(PageArgsSchema):
    role = ma.fields.Enum(Role, by_value=True)
    team_id = ma.fields.Integer()


class DeviceSchema(Schema):
    id = ma.fields.String()
    user_id = ma.fields.Integer()
    label = ma.fields.String()
    platform = ma.fields.String()
    registered_at = ma.fields.DateTime()
    last_seen_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)


class DeviceQuerySchema(PageArgsSchema):
    user_id = ma.fields.Integer()


TeamPageSchema = page_of(TeamSchema, "TeamPage")
UserPageSchema = page_of(UserSchema, "UserPage")
DevicePageSchema = page_of(DeviceSchema, "DevicePage")
