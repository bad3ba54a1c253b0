"""Users and teams; `Principal`, the caller as the verified token names them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.models import RefreshToken, Role, Team, User
from api.models.types import utcnow
from api.services.exceptions import Conflict, InvalidInput, NotFound
from api.services.geo import DATUMS, WGS84, to_wgs84, validate_coordinates
from api.services.identity.passwords import hash_password


@dataclass(frozen=True)
class Principal:
    """Who is calling: taken from the verified token, never from the request body."""

    user_id: int
    role: Role
    team_id: int | None
    device_id: str | None
    sign_in: int | None = None  # the refresh token row the access token was issued with


def create_team(session: Session, code: str, name: str, timezone: str = "Asia/Shanghai") -> Team:
    if session.scalar(select(Team.id).where(Team.code == code)) is not None:
        raise Conflict(f"Team code {code!r} is taken.", fields={"code": ["already exists"]})
    team = Team(code=code, name=name, timezone=timezone)
    session.add(team)
    session.flush()
    return team


def update_team(session: Session, team_id: int, changes: dict) -> Team:
    """Change a team's code, name or time zone (the caller has locked the row)."""
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound("No such team.")
    code = changes.get("code")
    if code is not None and code != team.code and session.scalar(
        select(Team.id).where(Team.code == code)
    ) is not None:
        raise Conflict(f"Team code {code!r} is taken.", fields={"code": ["already exists"]})
    for key in ("code", "name", "timezone"):
        if key in changes:
            setattr(team, key, changes[key])
    session.flush()
    return team


def reset_password(session: Session, user_id: int) -> tuple[User, str]:
    """A new generated password for the user (returned once, stored hashed); every token
    they hold ends."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    password = secrets.token_urlsafe(12)
    user.password_hash = hash_password(password)
    end_sessions(session, user)
    session.flush()
    return user, password


def create_user(
    session: Session,
    *,
    username: str,
    full_name: str,
    role: Role,
    password: str,
    team_id: int | None = None,
    base_lat: float | None = None,
    base_lon: float | None = None,
    base_datum: str | None = None,
) -> User:
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"Username {username!r} is taken.", fields={"username": ["already exists"]})
    _check_team(session, role, team_id)
    base = base_location(base_lat, base_lon, base_datum)
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        team_id=team_id,
        password_hash=hash_password(password),
        base_lat=base[0],
        base_lon=base[1],
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
    if {"base_lat", "base_lon", "base_datum"} & changes.keys():
        sent = [name for name in ("base_lat", "base_lon") if name in changes]
        if len(sent) == 1:
            missing = ({"base_lat", "base_lon"} - set(sent)).pop()
            raise InvalidInput("Send base_lat and base_lon together (null and null clears the "
                               "base).", fields={missing: ["needed with the other coordinate"]})
        user.base_lat, user.base_lon = base_location(
            changes.get("base_lat"), changes.get("base_lon"), changes.get("base_datum")
        )
    if "password" in changes:
        user.password_hash = hash_password(changes.pop("password"))
        end_sessions(session, user)
    if changes.get("is_active") is False:
        end_sessions(session, user)
    for key in ("full_name", "role", "team_id", "is_active"):
        if key in changes:
            setattr(user, key, changes[key])
    session.flush()
    return user


def base_location(
    lat: float | None, lon: float | None, datum: str | None = None
) -> tuple[float | None, float | None]:
    """A collector's base as stored: WGS-84 (converted from GCJ-02 or BD-09), both
    coordinates or neither. Errors name `base_lat`, `base_lon` or `base_datum`."""
    if (lat is None) != (lon is None):
        missing = "base_lon" if lat is not None else "base_lat"
        raise InvalidInput(
            "A base needs both coordinates (or null for both to clear it).",
            fields={missing: ["needed with the other coordinate"]},
        )
    if datum is not None and datum not in DATUMS:
        raise InvalidInput("Unknown datum.", fields={"base_datum": [f"one of {', '.join(DATUMS)}"]})
    if lat is None:
        if datum is not None:
            raise InvalidInput(
                "A datum without coordinates.",
                fields={"base_datum": ["given without base_lat and base_lon"]},
            )
        return None, None
    lat, lon = validate_coordinates(lat, lon, field_prefix="base_")
    return to_wgs84(lat, lon, datum or WGS84)


def end_sessions(session: Session, user: User) -> None:
    """End every token the user holds, for good: their generation moves on (so tokens issued
    before never match again, even after a re-activation) and live refresh tokens are revoked."""
    user.token_generation += 1
    revoke_refresh_tokens(session, user_id=user.id)


def revoke_refresh_tokens(session: Session, **where) -> None:
    """Revoke the live refresh tokens matching `where` (column=value)."""
    stmt = update(RefreshToken).where(RefreshToken.revoked_at.is_(None))
    for column, value in where.items():
        stmt = stmt.where(getattr(RefreshToken, column) == value)
    session.execute(stmt.values(revoked_at=utcnow()).execution_options(synchronize_session=False))


def _check_team(session: Session, role: Role, team_id: int | None) -> None:
    if team_id is not None and session.get(Team, team_id) is None:
        raise InvalidInput("No such team.", fields={"team_id": ["no such team"]})
    if role in (Role.COLLECTOR, Role.SUPERVISOR) and team_id is None:
        raise InvalidInput(
            "Collectors and supervisors belong to a team.",
            fields={"team_id": ["required for this role"]},
        )
