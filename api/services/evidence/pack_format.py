"""Evidence packs: a ZIP of a case's original files, a manifest and the audit trail, written as a
stream and verifiable offline.

Layout: ``originals/<name>`` (the stored bytes, unaltered), ``audit.json``, ``manifest.json``
(each file's SHA-256, size, capture time and place, uploader, device, server receive time) and
``manifest.sha256`` (``sha256sum`` format, so ``sha256sum -c`` works after unzipping).

Originals are hashed while they are copied in: the manifest records what the pack holds and,
beside it, the hash recorded at upload, so a stored file altered since upload shows up as a
problem rather than silently becoming "the original". The manifest's own SHA-256 is what an
export should write to the hash-chained audit log: a pack checked against that value cannot have
been rebuilt with a doctored manifest.

The manifest's ``audit_heads`` is a statement of the audit chains' heads signed (Ed25519) when
the pack was made, after its own audit row: verification checks the signature, optionally
against the published audit public key (`fieldvisit audit public-key`), and that every row of
``audit.json`` is covered by it (docs/audit.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from api.services.exceptions import InvalidInput

FORMAT = "fieldvisit-evidence-pack/1"
HEADS_FORMAT = "fieldvisit-audit-heads/1"
MANIFEST, MANIFEST_SHA256, AUDIT = "manifest.json", "manifest.sha256", "audit.json"
CHUNK = 1024 * 1024
_SAFE_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,200}$")


@dataclass(frozen=True)
class PackItem:
    """One original file. `open` returns a fresh binary stream of the stored bytes (the pack
    closes it); `sha256` and `size` are the values recorded when the file was received."""

    name: str
    open: Callable[[], BinaryIO]
    sha256: str
    size: int
    mime: str
    kind: str
    uploader: str
    device: str
    received_at: str
    captured_at: str | None = None
    lat: float | None = None
    lon: float | None = None
    accuracy: float | None = None
    record_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PackReport:
    ok: bool
    files_checked: int
    problems: list[str]
    audit_heads_key: str | None = None  # the public key whose signature on the heads holds


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _stamp(manifest_meta: dict[str, Any]) -> tuple[int, int, int, int, int, int]:
    """ZIP entry time: the pack's `generated_at` (UTC) when given, so equal input gives an equal
    archive."""
    raw = manifest_meta.get("generated_at")
    moment = datetime.fromisoformat(raw) if isinstance(raw, str) else datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return max(moment, datetime(1980, 1, 1, tzinfo=moment.tzinfo)).timetuple()[:6]


def _entry(name: str, stamp: tuple[int, ...], compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=stamp)  # type: ignore[arg-type]
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o100444 << 16  # a read-only regular file
    return info


def _check_names(items: list[PackItem]) -> None:
    seen: set[str] = set()
    for item in items:
        if not _SAFE_NAME.match(item.name) or item.name in (".", ".."):
            raise InvalidInput("invalid file name in pack", fields={"name": [item.name]})
        if item.name in seen:
            raise InvalidInput("duplicate file name in pack", fields={"name": [item.name]})
        seen.add(item.name)


def _pack_steps(
    out: Any, items: Iterable[PackItem], manifest_meta: dict[str, Any], audit_trail: list[dict]
) -> Generator[None, None, str]:
    """Write the pack to `out`, yielding after every chunk so a caller can drain the sink;
    returns the manifest's SHA-256."""
    entries = list(items)
    _check_names(entries)
    stamp = _stamp(manifest_meta)
    files = []
    with zipfile.ZipFile(out, "w", allowZip64=True) as archive:
        for item in entries:
            path = f"originals/{item.name}"
            digest, size = hashlib.sha256(), 0
            with (
                item.open() as source,
                archive.open(_entry(path, stamp, compress=False), "w", force_zip64=True) as target,
            ):
                while block := source.read(CHUNK):
                    digest.update(block)
                    size += len(block)
                    target.write(block)
                    yield
            files.append(_manifest_entry(item, path, digest.hexdigest(), size))
        audit = _json_bytes(audit_trail)
        archive.writestr(_entry(AUDIT, stamp, compress=True), audit)
        manifest = _json_bytes(
            {
                **manifest_meta,
                "format": FORMAT,
                "files": files,
                "audit": {
                    "path": AUDIT,
                    "sha256": hashlib.sha256(audit).hexdigest(),
                    "size": len(audit),
                    "entries": len(audit_trail),
                },
            }
        )
        archive.writestr(_entry(MANIFEST, stamp, compress=True), manifest)
        manifest_sha256 = hashlib.sha256(manifest).hexdigest()
        line = f"{manifest_sha256}  {MANIFEST}\n".encode()
        archive.writestr(_entry(MANIFEST_SHA256, stamp, compress=False), line)
        yield
    return manifest_sha256


