"""Blob stores under test: the local disk store and S3 over HTTP (moto's standalone server on a
loopback port, one bucket for the session)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.services.storage import BlobStore, LocalBlobStore, S3BlobStore, s3_client

SECRET = "test-blob-secret"
CREDENTIALS = {
    "region_name": "us-east-1",
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3_bucket(s3_endpoint: str) -> str:
    bucket = f"fv-evidence-{uuid.uuid4().hex[:8]}"
    s3_client(s3_endpoint, **CREDENTIALS).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_store(s3_endpoint: str, s3_bucket: str) -> S3BlobStore:
    return S3BlobStore(s3_bucket, client=s3_client(s3_endpoint, **CREDENTIALS))


@pytest.fixture
def local_store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", SECRET, base_url="http://testserver/blobs")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> BlobStore:
    """Each contract test runs once per implementation."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def key() -> str:
    return f"evidence/42/{uuid.uuid4()}/original"
