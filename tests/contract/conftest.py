"""Shared pieces of the contract tests: the app served on a loopback port, and a seeded world
of two teams (one "ours", one "theirs") with a user of every role signed in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from werkzeug.serving import make_server

from api.extensions import db
from api.models import Case, Role, Team, User

ROLES = ("collector", "supervisor", "legal", "admin")


@pytest.fixture
def served(_app, app) -> Iterator[str]:
    """The real app answering HTTP on 127.0.0.1 (a free port), for clients that need a socket."""
    server = make_server("127.0.0.1", 0, _app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@dataclass
class Seeded:
    """Our team and theirs: a user of every role on our side (signed in), cases on both."""

    ours: Team
    theirs: Team
    users: dict[str, User]
    headers: dict[str, dict[str, str]]
    our_cases: list[Case]
    collector_cases: list[Case]
    their_cases: list[Case]
    their_users: dict[str, User] = field(default_factory=dict)
    their_devices: list[str] = field(default_factory=list)

    def bearer(self, role: str | None) -> dict[str, str]:
        """Request headers for a role (None: no token at all)."""
        if role is None:
            return {}
        h = self.headers[role]
        return {"Authorization": h["Authorization"], "X-Device-Id": h["X-Device-Id"]}


def seed(world) -> Seeded:
    ours, theirs = world.team("OURS"), world.team("THEIRS")
    users = {
        "collector": world.user(Role.COLLECTOR, ours),
        "supervisor": world.user(Role.SUPERVISOR, ours),
        "legal": world.user(Role.LEGAL),
        "admin": world.user(Role.ADMIN),
    }
    their_users = {
        "collector": world.user(Role.COLLECTOR, theirs),
        "supervisor": world.user(Role.SUPERVISOR, theirs),
    }
    collector_cases = [world.case(collector=users["collector"]) for _ in range(2)]
    our_cases = [*collector_cases, world.case(team=ours)]
    their_cases = [world.case(collector=their_users["collector"]) for _ in range(2)]
    headers = {role: world.login(user) for role, user in users.items()}
    their_devices = [world.login(user)["X-Device-Id"] for user in their_users.values()]
    db.session.expire_all()
    return Seeded(
        ours,
        theirs,
        users,
        headers,
        our_cases,
        collector_cases,
        their_cases,
        their_users,
        their_devices,
    )


@pytest.fixture
def seeded(world) -> Seeded:
    return seed(world)
