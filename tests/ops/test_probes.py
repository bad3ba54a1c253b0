"""/healthz and /readyz: what a load balancer or an orchestrator asks before sending traffic."""

from __future__ import annotations

import dataclasses
import socket

import pytest
from alembic import command
from sqlalchemy import func, select

from api import create_app
from api.commands.db import alembic_config
from api.config import Config
from api.extensions import db
from api.models import AuditEvent
from api.services.readiness import Readiness, script_heads
from tests.s3_server import CREDENTIALS


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_with(tmp_path):
    """A fresh app (its own readiness cache) of this database, blobs in a temporary folder."""
    made = []
    base = Config(blob_store=f"local:{tmp_path / 'blobs'}", secret_key="test-secret-key",
                  testing=True, argon2_profile="CHEAPEST")

    def make(database_url: str, **changes):
        app = create_app(dataclasses.replace(base, database_url=database_url, **changes))
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def s3_credentials(monkeypatch):
    for name in ("aws_access_key_id", "aws_secret_access_key"):
        monkeypatch.setenv(name.upper(), CREDENTIALS[name])
    monkeypatch.setenv("AWS_DEFAULT_REGION", CREDENTIALS["region_name"])


def assert_not_ready(response, failing: str) -> dict:
    assert response.status_code == 503, response.get_json()
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body["status"] == "not_ready"
    assert {name for name, c in body["checks"].items() if c["state"] == "failing"} == {failing}
    return body["checks"][failing]


def unreachable_database() -> str:
    return f"postgresql+psycopg://nobody@127.0.0.1:{closed_port()}/none"


def test_liveness_answers_without_a_database(app_with):
    app = app_with(unreachable_database())
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_a_migrated_database_and_a_local_store_are_ready(client, session):
    response = client.get("/readyz")  # no token: probes carry none
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {
        "state": "ok", "detail": f"at revision {''.join(script_heads())}"}
    assert body["checks"]["blob_store"]["state"] == "ok"
    assert response.headers["Cache-Control"] == "no-store"
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_an_unmigrated_database_is_not_ready(app_with, empty_database):
    app = app_with(empty_database)
    check = assert_not_ready(app.test_client().get("/readyz"), "database")
    assert "fieldvisit db upgrade" in check["detail"]


def test_a_database_behind_the_code_is_not_ready_until_upgraded(app_with, empty_database):
    """An older revision names both; after `db upgrade` the same probe answers ready."""
    cfg = alembic_config(empty_database)
    command.upgrade(cfg, "5e4c41d7b0a1")
    app = app_with(empty_database)
    with app.app_context():
        readiness = Readiness(app.extensions["fieldvisit.blobs"], cache_s=0)
        behind = readiness.report(db.engine).checks[0]
        assert not behind.ok
        assert behind.detail.startswith("at revision 5e4c41d7b0a1, expected ")
        command.upgrade(cfg, "head")
        assert readiness.report(db.engine).ok


def test_an_unreachable_database_is_not_ready(app_with):
    app = app_with(unreachable_database())
    check = assert_not_ready(app.test_client().get("/readyz"), "database")
    assert check["detail"].startswith("unreachable")


def test_s3_that_answers_is_ready(app_with, database_url, s3_credentials, s3_endpoint, s3_bucket):
    app = app_with(database_url, blob_store=f"s3://{s3_bucket}", s3_endpoint_url=s3_endpoint)
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()


def test_s3_on_a_closed_port_is_not_ready(app_with, database_url, s3_credentials):
    app = app_with(database_url, blob_store="s3://fv-evidence",
                   s3_endpoint_url=f"http://127.0.0.1:{closed_port()}")
    check = assert_not_ready(app.test_client().get("/readyz"), "blob_store")
    assert check["detail"].startswith("unreachable")


def test_a_missing_bucket_is_not_ready(app_with, database_url, s3_credentials, s3_endpoint):
    app = app_with(database_url, blob_store="s3://no-such-bucket", s3_endpoint_url=s3_endpoint)
    assert_not_ready(app.test_client().get("/readyz"), "blob_store")
