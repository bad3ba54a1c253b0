"""Blob stores under test: the local disk store and S3 over HTTP (moto's standalone server on a
loopback port, one bucket for the session)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from api.services.evidence.local_store import LocalBlobStore
from api.services.evidence.s3_store import S3BlobStore, s3_client
from api.services.evidence.storage import BlobStore
from tests.s3_server import CREDENTIALS

SECRET = "test-blob-secret"


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
