"""The one-shot demo seed: teams, users and a generated book, imported and assigned."""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import Case, ImportRun, Role, Team, User
from api.services.compliance import authorisations
from api.services.identity import accounts
from api.services.identity.pii import PiiCipher
from api.services.imports.demo.book import generate_cases_file
from api.services.imports.demo.people import random_name
from api.services.imports.demo.places import DEFAULT_TEAMS, TEAM_NAMES
from api.services.imports.runs import import_cases, lender_today

DEMO_PREFIX = "demo-"


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    role: str
    team_code: str | None
    password: str


@dataclass
class DemoSeed:
    """What `seed_demo` did. Passwords are here once, to be shown once."""

    created: bool
    message: str
    users: list[DemoUser] = field(default_factory=list)
    run: ImportRun | None = None
    buckets: dict[str, int] = field(default_factory=dict)


def bucket_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Case.bucket, func.count()).group_by(Case.bucket)).all()
    counts = {b.value if hasattr(b, "value") else str(b): n for b, n in rows}
    return {b: counts.get(b, 0) for b in ("current", "M1", "M2", "M3", "M3+")}


def seed_demo(session: Session, cipher: PiiCipher, *, n_cases: int = 2000, seed: int = 7,
              as_of: date | None = None) -> DemoSeed:
    """Teams, users and a generated book imported through `import_cases`, each case assigned
    to a collector of its team by the file's `collector_username`. Does nothing when demo
    users exist. The caller commits."""
    if session.scalar(select(User.id).where(User.username.startswith(DEMO_PREFIX)).limit(1)):
        return DemoSeed(False, "Demo users already exist; nothing was done.",
                        buckets=bucket_counts(session))
    as_of = as_of or lender_today()
    rng = random.Random(seed)
    users: list[DemoUser] = []

    def add(username: str, role: Role, team: Team | None) -> User:
        password = secrets.token_urlsafe(12)
        full_name = random_name(rng, rng.random() < 0.5)
        user = accounts.create_user(session, username=DEMO_PREFIX + username, full_name=full_name,
                                    role=role, password=password,
                                    team_id=team.id if team else None)
        if role is Role.COLLECTOR:  # the certificate every demo collector holds
            authorisations.grant(session, user, certificate_no=f"DEMO-{user.id:05d}",
                                 valid_from=as_of, granted_by_id=None,
                                 **authorisations.STANDARD)
        users.append(DemoUser(user.username, full_name, role.value,
                              team.code if team else None, password))
        return user

    admin = add("admin", Role.ADMIN, None)
    add("legal", Role.LEGAL, None)
    collectors: dict[str, list[str]] = {}
    for code, group in DEFAULT_TEAMS:
        team = session.scalar(select(Team).where(Team.code == code)) \
            or accounts.create_team(session, code, TEAM_NAMES[group])
        slug = code.lower().replace("-", "")
        add(f"{slug}-supervisor", Role.SUPERVISOR, team)
        collectors[code] = [add(f"{slug}-collector{j}", Role.COLLECTOR, team).username
                            for j in range(1, rng.randint(4, 6) + 1)]

    doc = generate_cases_file(n_cases, seed=seed, as_of=as_of)
    assign_collectors(doc, collectors)
    raw = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
    run = import_cases(session, cipher, doc, actor_id=admin.id, filename="demo-cases.json",
                       file_sha256=hashlib.sha256(raw).hexdigest(), as_of=as_of)
    return DemoSeed(True, f"Demo seeded: {len(users)} users, {n_cases} cases.", users, run,
                    bucket_counts(session))


def assign_collectors(doc: dict[str, Any], collectors: dict[str, list[str]]) -> None:
    """Set `collector_username` on every case: each team's debtors, in order of their home
    address (so neighbours go together), are split into one contiguous run per collector."""
    by_team: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for case in doc["cases"]:
        by_team[case["team_code"]][case["debtor"]["ref"]].append(case)
    for code, debtors in by_team.items():
        names = collectors[code]
        order = sorted(debtors.values(), key=lambda cs: (cs[0]["addresses"][0]["text"],
                                                         cs[0]["debtor"]["ref"]))
        for k, group in enumerate(order):
            for case in group:
                case["collector_username"] = names[k * len(names) // len(order)]
