"""Refresh tokens end for good when they should, and one refresh token has one winner.

A collector's phone is stolen with a refresh token on it: the administrator changes the
password, or deactivates the account (and re-activates it next week), or revokes the phone.
Whatever the thief kept from before must never work again."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import select

from api.extensions import db
from api.models import RefreshToken

PASSWORD = "correct horse battery"


def sign_in(client, user, device_id=None):
    response = client.post(
        "/auth/login",
        json={
            "username": user.username,
            "password": PASSWORD,
            "device": {"id": device_id or str(uuid.uuid4())},
        },
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def refresh(client, token):
    return client.post("/auth/refresh", json={"refresh_token": token})


def admin_headers(world):
    return world.login(world.user("admin"))


def test_a_password_change_ends_refresh_tokens_issued_before_it(client, world):
    user = world.user("collector")
    stolen = sign_in(client, user)["refresh_token"]
    changed = client.patch(
        f"/admin/users/{user.id}",
        json={"password": "a brand new passphrase"},
        headers=admin_headers(world),
    )
    assert changed.status_code == 200
    response = refresh(client, stolen)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_refresh_token"


def test_a_refresh_token_does_not_come_back_after_deactivation_and_reactivation(client, world):
    user = world.user("collector")
    stolen = sign_in(client, user)["refresh_token"]
    admin = admin_headers(world)
    for active in (False, True):
        answer = client.patch(f"/admin/users/{user.id}", json={"is_active": active}, headers=admin)
        assert answer.status_code == 200
    assert refresh(client, stolen).status_code == 401
    # The user signs in again and gets a working session.
    fresh = sign_in(client, user)["refresh_token"]
    assert refresh(client, fresh).status_code == 200


def test_a_revoked_phone_can_neither_refresh_nor_sign_in_again(client, world):
    user = world.user("collector")
    device_id = str(uuid.uuid4())
    stolen = sign_in(client, user, device_id)["refresh_token"]
    revoked = client.post(f"/admin/devices/{device_id}/revoke", headers=admin_headers(world))
    assert revoked.status_code == 200
    assert refresh(client, stolen).status_code == 401
    again = client.post(
        "/auth/login",
        json={"username": user.username, "password": PASSWORD, "device": {"id": device_id}},
    )
    assert again.status_code == 403


def test_revoking_a_user_ends_refresh_tokens_for_good(client, world):
    user = world.user("collector")
    stolen = sign_in(client, user)["refresh_token"]
    revoked = client.post(f"/admin/users/{user.id}/revoke", headers=admin_headers(world))
    assert revoked.status_code == 204
    assert refresh(client, stolen).status_code == 401


def test_a_replayed_refresh_token_revokes_its_whole_family(client, world):
    user = world.user("collector")
    first = sign_in(client, user)["refresh_token"]
    other_phone = sign_in(client, user)["refresh_token"]  # another sign-in, another family
    second = refresh(client, first).get_json()["refresh_token"]
    third = refresh(client, second).get_json()["refresh_token"]

    replay = refresh(client, first)  # the thief's copy of the first token
    assert replay.status_code == 401
    assert replay.get_json()["error"]["code"] == "refresh_token_reused"
    assert refresh(client, third).status_code == 401  # the live end of the chain is dead too
    assert refresh(client, other_phone).status_code == 200  # other sign-ins are untouched


def test_one_refresh_token_sent_eight_times_at_once_has_exactly_one_winner(app, world):
    user = world.user("collector")
    token = sign_in(world.client, user)["refresh_token"]
    db.session.remove()  # leave the connection to the eight threads
    barrier = threading.Barrier(8)
    answers: list = []

    def send():
        client = app.test_client()
        barrier.wait()
        response = refresh(client, token)
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(status for status, _ in answers)
    assert len(answers) == 8
    assert statuses.count(200) == 1, answers
    assert set(statuses) <= {200, 401}, answers
    winner = next(body for status, body in answers if status == 200)
    # The others were replays: the family is revoked, the winner's new token included.
    assert refresh(world.client, winner["refresh_token"]).status_code == 401
    live = db.session.scalars(select(RefreshToken).where(RefreshToken.revoked_at.is_(None)))
    assert live.all() == []
