"""Limits on password guessing (sign-in and co-signing), with the `limits` library.

Failed attempts are counted in a moving window per username (whatever address they come
from) and per client address (whatever username they try). A username whose window is full
is locked out, even for the right password, until the window moves on or an administrator
lifts the lockout; an address whose window is full is refused the same way. The counters
live in the configured storage: `memory://` for one process, `redis://host:port` when several
workers or machines must share them."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.services.exceptions import DomainError, TemporarilyUnavailable

_NAMESPACE = "fieldvisit-password"


class TooManyAttempts(DomainError):
    """429: too many wrong passwords; `retry_after` seconds until the next try counts."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PasswordGuard:
    def __init__(self, storage_uri: str, per_username: str, per_address: str):
        """`per_username`, `per_address`: limits such as "10 per 15 minutes"."""
        self.storage = storage_from_string(storage_uri, wrap_exceptions=True)
        self.window = MovingWindowRateLimiter(self.storage)
        self.per_username = parse(per_username)
        self.per_address = parse(per_address)

    def check(self, username: str, address: str) -> None:
        """Raise `TooManyAttempts` if the username or the address is locked out."""
        for item, key, whom in self._counters(username, address):
            if not self._call(self.window.test, item, *key):
                stats = self._call(self.window.get_window_stats, item, *key)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise TooManyAttempts(
                    f"Too many wrong passwords for this {whom}; try again in "
                    f"{retry_after} seconds or ask an administrator.",
                    retry_after=retry_after,
                )

    def failed(self, username: str, address: str) -> bool:
        """Count a wrong password; True if the username is locked out by this one."""
        for item, key, _ in self._counters(username, address):
            self._call(self.window.hit, item, *key)
        return self.locked_out(username)

    def locked_out(self, username: str) -> bool:
        return not self._call(self.window.test, self.per_username, *self._user_key(username))

    def unlock(self, username: str) -> None:
        """Forget the username's failed attempts (an administrator lifts the lockout)."""
        self._call(self.window.clear, self.per_username, *self._user_key(username))

    def reset(self) -> None:
        """Forget every counter of this storage (tests)."""
        self._call(self.storage.reset)

    def _counters(self, username: str, address: str):
        yield self.per_username, self._user_key(username), "user"
        yield self.per_address, (_NAMESPACE, "address", address or "-"), "address"

    @staticmethod
    def _user_key(username: str) -> tuple[str, ...]:
        return (_NAMESPACE, "username", username)

    @staticmethod
    def _call(method, *args):
        try:
            return method(*args)
        except StorageError as exc:
            raise TemporarilyUnavailable(
                "Sign-in is unavailable for a moment; retry shortly.", retry_after=5
            ) from exc
