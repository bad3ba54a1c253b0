"""Teams (branches), users with their roles, their devices and refresh tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.models.types import IdPk, UTCDateTime, enum_column, utcnow


class Role(enum.StrEnum):
    COLLECTOR = "collector"
    SUPERVISOR = "supervisor"
    LEGAL = "legal"
    ADMIN = "admin"


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[IdPk]
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[IdPk]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Bumped to revoke every token the user holds, at once.
    token_generation: Mapped[int] = mapped_column(default=0)
    # Where a collector's day starts (branch office or home), WGS-84: route planning and
    # distance-based assignment suggestions.
    base_lat: Mapped[float | None] = mapped_column(Float)
    base_lon: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    team: Mapped[Team | None] = relationship(lazy="joined")


class Device(db.Model):
    """A phone registered to one user. Its id is a client-generated UUID."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(String(120), default="")
    platform: Mapped[str] = mapped_column(String(40), default="")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Highest mutation id the server has applied from this device (offline sync).
    last_mutation_id: Mapped[int] = mapped_column(BigInteger, default=0)

    user: Mapped[User] = relationship(lazy="joined")


class RefreshToken(db.Model):
    """A refresh token, stored only as its SHA-256, bound to a device; rotated on every use.

    The tokens rotated from one sign-in form a family: a used token that comes back revokes
    the whole family. `generation` is the user's token generation at issue: a password
    change, deactivation or revocation bumps the user's, which ends the token for good."""

    __tablename__ = "refresh_tokens"

    id: Mapped[IdPk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    generation: Mapped[int]
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
