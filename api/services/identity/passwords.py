"""Password hashing (argon2): the parameters are chosen once per process by profile name."""

from __future__ import annotations

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerifyMismatchError

from api.services.exceptions import InvalidInput

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


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if `password` matches; with no stored hash (no such user) it spends the same time
    and answers False."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, InvalidHashError):
        return False
