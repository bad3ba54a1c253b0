"""Bearer-token authentication and role checks for routes."""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, request

from api.extensions import Blueprint, db
from api.keys import secret_keys
from api.models import Role
from api.services.exceptions import Forbidden, Unauthorized
from api.services.identity.accounts import Principal
from api.services.identity.throttle import PasswordGuard
from api.services.identity.tokens import TokenService

ALL_ROLES = tuple(Role)
STAFF = (Role.SUPERVISOR, Role.LEGAL, Role.ADMIN)


def token_service() -> TokenService:
    cfg = current_app.config["FIELDVISIT"]
    return TokenService(
        db.session,
        secret_keys(cfg),
        cfg.access_token_ttl_s,
        cfg.refresh_token_ttl_s,
        guard=password_guard(),
    )


def password_guard() -> PasswordGuard:
    return current_app.extensions["fieldvisit.password_guard"]


def client_address() -> str:
    return request.remote_addr or ""


def current_principal() -> Principal:
    return g.principal


def auth_required(*roles: Role):
    """Require a valid bearer token, and one of `roles` (any role if none given)."""
    allowed = roles or ALL_ROLES

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise Unauthorized(
                    "Send 'Authorization: Bearer <access token>'.", code="missing_token"
                )
            principal = token_service().authenticate(token.strip())
            if principal.role not in allowed:
                raise Forbidden("Your role may not do this.")
            g.principal = principal
            return view(*args, **kwargs)

        return Blueprint.doc(
            security=[{"bearerAuth": []}],
            responses={"401": "UNAUTHORIZED", "403": "FORBIDDEN"},
            **{"x-roles": [r.value for r in allowed]},
        )(wrapper)

    return decorator
