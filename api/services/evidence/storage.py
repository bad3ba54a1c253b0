"""Blob storage for evidence files: local disk or S3, behind one interface.

Keys are per record, not content-addressed: ``evidence/<case_id>/<record uuid>/original`` holds
the uploaded file exactly as received and ``.../thumbnail.jpg`` (or other derived copies) sits
beside it. A record's files are then found, retained and deleted together, and the same photo
filed twice stays two pieces of evidence; the SHA-256 lives in the record's row.

Uploads are streamed in chunks and verified (size, SHA-256) on the way; a blob that fails the
check is removed before `InvalidInput` is raised. Devices upload out of band: to S3 through a
presigned PUT with the SHA-256 signed in (S3 itself refuses a body that does not match), or in
local mode to the server's own streaming PUT endpoint through an HMAC-signed URL.

Local layout under ``root``: the blob at ``root/<key>``, its SHA-256 in a sidecar
``root/.sha256/<key>`` ("<hex> <size> <mtime_ns>"). `head` trusts the sidecar only while the
blob's size and mtime still match it and recomputes the hash otherwise.
"""

from __future__ import annotations

import base64
import errno
import functools
import hashlib
import hmac
import io
import os
import re
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import quote, urlencode

from api.services.exceptions import Forbidden, InvalidInput, NotFound, TemporarilyUnavailable

CHUNK = 1024 * 1024
S3_PART_SIZE = 8 * 1024 * 1024
_KEY_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_SIDECAR_DIR = ".sha256"
S3_CONNECT_TIMEOUT_S, S3_READ_TIMEOUT_S, S3_MAX_ATTEMPTS = 5, 30, 3
FULL_RETRY_AFTER_S, UNREACHABLE_RETRY_AFTER_S = 300, 30
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


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
    if not parts or len(key) > 512 or not all(_KEY_SEGMENT.match(p) for p in parts):
        raise InvalidInput("invalid blob key", fields={"key": ["not a valid blob key"]})
    return key


def normalize_sha256(value: str, field: str = "sha256") -> str:
    """Lower-case hex SHA-256, or `InvalidInput` naming `field`."""
    hex_value = value.lower() if isinstance(value, str) else ""
    if not _SHA256_HEX.match(hex_value):
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


class _HashingReader:
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
            raise _TooLarge
        return block

    def result(self) -> StoredBlob:
        return StoredBlob(size=self.size, sha256=self.digest.hexdigest())


class _TooLarge(Exception):
    """The stream ran past the declared size; stop reading at once."""


def _too_large(expected_size: int) -> InvalidInput:
    return InvalidInput(
        "the file is larger than its declared size",
        fields={"size": [f"declared {expected_size} bytes, received more"]},
        code="checksum_mismatch",
    )


def _store_unavailable(exc: BaseException) -> TemporarilyUnavailable | None:
    """The transient failure behind `exc` (a full disk, an S3 endpoint unreachable, slow or
    overloaded) as a 503 for the client to retry, or None for any other error."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
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


def _transient_as_503(method):
    """Turn a store method's transient failures into `TemporarilyUnavailable`."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except TemporarilyUnavailable:
            raise
        except Exception as exc:
            unavailable = _store_unavailable(exc)
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
                setattr(cls, name, _transient_as_503(vars(cls)[name]))

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


# --------------------------------------------------------------------------- local signed URLs


def _url_key(secret: str) -> bytes:
    return hashlib.sha256(b"fieldvisit blob url v1\x00" + secret.encode()).digest()


