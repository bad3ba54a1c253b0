"""moto's standalone S3 server on a loopback port and one bucket, shared by the whole session
(registered as a plugin in tests/conftest.py)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from api.services.evidence.s3_store import s3_client

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
