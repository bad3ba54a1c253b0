"""Signing out (`POST /auth/logout`): the sign-in's access and refresh tokens die at once; the
user's other devices and other sign-ins keep theirs."""

import uuid

import pytest


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client, user, device_id: str) -> dict:
    response = client.post("/auth/login", json={
        "username": user.username, "password": "correct horse battery",
        "device": {"id": device_id, "label": "web console", "platform": "web"}})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def me(client, access: str) -> int:
    return client.get("/auth/me", headers=bearer(access)).status_code


def refresh(client, token: str):
    return client.post("/auth/refresh", json={"refresh_token": token})


@pytest.mark.parametrize("role", ["collector", "supervisor", "legal", "admin"])
def test_after_logout_neither_token_works(client, world, role):
    pair = sign_in(client, world.user(role), str(uuid.uuid4()))
    assert me(client, pair["access_token"]) == 200
    assert client.post("/auth/logout", headers=bearer(pair["access_token"])).status_code == 204
    answer = client.get("/auth/me", headers=bearer(pair["access_token"]))
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "token_revoked"
    refreshed = refresh(client, pair["refresh_token"])
    assert refreshed.status_code == 401
    assert refreshed.get_json()["error"]["code"] == "bad_refresh_token"
    # Gone for good: a second logout with the same token is refused too.
    assert client.post("/auth/logout", headers=bearer(pair["access_token"])).status_code == 401


def test_logout_ends_every_token_rotated_from_that_sign_in(client, world):
    user = world.user("supervisor")
    first = sign_in(client, user, str(uuid.uuid4()))
    second = refresh(client, first["refresh_token"]).get_json()
    third = refresh(client, second["refresh_token"]).get_json()
    assert client.post("/auth/logout", headers=bearer(third["access_token"])).status_code == 204
    for pair in (first, second, third):  # an access token from before the rotations too
        assert me(client, pair["access_token"]) == 401
    assert refresh(client, third["refresh_token"]).status_code == 401


def test_another_device_and_another_sign_in_are_untouched(client, world):
    user = world.user("supervisor")
    laptop = str(uuid.uuid4())
    console = sign_in(client, user, laptop)
    other_tab = sign_in(client, user, laptop)  # the same browser, signed in twice
    phone = sign_in(client, user, str(uuid.uuid4()))
    someone_else = sign_in(client, world.user("supervisor"), str(uuid.uuid4()))
    assert client.post("/auth/logout", headers=bearer(console["access_token"])).status_code == 204
    assert me(client, console["access_token"]) == 401
    for pair in (other_tab, phone, someone_else):
        assert me(client, pair["access_token"]) == 200
        renewed = refresh(client, pair["refresh_token"])
        assert renewed.status_code == 200
        assert me(client, renewed.get_json()["access_token"]) == 200


def test_the_device_signs_in_again_after_logout(client, world):
    user = world.user("legal")
    device = str(uuid.uuid4())
    first = sign_in(client, user, device)
    assert client.post("/auth/logout", headers=bearer(first["access_token"])).status_code == 204
    again = sign_in(client, user, device)
    assert me(client, again["access_token"]) == 200
    assert me(client, first["access_token"]) == 401


def test_logout_needs_a_token(client, world):
    assert client.post("/auth/logout").status_code == 401
    garbage = client.post("/auth/logout", headers=bearer("not-a-token"))
    assert garbage.status_code == 401
