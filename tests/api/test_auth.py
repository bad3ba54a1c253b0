"""Sign-in, refresh-token rotation, and revocation that takes effect at once."""

import uuid

from sqlalchemy import select

from api.extensions import db
from api.models import Device


def login(client, user, password="correct horse battery", device_id=None):
    return client.post(
        "/auth/login",
        json={
            "username": user.username,
            "password": password,
            "device": {"id": device_id or str(uuid.uuid4())},
        },
    )


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_wrong_password_and_unknown_user_answer_alike(client, world):
    user = world.user("collector")
    wrong = login(client, user, password="nope-nope-nope")
    assert wrong.status_code == 401
    ghost = client.post(
        "/auth/login",
        json={"username": "ghost", "password": "whatever1", "device": {"id": str(uuid.uuid4())}},
    )
    assert ghost.status_code == 401
    assert wrong.get_json() == ghost.get_json()


def test_login_registers_the_device(client, world):
    user = world.user("collector")
    device_id = str(uuid.uuid4())
    assert login(client, user, device_id=device_id).status_code == 200
    device = db.session.get(Device, device_id)
    assert device is not None and device.user_id == user.id


def test_a_device_belongs_to_one_user(client, world):
    device_id = str(uuid.uuid4())
    assert login(client, world.user("collector"), device_id=device_id).status_code == 200
    response = login(client, world.user("collector"), device_id=device_id)
    assert response.status_code == 409
    assert "device_id" in response.get_json()["error"]["fields"]


def test_refresh_rotates_and_a_reused_token_ends_the_device_session(client, world):
    user = world.user("collector")
    first = login(client, user).get_json()
    second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second = second.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/auth/me", headers=bearer(second["access_token"])).status_code == 200
    replay = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert replay.get_json()["error"]["code"] == "refresh_token_reused"
    # The replay revoked the legitimate successor too: a thief cannot keep the session.
    later = client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert later.status_code == 401


def test_revoking_a_device_stops_its_tokens_at_once(client, world):
    admin = world.login(world.user("admin"))
    user = world.user("collector")
    device_id = str(uuid.uuid4())
    tokens = login(client, user, device_id=device_id).get_json()
    assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 200
    response = client.post(f"/admin/devices/{device_id}/revoke", headers=admin)
    assert response.status_code == 200 and response.get_json()["revoked_at"]
    me = client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401 and me.get_json()["error"]["code"] == "token_revoked"
    assert (
        client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code
        == 401
    )
    assert login(client, user, device_id=device_id).status_code == 403
    # The same user on another phone still works.
    assert login(client, user).status_code == 200


def test_revoking_a_user_stops_every_device(client, world):
    admin = world.login(world.user("admin"))
    user = world.user("collector")
    phones = [login(client, user).get_json() for _ in range(2)]
    assert client.post(f"/admin/users/{user.id}/revoke", headers=admin).status_code == 204
    for tokens in phones:
        assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
        assert (
            client.post(
                "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            ).status_code
            == 401
        )
    # Signing in again gives fresh, working tokens.
    fresh = login(client, user).get_json()
    assert client.get("/auth/me", headers=bearer(fresh["access_token"])).status_code == 200


def test_deactivated_user_cannot_sign_in(client, world):
    admin = world.login(world.user("admin"))
    user = world.user("collector")
    tokens = login(client, user).get_json()
    response = client.patch(f"/admin/users/{user.id}", json={"is_active": False}, headers=admin)
    assert response.status_code == 200
    assert client.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert login(client, user).status_code == 401


def test_forged_or_missing_tokens(client, world):
    assert client.get("/auth/me").get_json()["error"]["code"] == "missing_token"
    assert client.get("/auth/me", headers=bearer("forged.token.value")).status_code == 401


def test_only_admins_manage_people(client, world):
    team = world.team()
    for role in ("collector", "supervisor", "legal"):
        headers = world.login(world.user(role, team if role != "legal" else None))
        assert client.get("/admin/users", headers=headers).status_code == 403
        assert (
            client.post(
                "/admin/users",
                json={
                    "username": f"new{role}",
                    "full_name": "X",
                    "role": "collector",
                    "team_id": team.id,
                    "password": "long enough",
                },
                headers=headers,
            ).status_code
            == 403
        )
    admin = world.login(world.user("admin"))
    created = client.post(
        "/admin/users",
        json={
            "username": "newbie",
            "full_name": "New Collector",
            "role": "collector",
            "team_id": team.id,
            "password": "long enough",
        },
        headers=admin,
    )
    assert created.status_code == 201 and "password" not in created.get_json()
    listed = client.get("/admin/users?role=collector", headers=admin).get_json()
    assert "newbie" in [u["username"] for u in listed["items"]]
    devices = client.get("/admin/devices", headers=admin).get_json()
    assert devices["page"]["total"] == len(db.session.scalars(select(Device)).all())