def _signature(secret: str, fields: Mapping[str, str]) -> str:
    message = "\n".join(f"{name}={fields[name]}" for name in sorted(fields)).encode()
    mac = hmac.new(_url_key(secret), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def sign_local(secret: str, grant: LocalGrant) -> dict[str, str]:
    """Query parameters (with ``sig``) for a locally signed URL granting `grant`."""
    fields = {"method": grant.method, "key": grant.key, "exp": str(grant.expires_at)}
    optional = {
        "sha256": grant.sha256,
        "size": None if grant.size is None else str(grant.size),
        "ct": grant.content_type,
        "fn": grant.filename,
    }
    fields |= {name: value for name, value in optional.items() if value is not None}
    query = {k: v for k, v in fields.items() if k not in ("method", "key")}
    return query | {"sig": _signature(secret, fields)}


def verify_local_signature(
    secret: str, method: str, key: str, query: Mapping[str, str], *, now: float | None = None
) -> LocalGrant:
    """Check a locally signed URL (method, key and query) and return what it grants.

    Raises `Forbidden` with code "bad_signature" or "url_expired"."""
    fields = {k: query[k] for k in ("exp", "sha256", "size", "ct", "fn") if k in query}
    fields |= {"method": method.upper(), "key": key}
    expected = _signature(secret, fields)
    given = str(query.get("sig", "")).encode("utf-8", "surrogatepass")  # may be any text
    if not hmac.compare_digest(expected.encode(), given):
        raise Forbidden("the link's signature is not valid", code="bad_signature")
    expires_at = int(fields["exp"])
    if (time.time() if now is None else now) > expires_at:
        raise Forbidden("the link has expired", code="url_expired")
    size = fields.get("size")
    return LocalGrant(
        method=fields["method"],
        key=key,
        expires_at=expires_at,
        sha256=fields.get("sha256"),
        size=None if size is None else int(size),
        content_type=fields.get("ct"),
        filename=fields.get("fn"),
    )


# --------------------------------------------------------------------------- local disk


class LocalBlobStore(BlobStore):
    """Blobs as files under `root`; signed URLs point at ``<base_url>/<key>``, the server's own
    streaming endpoint, which checks them with `verify_signature`."""

    def __init__(self, root: Path | str, secret: str, base_url: str = ""):
        self.root = Path(root)
        self._secret = secret
        self.base_url = base_url.rstrip("/")

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _sidecar(self, key: str) -> Path:
        return self.root / _SIDECAR_DIR / check_key(key)

    def put_stream(
        self,
        key: str,
        stream: ReadableStream,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        content_type: str,
    ) -> StoredBlob:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        tmp = Path(tmp_name)
        try:
            reader = _HashingReader(stream, expected_size)
            with os.fdopen(fd, "wb") as out:
                try:
                    while block := reader.read(CHUNK):
                        out.write(block)
                except _TooLarge:
                    raise _too_large(expected_size or 0) from None
                out.flush()
                os.fsync(out.fileno())
            stored = reader.result()
            check_expected(stored, expected_sha256, expected_size)
            self._write_sidecar(key, stored, tmp.stat().st_mtime_ns)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return stored

    def _write_sidecar(self, key: str, blob: StoredBlob, mtime_ns: int) -> None:
        sidecar = self._sidecar(key)
        sidecar.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=sidecar.parent)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(f"{blob.sha256} {blob.size} {mtime_ns}\n")
        os.replace(tmp, sidecar)

    def head(self, key: str) -> StoredBlob | None:
        try:
            stat = self._path(key).stat()
        except FileNotFoundError:
            return None
        try:
            sha, size, mtime_ns = self._sidecar(key).read_text(encoding="ascii").split()
            if int(size) == stat.st_size and int(mtime_ns) == stat.st_mtime_ns:
                return StoredBlob(size=stat.st_size, sha256=sha)
        except (FileNotFoundError, ValueError):
            pass
        with self.open(key) as stream:
            blob = hash_stream(stream)
        self._write_sidecar(key, blob, stat.st_mtime_ns)
        return blob

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise NotFound("no such file", fields={"key": ["not found"]}) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
        self._sidecar(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _signed_url(self, grant: LocalGrant) -> str:
        query = urlencode(sign_local(self._secret, grant))
        return f"{self.base_url}/{quote(grant.key)}?{query}"

    def presign_put(
        self, key: str, *, sha256_hex: str, size: int, content_type: str, expires_s: int = 900
    ) -> dict[str, Any]:
        grant = LocalGrant(
            method="PUT",
            key=check_key(key),
            expires_at=int(time.time()) + expires_s,
            sha256=normalize_sha256(sha256_hex),
            size=size,
            content_type=content_type,
        )
        headers = {"Content-Type": content_type, "Content-Length": str(size)}
        return {"url": self._signed_url(grant), "method": "PUT", "headers": headers}

    def presign_get(self, key: str, *, expires_s: int = 300, filename: str | None = None) -> str:
        grant = LocalGrant(
            method="GET",
            key=check_key(key),
            expires_at=int(time.time()) + expires_s,
            filename=filename,
        )
        return self._signed_url(grant)

    def verify_signature(
        self, method: str, key: str, query: Mapping[str, str], *, now: float | None = None
    ) -> LocalGrant:
        """For the streaming endpoint: what a signed URL grants, or `Forbidden`."""
        return verify_local_signature(self._secret, method, check_key(key), query, now=now)


# --------------------------------------------------------------------------- S3


def s3_client(endpoint_url: str | None = None, **client_kwargs: Any) -> Any:
    """A boto3 S3 client that sends checksums only when an operation requires them (so
    S3-compatible stores without the 2025 default checksums keep working)."""
    import boto3
    from botocore.config import Config

    config = Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        connect_timeout=S3_CONNECT_TIMEOUT_S,
        read_timeout=S3_READ_TIMEOUT_S,
        retries={"max_attempts": S3_MAX_ATTEMPTS, "mode": "standard"},
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config, **client_kwargs)


