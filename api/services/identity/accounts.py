"""Users, teams and devices; passwords (argon2), access tokens and rotating refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.models import Device, RefreshToken, Role, Team, User
from api.models.types import utcnow
from api.services.exceptions import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

COSIGN_VALID_S = 18 * 3600  # a co-collector vouches for one working day
COSIGN_GRACE = timedelta(minutes=15)  # ...or signs the report just after the visit
_hasher = PasswordHasher()
# Verifying against this keeps the timing of "no such user" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def configure_password_hashing(profile: str) -> None:
    """Choose argon2 parameters by profile name (argon2.profiles; tests use CHEAPEST)."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher.from_parameters(getattr(profiles, profile))
    _DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise InvalidInput("must be at least 8 characters", fields={"password": ["too short"]})
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


class RefreshTokenReused(Unauthorized):
    """Raised after revoking the device's refresh tokens; the caller must commit that."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: taken from the verified token, never from the request body."""

    user_id: int
    role: Role
    team_id: int | None
    device_id: str | None


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    device_id: str


class TokenService:
    """Issues and checks tokens. Access tokens are signed and short-lived; each use re-checks
    the user and device rows, so revoking either stops its tokens at once."""

    def __init__(self, session: Session, secret_key: str, access_ttl_s: int, refresh_ttl_s: int):
        self.session = session
        self.signer = URLSafeTimedSerializer(secret_key, salt="fieldvisit.access")
        self.cosigner = URLSafeTimedSerializer(secret_key, salt="fieldvisit.cosign")
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s

    def login(
        self, username: str, password: str, device_id: str, label: str = "", platform: str = ""
    ) -> TokenPair:
        user = self.session.scalar(select(User).where(User.username == username))
        if user is None:
            verify_password(_DUMMY_HASH, password)
            raise Unauthorized("Wrong username or password.", code="bad_credentials")
        if not verify_password(user.password_hash, password):
            raise Unauthorized("Wrong username or password.", code="bad_credentials")
        if not user.is_active:
            raise Unauthorized("This account is disabled.", code="account_disabled")
        device = self.session.get(Device, device_id)
        if device is None:
            device = Device(id=device_id, user_id=user.id, label=label, platform=platform)
            self.session.add(device)
        elif device.user_id != user.id:
            raise Conflict(
                "This device is registered to another user.",
                fields={"device_id": ["registered to another user"]},
            )
        elif device.revoked_at is not None:
            raise Forbidden("This device has been revoked.", code="device_revoked")
        device.last_seen_at = utcnow()
        self.session.flush()
        return self._issue(user, device)

    def refresh(self, refresh_token: str) -> TokenPair:
        token = self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == _digest(refresh_token))
        )
        now = utcnow()
        if token is None or token.revoked_at is not None or token.expires_at <= now:
            raise Unauthorized("Refresh token is not valid.", code="bad_refresh_token")
        if token.used_at is not None:
            # A rotated token came back: it was stolen or replayed. End the device's session.
            self._revoke_refresh_tokens(device_id=token.device_id)
            raise RefreshTokenReused("Refresh token was already used.", code="refresh_token_reused")
        user = self.session.get(User, token.user_id)
        device = self.session.get(Device, token.device_id)
        if user is None or not user.is_active or device is None or device.revoked_at is not None:
            raise Unauthorized("Refresh token is not valid.", code="bad_refresh_token")
        token.used_at = now
        device.last_seen_at = now
        return self._issue(user, device)

    def authenticate(self, access_token: str) -> Principal:
        try:
            payload = self.signer.loads(access_token, max_age=self.access_ttl_s)
        except SignatureExpired as exc:
            raise Unauthorized("Access token expired.", code="token_expired") from exc
        except BadSignature as exc:
            raise Unauthorized("Access token is not valid.", code="bad_token") from exc
        row = self.session.execute(
            select(
                User.id,
                User.role,
                User.team_id,
                User.is_active,
                User.token_generation,
                Device.revoked_at,
            )
            .join(Device, Device.user_id == User.id)
            .where(User.id == payload["u"], Device.id == payload["d"])
        ).first()
        if (
            row is None
            or not row.is_active
            or row.revoked_at is not None
            or row.token_generation != payload["g"]
        ):
            raise Unauthorized("Access token has been revoked.", code="token_revoked")
        return Principal(
            user_id=row.id, role=Role(row.role), team_id=row.team_id, device_id=payload["d"]
        )

    def cosign(self, username: str, password: str, device_id: str) -> str:
        """A second collector vouches, with their own password, that they are on a visit with
        the phone `device_id`; the attestation travels inside the visit report."""
        user = self.session.scalar(select(User).where(User.username == username))
        if user is None or not verify_password(user.password_hash, password) or not user.is_active:
            raise Unauthorized("Wrong username or password.", code="bad_credentials")
        if user.role not in (Role.COLLECTOR, Role.SUPERVISOR):
            raise Forbidden("Only collectors and supervisors make field visits.")
        device = self.session.get(Device, device_id)
        if device is None or device.revoked_at is not None:
            raise NotFound("No such device.", fields={"device_id": ["not a registered device"]})
        return self.cosigner.dumps({"u": user.id, "d": device_id, "g": user.token_generation})

    def verify_cosign(
        self, attestation: str, start: datetime, end: datetime, *, device_id: str
    ) -> int | None:
        """The co-collector's user id if the attestation is genuine, for this device, and was
        given during the visit or in the working day before it; None otherwise."""
        try:
            payload, issued = self.cosigner.loads(attestation, return_timestamp=True)
        except BadSignature:
            return None
        earliest = start - timedelta(seconds=COSIGN_VALID_S)
        if payload.get("d") != device_id or not earliest <= issued <= end + COSIGN_GRACE:
            return None
        user = self.session.get(User, payload["u"])
        if user is None or not user.is_active or user.token_generation != payload["g"]:
            return None
        return user.id

    def revoke_user(self, user_id: int) -> None:
        user = self.session.get(User, user_id)
        if user is None:
            raise NotFound("No such user.")
        user.token_generation += 1
        self._revoke_refresh_tokens(user_id=user_id)

    def revoke_device(self, device_id: str) -> Device:
        device = self.session.get(Device, device_id)
        if device is None:
            raise NotFound("No such device.")
        if device.revoked_at is None:
            device.revoked_at = utcnow()
        self._revoke_refresh_tokens(device_id=device_id)
        return device

    def _issue(self, user: User, device: Device) -> TokenPair:
        access = self.signer.dumps({"u": user.id, "d": device.id, "g": user.token_generation})
        refresh = secrets.token_urlsafe(32)
        self.session.add(
            RefreshToken(
                token_hash=_digest(refresh),
                user_id=user.id,
                device_id=device.id,
                expires_at=utcnow() + timedelta(seconds=self.refresh_ttl_s),
            )
        )
        return TokenPair(access, refresh, self.access_ttl_s, device.id)

    def _revoke_refresh_tokens(self, **where) -> None:
        stmt = update(RefreshToken).where(RefreshToken.revoked_at.is_(None))
        for column, value in where.items():
            stmt = stmt.where(getattr(RefreshToken, column) == value)
        self.session.execute(stmt.values(revoked_at=utcnow()))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_team(session: Session, code: str, name: str, timezone: str = "Asia/Shanghai") -> Team:
    if session.scalar(select(Team.id).where(Team.code == code)) is not None:
        raise Conflict(f"Team code {code!r} is taken.", fields={"code": ["already exists"]})
    team = Team(code=code, name=name, timezone=timezone)
    session.add(team)
    session.flush()
    return team


def create_user(
    session: Session,
    *,
    username: str,
    full_name: str,
    role: Role,
    password: str,
    team_id: int | None = None,
) -> User:
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"Username {username!r} is taken.", fields={"username": ["already exists"]})
    _check_team(session, role, team_id)
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        team_id=team_id,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def update_user(session: Session, user_id: int, changes: dict) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    role = changes.get("role", user.role)
    team_id = changes.get("team_id", user.team_id)
    _check_team(session, role, team_id)
    if "password" in changes:
        user.password_hash = hash_password(changes.pop("password"))
        user.token_generation += 1
    if changes.get("is_active") is False:
        user.token_generation += 1
    for key in ("full_name", "role", "team_id", "is_active"):
        if key in changes:
            setattr(user, key, changes[key])
    session.flush()
    return user


def _check_team(session: Session, role: Role, team_id: int | None) -> None:
    if team_id is not None and session.get(Team, team_id) is None:
        raise InvalidInput("No such team.", fields={"team_id": ["no such team"]})
    if role in (Role.COLLECTOR, Role.SUPERVISOR) and team_id is None:
        raise InvalidInput(
            "Collectors and supervisors belong to a team.",
            fields={"team_id": ["required for this role"]},
        )
