"""A fresh install's first administrator, and a lost password, from the server's console."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from api.models import AuditEvent, Role, User
from tests.factories import PASSWORD as OLD_PASSWORD

PASSWORD = "first admin passphrase"


def login(client, username: str, password: str):
    return client.post("/auth/login", json={
        "username": username, "password": password,
        "device": {"id": str(uuid.uuid4()), "label": "ops laptop", "platform": "web"}})


def audit_rows(session, action: str) -> list[AuditEvent]:
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_the_first_admin_is_created_from_stdin_and_signs_in(run_cli, client, session):
    result = run_cli("users", "create-admin", "ops.admin", "--full-name", "Wang Fang",
                     input=PASSWORD + "\n")

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    user = session.scalar(select(User).where(User.username == "ops.admin"))
    assert user.role is Role.ADMIN and user.full_name == "Wang Fang" and user.team_id is None
    response = login(client, "ops.admin", PASSWORD)
    assert response.status_code == 200, response.get_json()
    headers = {"Authorization": f"Bearer {response.get_json()['access_token']}"}
    assert client.get("/admin/users", headers=headers).status_code == 200
    [row] = audit_rows(session, "user.created")
    detail = json.loads(row.detail)
    assert row.actor_id is None
    assert detail["user_id"] == user.id and detail["by"] == "fieldvisit users create-admin"


def test_the_password_can_come_from_a_file(run_cli, client, tmp_path):
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    result = run_cli("users", "create-admin", "ops.admin", "--full-name", "Wang Fang",
                     "--password-file", str(secret))
    assert result.exit_code == 0, result.output
    assert login(client, "ops.admin", PASSWORD).status_code == 200


def test_an_existing_username_is_refused_and_left_alone(run_cli, world, client, session):
    collector = world.user("collector", username="li.lei")
    before = collector.password_hash

    result = run_cli("users", "create-admin", "li.lei", "--full-name", "Impostor",
                     input=PASSWORD + "\n")

    assert result.exit_code == 1
    assert "User 'li.lei' already exists; nothing was changed" in result.output
    session.expire_all()
    kept = session.get(User, collector.id)
    assert kept.role is Role.COLLECTOR and kept.password_hash == before
    assert audit_rows(session, "user.created") == []


def test_a_short_password_is_refused_naming_it(run_cli, session):
    result = run_cli("users", "create-admin", "ops.admin", "--full-name", "Wang Fang",
                     input="short\n")
    assert result.exit_code == 1
    assert "password" in result.output and "Length must be between 8 and 256" in result.output
    assert session.scalar(select(User).where(User.username == "ops.admin")) is None


def test_an_empty_password_is_refused(run_cli, session):
    result = run_cli("users", "create-admin", "ops.admin", "--full-name", "Wang Fang", input="")
    assert result.exit_code == 1 and "No password given" in result.output
    assert session.scalar(select(User).where(User.username == "ops.admin")) is None


def test_a_reset_password_ends_the_old_sessions(run_cli, world, client, session):
    admin = world.user("admin", username="ops.admin")
    old = world.login(admin)
    assert client.get("/auth/me", headers=old).status_code == 200

    result = run_cli("users", "reset-password", "ops.admin", input=PASSWORD + "\n")

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    refresh = client.post("/auth/refresh", json={"refresh_token": old["X-Refresh-Token"]})
    assert refresh.status_code == 401
    assert client.get("/auth/me", headers={"Authorization": old["Authorization"]}
                      ).status_code == 401
    assert login(client, "ops.admin", OLD_PASSWORD).status_code == 401
    assert login(client, "ops.admin", PASSWORD).status_code == 200
    [row] = audit_rows(session, "user.password_reset")
    assert row.actor_id is None and json.loads(row.detail)["user_id"] == admin.id


def test_a_reset_for_an_unknown_user_says_so(run_cli, session):
    result = run_cli("users", "reset-password", "nobody", input=PASSWORD + "\n")
    assert result.exit_code == 1 and "No user 'nobody'" in result.output
    assert audit_rows(session, "user.password_reset") == []
