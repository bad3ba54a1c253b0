"""Evidence helpers for field tests: declaring real photos, uploading them the way a phone does,
and a second app on an S3 blob store (moto's standalone server over HTTP) sharing the test
database."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import current_app

from api import create_app
from api.extensions import db
from api.services.evidence.s3_store import S3BlobStore
from tests.conftest import DATA, wipe
from tests.s3_server import CREDENTIALS

PHOTOS = DATA / "photos"
EXPECTED = {f["file"]: f for f in json.loads((DATA / "photos_expected.json").read_text())["files"]}
MIMES = {".jpg": "image/jpeg", ".heic": "image/heic", ".pdf": "application/pdf"}


def declaration(
    name: str,
    kind: str = "site",
    *,
    data: bytes | None = None,
    captured_at: str | None = "2026-11-20T10:05:00+08:00",
    lat: float | None = None,
    lon: float | None = None,
) -> dict:
    """A file declaration as a phone puts it in a record (hash and size of the real file)."""
    data = (PHOTOS / name).read_bytes() if data is None else data
    return {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "mime": MIMES[Path(name).suffix.lower()],
        "captured_at": captured_at,
        "lat": lat,
        "lon": lon,
        "accuracy_m": 8.0 if lat is not None else None,
    }


def as_declared_by_exif(name: str, kind: str = "site") -> dict:
    """A declaration that agrees with the photo's own EXIF (time read in Asia/Shanghai)."""
    facts = EXPECTED[name]
    taken = facts["DateTimeOriginal"]
    captured = None
    if taken:
        day, clock = taken.split(" ")
        offset = facts.get("OffsetTimeOriginal") or "+08:00"
        captured = f"{day.replace(':', '-')}T{clock}{offset}"
    return declaration(
        name, kind, captured_at=captured, lat=facts.get("gps_lat"), lon=facts.get("gps_lon")
    )


def split_url(url: str) -> tuple[str, dict]:
    """A local signed URL as (path, query) for the Flask test client."""
    parts = urlsplit(url)
    return parts.path, parts.query


def put_local(client, target: dict, data: bytes, **overrides):
    """PUT `data` to a local signed upload URL with the headers the server returned."""
    headers = {k: v for k, v in target["headers"].items() if k.lower() != "content-length"}
    headers.update(overrides.pop("headers", {}))
    return client.put(target["url"], data=data, headers=headers, **overrides)


def upload_url(client, headers: dict, file_id: str):
    return client.post(f"/evidence/{file_id}/upload-url", headers=headers)


def complete(client, headers: dict, file_id: str):
    """Complete an upload, then wait for the photo's thumbnail job: a test writes next (on
    SQLite a running job holds the write lock). The answer is the completion's (its thumbnail
    still pending)."""
    done = client.post(f"/evidence/{file_id}/complete", headers=headers)
    finish_jobs()
    return done


def upload_and_complete(client, headers: dict, file_id: str, data: bytes) -> dict:
    target = upload_url(client, headers, file_id)
    assert target.status_code == 200, target.get_json()
    stored = put_local(client, target.get_json(), data)
    assert stored.status_code == 200, stored.get_json()
    done = complete(client, headers, file_id)
    assert done.status_code == 200, done.get_json()
    return done.get_json()


# --------------------------------------------------------------------------- S3 app


@pytest.fixture(scope="session")
def _s3_app(app_config, s3_endpoint, s3_bucket):
    """The app configured with ``s3://bucket``, on the same test database as `_app`."""
    config = dataclasses.replace(
        app_config, blob_store=f"s3://{s3_bucket}", s3_endpoint_url=s3_endpoint
    )
    with pytest.MonkeyPatch.context() as env:  # boto3's default credential chain
        env.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
        env.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
        env.setenv("AWS_DEFAULT_REGION", CREDENTIALS["region_name"])
        app = create_app(config)
    store = app.extensions["fieldvisit.blobs"]
    assert isinstance(store, S3BlobStore)
    # moto records a declared checksum without checking it: make `complete` read objects
    # through, as a deployment on such an S3-compatible store must.
    store.trust_store_checksums = False
    app.config["TESTING"] = True
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def s3_app(_s3_app):
    with _s3_app.app_context():
        yield _s3_app
        db.session.remove()
        _s3_app.extensions["fieldvisit.jobs"].drain()  # no job thread writes while rows go
        wipe()


@pytest.fixture
def s3_client_app(s3_app):
    return s3_app.test_client()


@pytest.fixture
def s3_world(s3_app, s3_client_app):
    from tests.factories import World

    return World(s3_app, s3_client_app)


def finish_jobs() -> None:
    """Wait until every job sent so far has run (a promise's PDF, a thumbnail), then look at
    the database afresh."""
    current_app.extensions["fieldvisit.jobs"].drain()
    db.session.rollback()
