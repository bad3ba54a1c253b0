"""Evidence blobs on local disk, and the HMAC-signed URLs through which phones upload to and
legal staff download from the server's own streaming endpoint."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode

from api.services.evidence.storage import (
    CHUNK,
    SIDECAR_DIR,
    BlobStore,
    HashingReader,
    LocalGrant,
    ReadableStream,
    StoredBlob,
    TooLarge,
    check_expected,
    check_key,
    hash_stream,
    normalize_sha256,
    too_large,
)
from api.services.exceptions import Forbidden, NotFound

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
        return self.root / SIDECAR_DIR / check_key(key)

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
            reader = HashingReader(stream, expected_size)
            with os.fdopen(fd, "wb") as out:
                try:
                    while block := reader.read(CHUNK):
                        out.write(block)
                except TooLarge:
                    raise too_large(expected_size or 0) from None
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

    def ping(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write to {self.root}")

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

