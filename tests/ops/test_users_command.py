"""A fresh install's first administrator, and a lost password, from the server's console."""

from __future__ import annotations

import csv
import json
import stat
import uuid

import pytest
from sqlalchemy import func, select

from api.models import AuditEvent, CollectorAuthorisation, Role, Team, User
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


# --------------------------------------------------------------------------- users import

USERS_CSV = (
    "username,full_name,role,team,password,base_lat,base_lon,base_datum,certificate_no\n"
    "sz.wang,王芳,collector,SZ-01,first passphrase,22.5455,114.0683,WGS84,CERT-77\n"
    "sz.li,李娜,supervisor,SZ-01,,,,,\n"
    "bad.role,Somebody,boss,SZ-01,long enough pw,,,,\n"
    "no.team,Zhao,collector,,long enough pw,,,,\n"
    "sz.wang,Again,legal,,long enough pw,,,,\n"
    "far.away,Qian,collector,XX-99,long enough pw,95,114,,\n"
    "lawyer,Sun,legal,,short,,,,\n"
)


@pytest.fixture
def team_sz(session):
    team = Team(code="SZ-01", name="Shenzhen 1")
    session.add(team)
    session.commit()
    return team


def test_users_are_created_from_a_csv_file_with_row_errors(run_cli, client, session, team_sz,
                                                            tmp_path):
    path = tmp_path / "users.csv"
    path.write_text(USERS_CSV, encoding="utf-8")
    handed = tmp_path / "credentials.csv"
    result = run_cli("users", "import", str(path), "--credentials-out", str(handed), "-q")

    assert result.exit_code == 1, result.output
    assert "7 lines, 2 created, 6 errors" in result.output and "users/s" in result.output
    for expected in ("line 4 bad.role role:", "line 5 no.team team: required for this role",
                     "line 6 sz.wang username: appears again (first on line 2)",
                     "line 7 far.away team: no such team", "line 7 far.away base_lat:",
                     "line 8 lawyer password:"):
        assert expected in result.output
    assert "first passphrase" not in result.output
    wang = session.scalar(select(User).where(User.username == "sz.wang"))
    assert (wang.role, wang.team_id, wang.full_name) == (Role.COLLECTOR, team_sz.id, "王芳")
    assert session.scalar(select(CollectorAuthorisation.certificate_no).where(
        CollectorAuthorisation.collector_id == wang.id)) == "CERT-77"
    assert login(client, "sz.wang", "first passphrase").status_code == 200
    # the supervisor had no password: one was made, handed over in a file only we can read
    assert stat.S_IMODE(handed.stat().st_mode) == 0o600
    [(name, password)] = list(csv.reader(handed.open()))[1:]
    assert name == "sz.li" and login(client, "sz.li", password).status_code == 200
    assert password not in result.output
    assert {json.loads(r.detail)["username"] for r in audit_rows(session, "user.created")} == {
        "sz.wang", "sz.li"}


def test_a_users_file_dry_run_creates_nobody(run_cli, session, team_sz, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text(USERS_CSV, encoding="utf-8")
    result = run_cli("users", "import", str(path), "--dry-run")
    assert result.exit_code == 1
    # without --credentials-out, a line without a password is an error too
    assert "7 lines, 1 would be created (dry run), 7 errors" in result.output
    assert "line 3 sz.li password: is required" in result.output
    assert session.scalar(select(func.count()).select_from(User)) == 0


def test_a_users_file_with_an_unknown_column_is_refused(run_cli, session, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("username,full_name,role,salary\nx.y,X,admin,1\n", encoding="utf-8")
    result = run_cli("users", "import", str(path))
    assert result.exit_code == 1 and "unknown column salary" in result.output
    existing = tmp_path / "out.csv"
    existing.write_text("")
    result = run_cli("users", "import", str(path), "--credentials-out", str(existing))
    assert result.exit_code == 1 and "exists" in result.output
