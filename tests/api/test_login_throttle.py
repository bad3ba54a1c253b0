"""Password guessing is throttled per username and per client address, at sign-in and at
co-signing; an administrator can lift a user's lockout, and every lockout is audited.

The default limit is 10 wrong passwords per username in 15 minutes, 100 per address."""

from __future__ import annotations

import uuid

import pytest
import redis
from sqlalchemy import select

from api import create_app
from api.config import Config
from api.extensions import db
from api.models import AuditEvent
from api.services.identity.throttle import PasswordGuard, TooManyAttempts

PASSWORD = "correct horse battery"
PER_USERNAME = 10


def attempt(client, username, password, address="198.51.100.7"):
    return client.post(
        "/auth/login",
        json={"username": username, "password": password, "device": {"id": str(uuid.uuid4())}},
        environ_base={"REMOTE_ADDR": address},
    )


def test_ten_wrong_passwords_lock_the_username_even_for_the_right_one(client, world):
    user = world.user("collector")
    for n in range(PER_USERNAME):
        # Each guess from another address: the count is per username, wherever it comes from.
        wrong = attempt(client, user.username, f"guess number {n}", address=f"203.0.113.{n}")
        assert wrong.status_code == 401, n
    locked = attempt(client, user.username, PASSWORD, address="192.0.2.1")
    assert locked.status_code == 429
    error = locked.get_json()["error"]
    assert error["status"] == 429 and error["code"] == "too_many_attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60

    lockouts = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "auth.locked_out")
    ).all()
    assert len(lockouts) == 1
    assert f'"user_id":{user.id}' in lockouts[0].detail


def test_an_administrator_lifts_the_lockout(client, world):
    user = world.user("collector")
    admin = world.login(world.user("admin"))
    for n in range(PER_USERNAME):
        attempt(client, user.username, f"guess number {n}")
    assert attempt(client, user.username, PASSWORD).status_code == 429

    lifted = client.delete(f"/admin/users/{user.id}/lockout", headers=admin)
    assert lifted.status_code == 204
    assert attempt(client, user.username, PASSWORD).status_code == 200
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert [a for a in actions if a.startswith("auth.")] == [
        "auth.locked_out",
        "auth.lockout_lifted",
    ]
    assert client.delete("/admin/users/999999/lockout", headers=admin).status_code == 404


def test_only_an_administrator_lifts_a_lockout(client, world):
    user = world.user("collector")
    supervisor = world.login(world.user("supervisor"))
    assert client.delete(f"/admin/users/{user.id}/lockout", headers=supervisor).status_code == 403


@pytest.fixture
def own_guard(app):
    """The app's guard swapped for one with small limits, restored after the test."""
    saved = app.extensions["fieldvisit.password_guard"]
    yield lambda guard: app.extensions.__setitem__("fieldvisit.password_guard", guard)
    app.extensions["fieldvisit.password_guard"] = saved


def test_one_address_guessing_many_usernames_is_refused(client, world, own_guard):
    own_guard(PasswordGuard("memory://", "10/hour", "5/hour"))
    user = world.user("collector")
    for n in range(5):
        wrong = attempt(client, f"nobody{n}", "whatever-it-is", address="198.51.100.9")
        assert wrong.status_code == 401
    refused = attempt(client, user.username, PASSWORD, address="198.51.100.9")
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    # Another address is not affected, and neither is the username.
    assert attempt(client, user.username, PASSWORD, address="198.51.100.10").status_code == 200


def test_cosigning_is_throttled_with_the_same_count(client, world):
    phone = world.login(world.user("collector"))
    bob = world.user("collector")

    def cosign(password):
        return client.post(
            "/auth/cosign", json={"username": bob.username, "password": password}, headers=phone
        )

    for n in range(PER_USERNAME - 1):
        assert cosign(f"guess number {n}").status_code == 401
    assert attempt(client, bob.username, "one more guess").status_code == 401  # the tenth
    refused = cosign(PASSWORD)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert attempt(client, bob.username, PASSWORD).status_code == 429


def test_right_passwords_are_never_counted(client, world):
    user = world.user("collector")
    for _ in range(PER_USERNAME + 2):
        assert attempt(client, user.username, PASSWORD).status_code == 200


def test_the_lockout_is_shared_through_redis_by_every_worker(tmp_path):
    """A guard and an app configured with the same Redis are two gunicorn workers: a lockout
    earned on one holds on the other, and lifting it on one lifts it everywhere."""
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    username, address = f"redis-test-{uuid.uuid4().hex}", f"test-{uuid.uuid4().hex}"
    first = PasswordGuard(url, "3 per 15 minutes", "100 per 15 minutes")
    app = create_app(Config(database_url="sqlite://", blob_store=f"local:{tmp_path}",
                            testing=True, ratelimit_storage_uri=url,
                            login_failures_per_username="3 per 15 minutes"))
    second = app.extensions["fieldvisit.password_guard"]
    try:
        assert [first.failed(username, address) for _ in range(3)] == [False, False, True]
        with pytest.raises(TooManyAttempts) as refused:
            second.check(username, address + "-other")
        assert 0 < refused.value.retry_after <= 15 * 60
        second.unlock(username)
        first.check(username, address)  # no longer locked
    finally:
        first.unlock(username)
        store = redis.Redis.from_url(url)
        for key in store.scan_iter(f"*{address}*"):
            store.delete(key)
