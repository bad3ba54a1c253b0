"""Teams, users and devices (administration)."""

import marshmallow as ma

from api.extensions import Schema
from api.models import Role
from api.services.geo import DATUMS, WGS84
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


class BaseLocationFields(Schema):
    """Where a collector's day starts (route planning, distance in assignment suggestions).
    Both coordinates or neither (null and null clears it); answered in WGS-84."""

    base_lat = ma.fields.Float(
        allow_none=True,
        validate=ma.validate.Range(min=-90, max=90),
        metadata={"description": "latitude of the base, in `base_datum`", "example": 22.5431},
    )
    base_lon = ma.fields.Float(
        allow_none=True,
        validate=ma.validate.Range(min=-180, max=180),
        metadata={"description": "longitude of the base, in `base_datum`", "example": 114.0579},
    )
    base_datum = ma.fields.String(
        load_only=True,
        validate=ma.validate.OneOf(DATUMS),
        metadata={
            "description": f"datum of base_lat/base_lon as sent (default {WGS84}); GCJ02 (AMap, "
            "Tencent) and BD09 (Baidu) are converted to WGS-84 before they are stored",
        },
    )


class UserCreateSchema(BaseLocationFields):
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
    base_lat = ma.fields.Float(
        required=True, allow_none=True, metadata={"description": "WGS-84; null: no base"}
    )
    base_lon = ma.fields.Float(required=True, allow_none=True, metadata={"description": "WGS-84"})


class UserUpdateSchema(BaseLocationFields):
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
