"""Administrators edit teams (`PATCH /admin/teams/{id}`) and reset a user's password to a
generated one (`POST /admin/users/{id}/password`); no other role may, whoever's ids it sends."""

import json
import uuid

import pytest
from sqlalchemy import select

from api.extensions import db
from api.models import AuditEvent, Team
from tests.factories import PASSWORD

OTHERS = ["collector", "supervisor", "legal"]


def sign_in(client, username: str, password: str = PASSWORD):
    return client.post("/auth/login", json={
        "username": username, "password": password, "device": {"id": str(uuid.uuid4())}})


def audited(action: str) -> list[dict]:
    return [json.loads(e.detail) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action))]


def test_an_administrator_changes_a_team(client, world):
    team = world.team("SZ-01")
    admin = world.login(world.user("admin"))
    changed = client.patch(f"/admin/teams/{team.id}", headers=admin,
                           json={"name": "Nanshan", "timezone": "Asia/Urumqi"})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json() == {"id": team.id, "code": "SZ-01", "name": "Nanshan",
                                  "timezone": "Asia/Urumqi"}
    renamed = client.patch(f"/admin/teams/{team.id}", headers=admin, json={"code": "SZ-02"})
    assert renamed.get_json()["code"] == "SZ-02"
    assert client.get(f"/admin/teams/{team.id}", headers=admin).get_json()["code"] == "SZ-02"
    details = audited("admin.team_changed")
    assert len(details) == 2 and details[0]["team_id"] == team.id


@pytest.mark.parametrize("role", OTHERS)
def test_no_other_role_changes_a_team_their_own_or_another(client, world, role):
    own, other = world.team("OWN"), world.team("OTHER")
    caller = world.login(world.user(role, own if role != "legal" else None))
    for team in (own, other):
        refused = client.patch(f"/admin/teams/{team.id}", headers=caller, json={"name": "Mine"})
        assert refused.status_code == 403
    db.session.expire_all()
    assert {t.name for t in db.session.scalars(select(Team))} == {"Team 1", "Team 2"}
    assert audited("admin.team_changed") == []


@pytest.mark.parametrize("role,status", [("admin", 200), ("supervisor", 200), ("legal", 200),
                                         ("collector", 403)])
def test_who_reads_a_team(client, world, role, status):
    other = world.team("ELSEWHERE")
    caller = world.login(world.user(role))
    assert client.get(f"/admin/teams/{other.id}", headers=caller).status_code == status


def test_a_team_change_is_refused_whole_naming_the_field(client, world):
    world.team("TAKEN")
    team = world.team("MINE")
    admin = world.login(world.user("admin"))
    taken = client.patch(f"/admin/teams/{team.id}", headers=admin,
                         json={"code": "TAKEN", "name": "Half-saved?"})
    assert taken.status_code == 409
    assert "code" in taken.get_json()["error"]["fields"]
    for body, name in (({"timezone": "Mars/Olympus"}, "timezone"), ({"code": "no spaces"}, "code"),
                       ({"name": ""}, "name"), ({"timezone": 8}, "timezone")):
        refused = client.patch(f"/admin/teams/{team.id}", headers=admin, json=body)
        assert refused.status_code == 422, body
        assert name in refused.get_json()["error"]["fields"]
    db.session.expire_all()
    kept = db.session.get(Team, team.id)
    assert (kept.code, kept.name, kept.timezone) == ("MINE", "Team 2", "Asia/Shanghai")
    assert client.patch("/admin/teams/999999", headers=admin, json={"name": "x"}).status_code == 404
    assert client.get("/admin/teams/999999", headers=admin).status_code == 404


def test_a_new_team_needs_a_real_time_zone(client, world):
    admin = world.login(world.user("admin"))
    refused = client.post("/admin/teams", headers=admin,
                          json={"code": "NEW", "name": "New", "timezone": "Asia/Nowhere"})
    assert refused.status_code == 422
    assert "timezone" in refused.get_json()["error"]["fields"]


def test_a_reset_password_is_shown_once_and_ends_the_old_sessions(client, world):
    collector = world.user("collector")
    phone = world.login(collector)
    admin = world.login(world.user("admin"))
    reset = client.post(f"/admin/users/{collector.id}/password", headers=admin)
    assert reset.status_code == 200
    password = reset.get_json()["password"]
    assert len(password) >= 12
    assert client.get("/auth/me", headers=phone).status_code == 401
    refreshed = client.post("/auth/refresh", json={"refresh_token": phone["X-Refresh-Token"]})
    assert refreshed.status_code == 401
    assert sign_in(client, collector.username).status_code == 401
    assert sign_in(client, collector.username, password).status_code == 200
    # Not to be read back anywhere: the user as the API answers it has no password.
    assert "password" not in client.get(f"/admin/users/{collector.id}", headers=admin).get_json()
    again = client.post(f"/admin/users/{collector.id}/password", headers=admin).get_json()
    assert again["password"] != password
    assert [d["user_id"] for d in audited("admin.password_reset")] == [collector.id] * 2
    assert password not in str(audited("admin.password_reset"))


@pytest.mark.parametrize("role", OTHERS)
def test_no_other_role_resets_a_password(client, world, role):
    team = world.team()
    caller_user = world.user(role, team if role != "legal" else None)
    caller = world.login(caller_user)
    teammate = world.user("collector", team)
    stranger = world.user("collector")
    for user in (teammate, stranger, caller_user):
        refused = client.post(f"/admin/users/{user.id}/password", headers=caller)
        assert refused.status_code == 403
        assert "password" not in refused.get_json()
        assert sign_in(client, user.username).status_code == 200  # the password is unchanged
    assert audited("admin.password_reset") == []


def test_resetting_an_unknown_users_password(client, world):
    admin = world.login(world.user("admin"))
    assert client.post("/admin/users/999999/password", headers=admin).status_code == 404
