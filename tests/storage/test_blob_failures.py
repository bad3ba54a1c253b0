"""When the file store or the database cannot serve, the answer is a 503 the phone can act on
(a code, a message, Retry-After), and the upload slot says why the file is still missing.

The full disk is real: a 128 KiB tmpfs mounted for the test (the suite runs as root in CI; the
test is skipped where mounting is not allowed). The unreachable S3 is a closed loopback port."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import uuid

import pytest

from api import create_app
from api.config import Config
from api.extensions import db
from api.models import EvidenceFile, UploadStatus
from tests.conftest import wipe
from tests.field.conftest import declaration, put_local
from tests.field.test_field_work import Phone, report
from tests.s3_server import CREDENTIALS


@pytest.fixture
def full_disk(tmp_path):
    """A directory on a 128 KiB filesystem of its own."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(mount_point)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_on(app_config):
    """An app of the test database with another blob store; rows are removed afterwards."""
    made = []

    def make(**changes):
        app = create_app(dataclasses.replace(app_config, **changes))
        app.config["TESTING"] = True
        context = app.app_context()
        context.push()
        made.append(context)
        return app

    yield make
    for context in made:
        db.session.remove()
        wipe()
        db.engine.dispose()
        context.pop()


def declare_a_file(app, size: int) -> tuple[dict, dict, bytes]:
    """A collector files a visit declaring one PDF of `size` bytes: (headers, declaration, data)."""
    from tests.factories import World

    world = World(app, app.test_client())
    collector = world.user("collector")
    case = world.case(collector=collector)
    headers = world.login(collector)
    data = b"%PDF-1.4\n" + os.urandom(size - 9)
    file = declaration("statement.pdf", "document", data=data)
    result = Phone(app.test_client(), headers).send(
        "visit_report", report(case.id, None, files=[file])
    )
    assert result["status"] == "applied", result
    return headers, file, data


def assert_unavailable(response, code: str) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"]


def slot(file_id: str) -> EvidenceFile:
    db.session.expire_all()
    return db.session.get(EvidenceFile, file_id)


def test_a_full_disk_is_a_503_and_the_slot_says_so(app_on, full_disk):
    app = app_on(blob_store=f"local:{full_disk}")
    client = app.test_client()
    headers, file, data = declare_a_file(app, 200 * 1024)
    target = client.post(f"/evidence/{file['id']}/upload-url", headers=headers)
    assert target.status_code == 200, target.get_json()

    assert_unavailable(put_local(client, target.get_json(), data), "blob_store_full")
    kept = slot(file["id"])
    assert kept.status is UploadStatus.PENDING
    assert kept.last_error.startswith("blob_store_full")
    leftovers = [p for p in full_disk.rglob("*") if p.is_file()]
    assert leftovers == []  # the partial upload was removed, the space given back


def test_an_unreachable_s3_is_a_503_and_the_slot_says_so(app_on, monkeypatch):
    for name in ("aws_access_key_id", "aws_secret_access_key"):
        monkeypatch.setenv(name.upper(), CREDENTIALS[name])
    monkeypatch.setenv("AWS_DEFAULT_REGION", CREDENTIALS["region_name"])
    app = app_on(blob_store="s3://fv-evidence",
                 s3_endpoint_url=f"http://127.0.0.1:{closed_port()}")
    client = app.test_client()
    headers, file, _ = declare_a_file(app, 4096)
    assert client.post(f"/evidence/{file['id']}/upload-url", headers=headers).status_code == 200

    assert_unavailable(client.post(f"/evidence/{file['id']}/complete", headers=headers),
                       "blob_store_unavailable")
    kept = slot(file["id"])
    assert kept.status is UploadStatus.PENDING
    assert kept.last_error.startswith("blob_store_unavailable")


# --------------------------------------------------------------------------- unmigrated


def test_an_unmigrated_database_is_a_503_database_not_ready(empty_database, tmp_path):
    app = create_app(Config(database_url=empty_database, blob_store=f"local:{tmp_path}",
                            secret_key="test-secret-key", argon2_profile="CHEAPEST", testing=True))
    app.config["TESTING"] = True
    body = {"username": "collector1", "password": "correct horse battery",
            "device": {"id": str(uuid.uuid4())}}
    try:
        response = app.test_client().post("/auth/login", json=body)
        assert_unavailable(response, "database_not_ready")
    finally:
        with app.app_context():
            db.engine.dispose()