def _content_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


class S3BlobStore(BlobStore):
    """Blobs in one S3 bucket. `trust_store_checksums=False` for an S3-compatible store that
    records a declared checksum without checking it (moto does): `head` then reports no SHA-256
    from it and `verify_blob` reads the object through."""

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        client: Any = None,
        *,
        trust_store_checksums: bool = True,
    ):
        self.bucket = bucket
        self.client = client if client is not None else s3_client(endpoint_url)
        self.trust_store_checksums = trust_store_checksums

    def put_stream(
        self,
        key: str,
        stream: ReadableStream,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        content_type: str,
    ) -> StoredBlob:
        from boto3.s3.transfer import TransferConfig

        check_key(key)
        extra: dict[str, Any] = {"ContentType": content_type, "ChecksumAlgorithm": "SHA256"}
        if expected_sha256 is not None:
            extra["Metadata"] = {"sha256": normalize_sha256(expected_sha256)}
        transfer = TransferConfig(
            multipart_threshold=S3_PART_SIZE, multipart_chunksize=S3_PART_SIZE, max_concurrency=2
        )
        transfer.max_in_memory_upload_chunks = 2  # s3transfer's knob; boto3 does not expose it
        reader = _HashingReader(stream, expected_size)
        try:
            self.client.upload_fileobj(reader, self.bucket, key, ExtraArgs=extra, Config=transfer)
        except Exception as exc:
            if _is_too_large(exc):  # nothing was completed: the multipart upload is aborted
                raise _too_large(expected_size or 0) from None
            raise
        stored = reader.result()
        try:
            check_expected(stored, expected_sha256, expected_size)
        except InvalidInput:
            self.delete(key)
            raise
        return stored

    def presign_put(
        self, key: str, *, sha256_hex: str, size: int, content_type: str, expires_s: int = 900
    ) -> dict[str, Any]:
        checksum = base64.b64encode(bytes.fromhex(normalize_sha256(sha256_hex))).decode()
        params = {
            "Bucket": self.bucket,
            "Key": check_key(key),
            "ContentType": content_type,
            "ContentLength": size,
            "ChecksumSHA256": checksum,
            "ChecksumAlgorithm": "SHA256",
        }
        url = self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_s)
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(size),
            "x-amz-checksum-sha256": checksum,
            "x-amz-sdk-checksum-algorithm": "SHA256",
        }
        return {"url": url, "method": "PUT", "headers": headers}

    def head(self, key: str) -> StoredBlob | None:
        from botocore.exceptions import ClientError

        try:
            meta = self.client.head_object(
                Bucket=self.bucket, Key=check_key(key), ChecksumMode="ENABLED"
            )
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return StoredBlob(size=meta["ContentLength"], sha256=self._sha256_of(meta))

    def _sha256_of(self, meta: Mapping[str, Any]) -> str | None:
        """The object's full SHA-256: S3's checksum unless it is a multipart composite (a hash
        of part hashes), else the value `put_stream` verified and kept in metadata."""
        checksum = meta.get("ChecksumSHA256")
        multipart = "-" in str(meta.get("ETag", "")) or meta.get("ChecksumType") == "COMPOSITE"
        if self.trust_store_checksums and checksum and not multipart and "-" not in checksum:
            return base64.b64decode(checksum).hex()
        sha = meta.get("Metadata", {}).get("sha256")
        return sha if sha and _SHA256_HEX.match(sha) else None

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=check_key(key))["Body"]
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise NotFound("no such file", fields={"key": ["not found"]}) from None
            raise

    def presign_get(self, key: str, *, expires_s: int = 300, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": check_key(key)}
        if filename:
            params["ResponseContentDisposition"] = _content_disposition(filename)
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=check_key(key))


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_too_large(exc: BaseException | None) -> bool:
    """s3transfer may wrap an exception raised while reading the stream."""
    while exc is not None:
        if isinstance(exc, _TooLarge):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def blob_store_from_config(
    blob_store: str, s3_endpoint_url: str | None, secret: str, base_url: str = ""
) -> BlobStore:
    """``local:DIR`` or ``s3://bucket`` (``FIELDVISIT_BLOB_STORE``) to a store."""
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