def _manifest_entry(item: PackItem, path: str, sha256: str, size: int) -> dict[str, Any]:
    entry = {k: v for k, v in asdict(item).items() if k not in ("open", "name", "extra")}
    entry |= item.extra
    entry |= {
        "path": path,
        "sha256": sha256,
        "size": size,
        "recorded_sha256": item.sha256.lower(),
        "recorded_size": item.size,
        "matches_record": sha256 == item.sha256.lower() and size == item.size,
    }
    return entry


def _drive(steps: Generator[None, None, str]) -> str:
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def write_pack(
    out: BinaryIO,
    items: Iterable[PackItem],
    manifest_meta: dict[str, Any],
    audit_trail: list[dict],
) -> str:
    """Write the pack to `out` (seekable or not) and return the manifest's SHA-256 (hex), the
    value the export should record in the audit log."""
    return _drive(_pack_steps(out, items, manifest_meta, audit_trail))


class _ChunkSink:
    """A write-only, non-seekable file for ZipFile; `drain` hands over what was written."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.pending = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self.pending += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts, self.pending = [], 0
        return data


def iter_pack(
    items: Iterable[PackItem],
    manifest_meta: dict[str, Any],
    audit_trail: list[dict],
    *,
    chunk_size: int = 256 * 1024,
    on_manifest: Callable[[str], None] | None = None,
) -> Iterator[bytes]:
    """The pack as a stream of byte chunks (for a streamed HTTP response); memory stays flat.
    `on_manifest` receives the manifest's SHA-256 once it is written."""
    sink = _ChunkSink()
    steps = _pack_steps(sink, items, manifest_meta, audit_trail)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            if on_manifest is not None:
                on_manifest(done.value)
            break
        if sink.pending >= chunk_size:
            yield sink.drain()
    if tail := sink.drain():
        yield tail


# --------------------------------------------------------------------------- verification


