"""Access tokens, rotating refresh tokens and co-collector attestations.

Access tokens are signed and short-lived; each use re-checks the user and device rows, so
revoking either stops its tokens at once. Refresh tokens rotate on every use, one winner per
token even under concurrent requests; a used one that comes back revokes its family. An access
token names the refresh token issued with it, so a revoked family (a sign-out, a replay) ends
its access tokens too. Keys rotate: tokens are signed with the first key and verified with
every listed one."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import literal, select, update
from sqlalchemy.orm import Session

from api.models import Device, RefreshToken, Role, User
from api.models.types import utcnow
from api.services.exceptions import Conflict, Forbidden, NotFound, Unauthorized
from api.services.identity import audit
from api.services.identity.accounts import Principal, end_sessions, revoke_refresh_tokens
from api.services.identity.passwords import verify_password
from api.services.identity.throttle import PasswordGuard

COSIGN_VALID_S = 18 * 3600  # a co-collector vouches for one working day
COSIGN_GRACE = timedelta(minutes=15)  # ...or signs the report just after the visit


class RefreshTokenReused(Unauthorized):
    """Raised after revoking the token's family; the caller must commit that."""


class BadCredentials(Unauthorized):
    """Wrong username or password; the caller must commit (a lockout leaves an audit row)."""

    def __init__(self) -> None:
        super().__init__("Wrong username or password.", code="bad_credentials")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    device_id: str


