"""Domain exceptions. Services raise these; `api.errors` maps them to HTTP in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service may raise on purpose."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code

    def details(self) -> dict:
        """Extra members of the error body (a rule breach names its rule and policy)."""
        return {}


class InvalidInput(DomainError):
    """Input that is well-formed but breaks a domain rule (bad check digit, unknown bucket...)."""

    status = 422
    code = "invalid_input"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class TemporarilyUnavailable(DomainError):
    """A transient failure the client should retry (503 + Retry-After)."""

    status = 503
    code = "temporarily_unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