def _hash_member(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with archive.open(name) as member:
        while block := member.read(CHUNK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def verify_pack(
    path: str | Path | BinaryIO,
    *,
    expected_manifest_sha256: str | None = None,
    audit_public_key: str | None = None,
) -> PackReport:
    """Recompute every file's SHA-256 against the manifest. Reports missing, extra and altered
    files (by name), an altered manifest or audit trail, originals that differed from the
    hash recorded at upload, and signed audit heads that do not verify or do not cover the
    trail. `expected_manifest_sha256` is the value the export audited; `audit_public_key` the
    published key the heads must be signed with."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        return PackReport(False, 0, [f"not a readable ZIP archive ({exc})"])
    with archive:
        return _verify(archive, expected_manifest_sha256, audit_public_key)


def _verify(archive: zipfile.ZipFile, expected_manifest_sha256: str | None,
            audit_public_key: str | None = None) -> PackReport:
    problems: list[str] = []
    names = archive.namelist()
    problems += [f"{n}: duplicate entry" for n in sorted({n for n in names if names.count(n) > 1})]
    if MANIFEST not in names:
        return PackReport(False, 0, [*problems, f"{MANIFEST}: missing"])
    manifest_bytes = _read_small(archive, MANIFEST, problems)
    if manifest_bytes is None:
        return PackReport(False, 0, problems)
    manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
    if MANIFEST_SHA256 not in names:
        problems.append(f"{MANIFEST_SHA256}: missing")
    else:
        recorded = (_read_small(archive, MANIFEST_SHA256, problems) or b"").split(b" ")[0]
        if recorded.decode("ascii", "replace").strip() != manifest_sha:
            problems.append(f"{MANIFEST}: altered (its SHA-256 differs from {MANIFEST_SHA256})")
    if expected_manifest_sha256 and expected_manifest_sha256.lower() != manifest_sha:
        problems.append(f"{MANIFEST}: differs from the manifest recorded at export")
    try:
        manifest = json.loads(manifest_bytes)
        files = list(manifest["files"])
    except (ValueError, KeyError, TypeError):
        return PackReport(False, 0, [*problems, f"{MANIFEST}: not a valid manifest"])
    checked = 0
    listed = {MANIFEST, MANIFEST_SHA256}
    audit = manifest.get("audit") or {"path": AUDIT}
    for is_original, entry in [*((True, f) for f in files), (False, audit)]:
        name = str(entry.get("path"))
        listed.add(name)
        if name not in names:
            problems.append(f"{name}: missing")
            continue
        try:
            sha, size = _hash_member(archive, name)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            problems.append(f"{name}: altered (unreadable: {exc})")
            continue
        if sha != entry.get("sha256") or size != entry.get("size"):
            problems.append(f"{name}: altered (SHA-256 or size differs from the manifest)")
        elif entry.get("recorded_sha256") not in (None, sha):
            problems.append(f"{name}: differed from the hash recorded at upload when packed")
        checked += is_original
    problems += [f"{n}: extra file not in the manifest" for n in sorted(set(names) - listed)]
    signer = None
    if manifest.get("audit_heads") is not None:
        trail = _read_small(archive, str(audit.get("path")), []) if str(
            audit.get("path")) in names else None
        signer = _check_heads(manifest["audit_heads"], trail, audit_public_key, problems)
    elif audit_public_key:
        problems.append(f"{MANIFEST}: carries no signed audit heads to check against the key")
    return PackReport(not problems, checked, problems, signer)


def _check_heads(signed: Any, trail: bytes | None, public_key: str | None,
                 problems: list[str]) -> str | None:
    """Check the signed audit heads; returns the public key that signed them if it holds."""
    try:
        statement = json.loads(signed["statement"])
        key = str(statement["public_key"])
        shards = dict(statement["shards"])
        if statement.get("format") != HEADS_FORMAT:
            raise ValueError(statement.get("format"))
    except (ValueError, KeyError, TypeError):
        problems.append(f"{MANIFEST}: audit_heads is not a signed head statement")
        return None
    if public_key and public_key.strip() != key:
        problems.append("audit heads: signed by a key other than the published audit key")
        return None
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(key, validate=True)).verify(
            base64.b64decode(str(signed.get("signature")), validate=True),
            str(signed["statement"]).encode())
    except (InvalidSignature, ValueError, binascii.Error):
        problems.append("audit heads: the signature does not verify (statement altered)")
        return None
    try:
        rows = json.loads(trail) if trail is not None else []
    except ValueError:
        rows = []
    for row in rows:
        if not isinstance(row, dict) or "shard" not in row:
            continue
        head = shards.get(str(row["shard"]))
        if head is None or row["id"] > head["last_id"]:
            problems.append(f"{AUDIT}: row {row['id']} is not covered by the signed audit heads")
        elif row["id"] == head["last_id"] and row.get("hash") != head["last_hash"]:
            problems.append(f"{AUDIT}: row {row['id']} differs from the signed head of its shard")
    return key


def _read_small(archive: zipfile.ZipFile, name: str, problems: list[str]) -> bytes | None:
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        problems.append(f"{name}: altered (unreadable: {exc})")
        return None
