"""Blob storage for evidence files: local disk or S3, behind one interface.

Keys are per record, not content-addressed: ``evidence/<case_id>/<record uuid>/original`` holds
the uploaded file exactly as received and ``.../thumbnail.jpg`` (or other derived copies) sits
beside it. A record's files are then found, retained and deleted together, and the same photo
filed twice stays two pieces of evidence; the SHA-256 lives in the record's row.

Uploads are streamed in chunks and verified (size, SHA-256) on the way; a blob that fails the
check is removed before `InvalidInput` is raised. Devices upload out of band: to S3 through a
presigned PUT with the SHA-256 signed in (S3 itself refuses a body that does not match), or in
local mode to the server's own streaming PUT endpoint through an HMAC-signed URL.

The stores: `local_store.LocalBlobStore` and `s3_store.S3BlobStore`; `blob_store_from_config`
picks one.

Local layout under ``root``: the blob at ``root/<key>``, its SHA-256 in a sidecar
``root/.sha256/<key>`` ("<hex> <size> <mtime_ns>"). `head` trusts the sidecar only while the
blob's size and mtime still match it and recomputes the hash otherwise.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from api.services.exceptions import InvalidInput, NotFound, TemporarilyUnavailable

CHUNK = 1024 * 1024
SPOOL_BYTES = 8 * 1024 * 1024  # S3 bodies are copied to a spooled file for Pillow to seek in
S3_PART_SIZE = 8 * 1024 * 1024
KEY_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
SIDECAR_DIR = ".sha256"
S3_CONNECT_TIMEOUT_S, S3_READ_TIMEOUT_S, S3_MAX_ATTEMPTS = 5, 30, 3
FULL_RETRY_AFTER_S, UNREACHABLE_RETRY_AFTER_S = 300, 30
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class ReadableStream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class StoredBlob:
    """What the store knows of an object; `sha256` (hex) is None when the store cannot tell."""

    size: int
    sha256: str | None


@dataclass(frozen=True)
class LocalGrant:
    """The decoded, verified query of a locally signed URL."""

    method: str
    key: str
    expires_at: int
    sha256: str | None = None
    size: int | None = None
    content_type: str | None = None
    filename: str | None = None


def evidence_key(case_id: int | str, record_id: str, name: str = "original") -> str:
    """Key of one file of an evidence record: `original`, `thumbnail.jpg`, ..."""
    return check_key(f"evidence/{case_id}/{record_id}/{name}")


def check_key(key: str) -> str:
    """Refuse keys that could escape the store root or collide with its own files."""
    parts = key.split("/") if isinstance(key, str) else []
    if not parts or len(key) > 512 or not all(KEY_SEGMENT.match(p) for p in parts):
        raise InvalidInput("invalid blob key", fields={"key": ["not a valid blob key"]})
    return key


def normalize_sha256(value: str, field: str = "sha256") -> str:
    """Lower-case hex SHA-256, or `InvalidInput` naming `field`."""
    hex_value = value.lower() if isinstance(value, str) else ""
    if not SHA256_HEX.match(hex_value):
        raise InvalidInput("invalid SHA-256", fields={field: ["must be 64 hexadecimal digits"]})
    return hex_value


def hash_stream(stream: ReadableStream, chunk: int = CHUNK) -> StoredBlob:
    """Size and SHA-256 of everything left in `stream`, read in chunks."""
    digest, size = hashlib.sha256(), 0
    while block := stream.read(chunk):
        digest.update(block)
        size += len(block)
    return StoredBlob(size=size, sha256=digest.hexdigest())


def check_expected(
    actual: StoredBlob, expected_sha256: str | None, expected_size: int | None
) -> None:
    """Raise `InvalidInput` naming "size" or "sha256" when `actual` differs from a declaration."""
    if expected_size is not None and actual.size != expected_size:
        raise InvalidInput(
            "the file's size differs from the declared size",
            fields={"size": [f"declared {expected_size} bytes, received {actual.size}"]},
            code="checksum_mismatch",
        )
    if expected_sha256 is not None and actual.sha256 != expected_sha256.lower():
        raise InvalidInput(
            "the file's SHA-256 differs from the declared one",
            fields={"sha256": ["the received bytes do not match the declared SHA-256"]},
            code="checksum_mismatch",
        )


class HashingReader:
    """Reads a stream for an uploader, hashing and counting as it goes; not seekable on purpose,
    so an uploader reads it once, in order."""

    def __init__(self, stream: ReadableStream, limit: int | None):
        self._stream = stream
        self._limit = limit
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        size = CHUNK if size is None or size < 0 else size
        block = self._stream.read(size)
        self.digest.update(block)
        self.size += len(block)
        if self._limit is not None and self.size > self._limit:
            raise TooLarge
        return block

    def result(self) -> StoredBlob:
        return StoredBlob(size=self.size, sha256=self.digest.hexdigest())


class TooLarge(Exception):
    """The stream ran past the declared size; stop reading at once."""


def too_large(expected_size: int) -> InvalidInput:
    return InvalidInput(
        "the file is larger than its declared size",
        fields={"size": [f"declared {expected_size} bytes, received more"]},
        code="checksum_mismatch",
    )


def store_unavailable(exc: BaseException) -> TemporarilyUnavailable | None:
    """The transient failure behind `exc` (a full disk, an S3 endpoint unreachable, slow or
    overloaded) as a 503 for the client to retry, or None for any other error."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            return TemporarilyUnavailable(
                "The file store is full; the upload was not kept. Retry later.",
                retry_after=FULL_RETRY_AFTER_S, code="blob_store_full",
            )
        if isinstance(exc, ConnectionError | HTTPClientError) or (
            isinstance(exc, ClientError)
            and str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")) in
            ("500", "502", "503", "504")
        ):
            return TemporarilyUnavailable(
                "The file store cannot be reached just now. Retry later.",
                retry_after=UNREACHABLE_RETRY_AFTER_S, code="blob_store_unavailable",
            )
        exc = exc.__cause__ or exc.__context__
    return None


