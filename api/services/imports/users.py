"""Bulk creation of user accounts from a CSV file (`fieldvisit users import`).

Each line is checked on its own, as the /admin API checks one account (`UserCreateSchema`, the
team, the base location, a username free in the database and in the file); a bad line is a row
error and is skipped, the others are created. Passwords are hashed with argon2 (one hash per
account, the cost that protects them) on as many threads as the machine has cores: argon2
releases the interpreter lock, so hashing is the only work that takes time."""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Role, Team, User
from api.services.compliance import authorisations
from api.services.exceptions import DomainError, InvalidInput
from api.services.identity import audit
from api.services.identity.accounts import base_location
from api.services.identity.passwords import hash_password
from api.services.imports.formats import MalformedFile
from schemas.org import UserCreateSchema

COLUMNS = ("username", "full_name", "role", "team", "password", "base_lat", "base_lon",
           "base_datum", "certificate_no")
REQUIRED = ("username", "full_name", "role")


@dataclass
class UserRow:
    line: int
    values: dict
    certificate_no: str | None
    generated: bool  # the password was made here (to be handed over)


@dataclass
class UsersRun:
    rows: int = 0
    created: list[tuple[int, str, str | None]] = field(default_factory=list)  # id, name, pwd
    errors: list[dict] = field(default_factory=list)

    def error(self, line: int, username: str | None, field_name: str, message: str) -> None:
        self.errors.append({"row": line, "username": username, "field": field_name,
                            "message": message})


def read_users_csv(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """(line, record) of each line of the file; a file that is not such a CSV is refused."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedFile("The file is not UTF-8 text.", fields={"file": ["not UTF-8"]}) \
            from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in REQUIRED if name not in header]
    if unknown or missing:
        raise InvalidInput(
            "The header must name the columns " + ", ".join(COLUMNS) + " (the first three are "
            "required).", fields={"file": [f"unknown column {n}" for n in unknown]
                                  + [f"missing column {n}" for n in missing]})
    return [(reader.line_num, row) for row in reader]


def import_users(session: Session, records: list[tuple[int, dict[str, str]]], *,
                 generate_missing: bool, dry_run: bool = False, as_of: date | None = None,
                 threads: int | None = None,
                 progress: Callable[[int], None] | None = None) -> UsersRun:
    """Create the accounts the records describe, in the caller's transaction (it commits);
    lines with errors are skipped. A line without a password gets a generated one when
    `generate_missing` (returned in `created`, to be handed over), else it is an error. A
    collector with a `certificate_no` is granted the standard authorisation from `as_of`."""
    run = UsersRun(rows=len(records))
    teams = dict(session.execute(select(Team.code, Team.id)).all())
    taken = set(session.scalars(select(User.username)))
    first: dict[str, int] = {}
    pending: list[UserRow] = []
    schema = UserCreateSchema()
    for line, raw in records:
        username = (raw.get("username") or "").strip() or None
        if None in raw:
            run.error(line, username, "_row", "more values than columns")
            continue
        generated = not (raw.get("password") or "")
        password = raw.get("password") or ""
        if generated:
            if not generate_missing:
                run.error(line, username, "password", "is required (or let the command "
                                                      "generate one: --credentials-out)")
                continue
            password = secrets.token_urlsafe(12)
        values = {"username": username, "full_name": (raw.get("full_name") or "").strip(),
                  "role": (raw.get("role") or "").strip(), "password": password}
        try:
            values = schema.load(values)
        except ma.ValidationError as exc:
            for name, messages in exc.normalized_messages().items():
                run.error(line, username, name, "; ".join(map(str, messages)))
            continue
        problems = _check(values, raw, teams)
        if values["username"] in taken:
            problems.append(("username", "already exists"))
        elif (seen := first.setdefault(values["username"], line)) != line:
            problems.append(("username", f"appears again (first on line {seen})"))
        certificate = (raw.get("certificate_no") or "").strip() or None
        if certificate and values["role"] is not Role.COLLECTOR:
            problems.append(("certificate_no", "only collectors hold certificates"))
        if problems:
            for name, message in problems:
                run.error(line, username, name, message)
            continue
        pending.append(UserRow(line, values, certificate, generated))
    if dry_run:
        run.created = [(0, row.values["username"], None) for row in pending]
        return run
    with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:
        hashes = []
        for done, digest in enumerate(pool.map(
                lambda row: hash_password(row.values["password"]), pending), start=1):
            hashes.append(digest)
            if progress is not None:
                progress(done)
    for row, password_hash in zip(pending, hashes, strict=True):
        values = row.values
        user = User(username=values["username"], full_name=values["full_name"],
                    role=values["role"], team_id=values["team_id"],
                    password_hash=password_hash, base_lat=values["base_lat"],
                    base_lon=values["base_lon"])
        session.add(user)
        session.flush()
        if row.certificate_no:
            authorisations.grant(session, user, certificate_no=row.certificate_no,
                                 valid_from=as_of or date.today(), **authorisations.STANDARD)
        audit.record(session, None, "user.created", detail={
            "user_id": user.id, "username": user.username, "role": user.role.value,
            "by": "fieldvisit users import", "line": row.line})
        run.created.append((user.id, user.username,
                            values["password"] if row.generated else None))
    return run


def _check(values: dict, raw: dict[str, str], teams: dict[str, int]) -> list[tuple[str, str]]:
    """The team and the base location; sets `team_id`, `base_lat`, `base_lon` in `values`."""
    problems = []
    code = (raw.get("team") or "").strip() or None
    values["team_id"] = teams.get(code) if code else None
    if code and values["team_id"] is None:
        problems.append(("team", "no such team"))
    elif values["role"] in (Role.COLLECTOR, Role.SUPERVISOR) and code is None:
        problems.append(("team", "required for this role"))
    try:
        lat, lon = (_number(raw, name) for name in ("base_lat", "base_lon"))
        values["base_lat"], values["base_lon"] = base_location(
            lat, lon, (raw.get("base_datum") or "").strip() or None)
    except DomainError as exc:
        problems.extend((name, "; ".join(map(str, messages)))
                        for name, messages in exc.fields.items())
    return problems


def _number(raw: dict[str, str], name: str) -> float | None:
    text = (raw.get(name) or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput("Not a number.", fields={name: ["must be a number"]}) from None