class TokenService:
    def __init__(
        self,
        session: Session,
        secret_keys: Sequence[str],
        access_ttl_s: int,
        refresh_ttl_s: int,
        guard: PasswordGuard | None = None,
    ):
        """`secret_keys`: the signing key first, then older keys still accepted."""
        keys = list(reversed(secret_keys))  # itsdangerous signs with the last
        self.session = session
        self.signer = URLSafeTimedSerializer(keys, salt="fieldvisit.access")
        self.cosigner = URLSafeTimedSerializer(keys, salt="fieldvisit.cosign")
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s
        self.guard = guard

    def login(
        self,
        username: str,
        password: str,
        device_id: str,
        label: str = "",
        platform: str = "",
        *,
        address: str = "",
    ) -> TokenPair:
        user = self._check_password(username, password, address)
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
        return self._issue(user, device, family_id=uuid.uuid4().hex)

    def refresh(self, refresh_token: str) -> TokenPair:
        now = utcnow()
        digest = _digest(refresh_token)
        # Claim the token with one conditional UPDATE, the transaction's first statement:
        # concurrent requests with the same token serialise on the row and only one wins.
        claimed = self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == digest,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(
                RefreshToken.user_id,
                RefreshToken.device_id,
                RefreshToken.family_id,
                RefreshToken.generation,
            )
            .execution_options(synchronize_session=False)
        ).first()
        if claimed is None:
            token = self.session.scalar(
                select(RefreshToken).where(RefreshToken.token_hash == digest)
            )
            if token is not None and token.used_at is not None:
                # A rotated token came back: stolen or replayed. End the whole family.
                self._revoke_refresh_tokens(family_id=token.family_id)
                raise RefreshTokenReused(
                    "Refresh token was already used.", code="refresh_token_reused"
                )
            raise Unauthorized("Refresh token is not valid.", code="bad_refresh_token")
        user = self.session.get(User, claimed.user_id)
        device = self.session.get(Device, claimed.device_id)
        if (
            user is None
            or not user.is_active
            or user.token_generation != claimed.generation
            or device is None
            or device.revoked_at is not None
        ):
            raise Unauthorized("Refresh token is not valid.", code="bad_refresh_token")
        device.last_seen_at = now
        return self._issue(user, device, family_id=claimed.family_id)

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
            .add_columns(self._session_ended(payload.get("r")))
            .where(User.id == payload["u"], Device.id == payload["d"])
        ).first()
        if (
            row is None
            or not row.is_active
            or row.revoked_at is not None
            or row.token_generation != payload["g"]
            or row.session_ended is not None
        ):
            raise Unauthorized("Access token has been revoked.", code="token_revoked")
        return Principal(
            user_id=row.id,
            role=Role(row.role),
            team_id=row.team_id,
            device_id=payload["d"],
            sign_in=payload.get("r"),
        )

    def sign_out(self, principal: Principal) -> None:
        """End the sign-in the access token belongs to: its refresh token family is revoked,
        so neither that access token nor any refresh token of it works again. The device's
        other sign-ins end too only for a token from before sign-ins were tracked (no `r`)."""
        if principal.sign_in is None:
            self._revoke_refresh_tokens(device_id=principal.device_id)
            return
        family = select(RefreshToken.family_id).where(RefreshToken.id == principal.sign_in)
        self._revoke_refresh_tokens(family_id=family.scalar_subquery())

    @staticmethod
    def _session_ended(refresh_id: int | None):
        """When the sign-in of the access token ended (its refresh token, revoked), as a
        column of the authentication's one statement; null while it lasts."""
        if refresh_id is None:
            return literal(None).label("session_ended")
        return (
            select(RefreshToken.revoked_at)
            .where(RefreshToken.id == refresh_id)
            .scalar_subquery()
            .label("session_ended")
        )

    def cosign(self, username: str, password: str, device_id: str, *, address: str = "") -> str:
        """A second collector vouches, with their own password, that they are on a visit with
        the phone `device_id`; the attestation travels inside the visit report."""
        user = self._check_password(username, password, address)
        if not user.is_active:
            raise BadCredentials()
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
        end_sessions(self.session, user)

    def revoke_device(self, device_id: str) -> Device:
        device = self.session.get(Device, device_id)
        if device is None:
            raise NotFound("No such device.")
        if device.revoked_at is None:
            device.revoked_at = utcnow()
        self._revoke_refresh_tokens(device_id=device_id)
        return device

    def lift_lockout(self, user_id: int, principal: Principal) -> None:
        """An administrator forgets the user's failed sign-ins (audited)."""
        user = self.session.get(User, user_id)
        if user is None:
            raise NotFound("No such user.")
        audit.record(
            self.session,
            principal,
            "auth.lockout_lifted",
            detail={"user_id": user.id},
        )
        if self.guard is not None:
            self.guard.unlock(user.username)

    def _check_password(self, username: str, password: str, address: str) -> User:
        """The user if the password is right; throttled per username and client address (the
        check comes before argon2, so a locked-out guesser costs no hashing)."""
        if self.guard is not None:
            self.guard.check(username, address)
        user = self.session.scalar(select(User).where(User.username == username))
        if verify_password(user.password_hash if user else None, password):
            return user
        if self.guard is not None and self.guard.failed(username, address):
            audit.record(
                self.session,
                None,
                "auth.locked_out",
                detail={"user_id": user.id if user else None, "address": address},
            )
        raise BadCredentials()

    def _issue(self, user: User, device: Device, *, family_id: str) -> TokenPair:
        """A new pair; the access token names its refresh token's row (`r`), so signing out
        (the family revoked) ends the access token too."""
        refresh = secrets.token_urlsafe(32)
        row = RefreshToken(
            token_hash=_digest(refresh),
            user_id=user.id,
            device_id=device.id,
            family_id=family_id,
            generation=user.token_generation,
            expires_at=utcnow() + timedelta(seconds=self.refresh_ttl_s),
        )
        self.session.add(row)
        self.session.flush()
        access = self.signer.dumps(
            {"u": user.id, "d": device.id, "g": user.token_generation, "r": row.id}
        )
        return TokenPair(access, refresh, self.access_ttl_s, device.id)

    def _revoke_refresh_tokens(self, **where) -> None:
        revoke_refresh_tokens(self.session, **where)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