def transient_as_503(method):
    """Turn a store method's transient failures into `TemporarilyUnavailable`."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except TemporarilyUnavailable:
            raise
        except Exception as exc:
            unavailable = store_unavailable(exc)
            if unavailable is None:
                raise
            raise unavailable from exc

    return wrapper


class BlobStore(ABC):
    """Where originals, thumbnails and generated documents are kept. A full disk or an
    unreachable S3 is `TemporarilyUnavailable` (503 + Retry-After) from every method."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("put_stream", "head", "open", "delete", "exists"):
            if name in vars(cls):
                setattr(cls, name, transient_as_503(vars(cls)[name]))

    @abstractmethod
    def put_stream(
        self,
        key: str,
        stream: ReadableStream,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        content_type: str,
    ) -> StoredBlob:
        """Store everything read from `stream` under `key`, in constant memory; verify it."""

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> StoredBlob:
        """Store a small, server-made object (thumbnail, PDF)."""
        return self.put_stream(key, io.BytesIO(data), content_type=content_type)

    @abstractmethod
    def presign_put(
        self, key: str, *, sha256_hex: str, size: int, content_type: str, expires_s: int = 900
    ) -> dict[str, Any]:
        """A URL a device can PUT exactly this file to: ``{"url", "method", "headers"}``."""

    @abstractmethod
    def head(self, key: str) -> StoredBlob | None:
        """Size and SHA-256 of a stored object, or None when there is none."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A binary stream of the object (read it in chunks); `NotFound` if absent."""

    @abstractmethod
    def presign_get(self, key: str, *, expires_s: int = 300, filename: str | None = None) -> str:
        """A short-lived download URL (as an attachment named `filename`)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; removing an absent object is not an error."""

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot take files now (a readiness probe: cheap, no object
        read or written)."""


def verify_blob(store: BlobStore, key: str, *, sha256_hex: str, size: int) -> StoredBlob:
    """Check a stored object against its declaration: `NotFound`, or `InvalidInput` naming
    "size"/"sha256". Uses the store's own checksum when it reports one, else reads it through."""
    found = store.head(key)
    if found is None:
        raise NotFound("the file has not been uploaded", fields={"file": ["not uploaded"]})
    if found.size == size and found.sha256 is None:
        with store.open(key) as stream:
            found = hash_stream(stream)
    check_expected(found, sha256_hex, size)
    return found


def blob_store_from_config(
    blob_store: str, s3_endpoint_url: str | None, secret: str, base_url: str = ""
) -> BlobStore:
    """``local:DIR`` or ``s3://bucket`` (``FIELDVISIT_BLOB_STORE``) to a store (each imported
    only when chosen: boto3 costs the embedded default nothing)."""
    from api.services.evidence.local_store import LocalBlobStore
    from api.services.evidence.s3_store import S3BlobStore

    if blob_store.startswith("local:"):
        return LocalBlobStore(Path(blob_store.removeprefix("local:")), secret, base_url)
    if blob_store.startswith("s3://"):
        bucket = blob_store.removeprefix("s3://").strip("/")
        if bucket and "/" not in bucket:
            return S3BlobStore(bucket, endpoint_url=s3_endpoint_url)
    raise InvalidInput(
        "blob store must be 'local:DIR' or 's3://bucket'",
        fields={"blob_store": ["must be 'local:DIR' or 's3://bucket'"]},
    )


@contextmanager
def seekable(blobs: BlobStore, key: str) -> Iterator[BinaryIO]:
    """The stored object as a seekable stream: the file itself on local disk, else a spooled
    copy (memory up to 8 MB, then a temporary file)."""
    with blobs.open(key) as stream:
        if getattr(stream, "seekable", lambda: False)():
            yield stream
            return
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as copy:
            shutil.copyfileobj(stream, copy, 1024 * 1024)
            copy.seek(0)
            yield copy  # type: ignore[misc]
