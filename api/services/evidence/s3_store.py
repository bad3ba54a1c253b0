"""Evidence blobs in an S3 bucket (any S3-compatible store), through boto3."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, BinaryIO
from urllib.parse import quote

from api.services.evidence.storage import (
    S3_CONNECT_TIMEOUT_S,
    S3_MAX_ATTEMPTS,
    S3_PART_SIZE,
    S3_READ_TIMEOUT_S,
    SHA256_HEX,
    BlobStore,
    HashingReader,
    ReadableStream,
    StoredBlob,
    TooLarge,
    check_expected,
    check_key,
    normalize_sha256,
    too_large,
)
from api.services.exceptions import InvalidInput, NotFound

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
        reader = HashingReader(stream, expected_size)
        try:
            self.client.upload_fileobj(reader, self.bucket, key, ExtraArgs=extra, Config=transfer)
        except Exception as exc:
            if _is_too_large(exc):  # nothing was completed: the multipart upload is aborted
                raise too_large(expected_size or 0) from None
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
        return sha if sha and SHA256_HEX.match(sha) else None

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

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_too_large(exc: BaseException | None) -> bool:
    """s3transfer may wrap an exception raised while reading the stream."""
    while exc is not None:
        if isinstance(exc, TooLarge):
            return True
        exc = exc.__cause__ or exc.__context__
    return False

