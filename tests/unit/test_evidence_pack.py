"""Legal staff export a case's evidence as a ZIP and, months later, a court's expert checks it
offline. A flipped byte, a swapped file or an edited manifest must be named."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.commands.evidence import command as evidence_cli
from api.services.evidence.pack_format import PackItem, iter_pack, verify_pack, write_pack
from api.services.evidence.photos import inspect_photo

PHOTOS = Path(__file__).parent.parent / "data" / "photos"
NAMES = ["DSCN0010.jpg", "DSCN0012.jpg", "Kodak_CX7530.jpg", "empty_icc.heic"]
META = {"case_id": 42, "contract_no": "HT-2026-000123", "generated_at": "2026-11-22T08:00:00Z"}
AUDIT = [
    {"id": 1, "action": "photo.upload", "actor": 7, "at": "2026-11-20T02:10:00Z", "hash": "ab"},
    {"id": 2, "action": "evidence.export", "actor": 3, "at": "2026-11-22T08:00:00Z", "hash": "cd"},
]


def _item(name: str) -> PackItem:
    path = PHOTOS / name
    data = path.read_bytes()
    facts = inspect_photo(path)
    return PackItem(
        name=name,
        open=lambda: path.open("rb"),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        mime="image/heic" if name.endswith(".heic") else "image/jpeg",
        kind="photo",
        uploader="collector:7",
        device="device:3f2a",
        received_at="2026-11-20T02:10:00Z",
        captured_at=facts.taken_at.isoformat() if facts.taken_at else None,
        lat=facts.gps_lat,
        lon=facts.gps_lon,
        accuracy=facts.gps_accuracy_m,
        record_id=f"rec-{name}",
    )


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    path = tmp_path / "case-42.zip"
    with path.open("wb") as out:
        write_pack(out, [_item(n) for n in NAMES], META, AUDIT)
    return path


def _rewrite(src: Path, dst: Path, replace: dict[str, bytes], drop=(), add=None) -> None:
    """Rebuild a pack with some members swapped, removed or added (valid CRCs throughout)."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for info in old.infolist():
            if info.filename in drop:
                continue
            new.writestr(info, replace.get(info.filename, old.read(info.filename)))
        for name, data in (add or {}).items():
            new.writestr(name, data)


def test_a_fresh_pack_verifies(pack: Path) -> None:
    report = verify_pack(pack)
    assert report.ok, report.problems
    assert report.files_checked == len(NAMES)
    with zipfile.ZipFile(pack) as archive:
        assert sorted(archive.namelist()) == sorted(
            [f"originals/{n}" for n in NAMES] + ["audit.json", "manifest.json", "manifest.sha256"]
        )
        for name in NAMES:  # originals are byte for byte the stored files
            assert archive.read(f"originals/{name}") == (PHOTOS / name).read_bytes()
        manifest = json.loads(archive.read("manifest.json"))
        line = archive.read("manifest.sha256").decode()
        assert (
            line == f"{hashlib.sha256(archive.read('manifest.json')).hexdigest()}  manifest.json\n"
        )
        assert json.loads(archive.read("audit.json")) == AUDIT
    assert manifest["case_id"] == 42 and manifest["format"] == "fieldvisit-evidence-pack/1"
    first = manifest["files"][0]
    assert first["path"] == "originals/DSCN0010.jpg"
    assert first["captured_at"] == "2008-10-22T16:28:39"
    assert (first["lat"], first["lon"]) == (43.4674483, 11.8851267)
    assert first["sha256"] == first["recorded_sha256"] and first["matches_record"] is True
    assert {"uploader", "device", "received_at", "mime", "kind", "size", "accuracy"} <= set(first)


def test_the_same_input_makes_the_same_pack(tmp_path: Path, pack: Path) -> None:
    again = tmp_path / "again.zip"
    with again.open("wb") as out:
        write_pack(out, [_item(n) for n in NAMES], META, AUDIT)
    assert again.read_bytes() == pack.read_bytes()


def test_a_flipped_byte_in_an_original_is_named(tmp_path: Path, pack: Path) -> None:
    data = bytearray(pack.read_bytes())
    with zipfile.ZipFile(pack) as archive:
        at = archive.getinfo("originals/DSCN0012.jpg").header_offset
    name_len, extra_len = struct.unpack("<HH", data[at + 26 : at + 30])  # local file header
    start = at + 30 + name_len + extra_len  # originals are stored, not deflated
    assert data[start : start + 4] == (PHOTOS / "DSCN0012.jpg").read_bytes()[:4]
    data[start + 5000] ^= 0x01
    tampered = tmp_path / "flipped.zip"
    tampered.write_bytes(bytes(data))

    report = verify_pack(tampered)
    assert not report.ok
    assert len(report.problems) == 1
    assert report.problems[0].startswith("originals/DSCN0012.jpg: altered")


def test_a_replaced_original_with_a_valid_crc_is_named(tmp_path: Path, pack: Path) -> None:
    tampered = tmp_path / "swapped.zip"
    _rewrite(pack, tampered, {"originals/Kodak_CX7530.jpg": (PHOTOS / "hopper.jpg").read_bytes()})
    report = verify_pack(tampered)
    assert report.problems == [
        "originals/Kodak_CX7530.jpg: altered (SHA-256 or size differs from the manifest)"
    ]


def test_an_edited_manifest_is_detected(tmp_path: Path, pack: Path) -> None:
    with zipfile.ZipFile(pack) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    manifest["files"][0]["lat"] = 22.54  # move the photo to Shenzhen
    tampered = tmp_path / "manifest.zip"
    edited = json.dumps(manifest).encode()
    _rewrite(pack, tampered, {"manifest.json": edited})
    report = verify_pack(tampered)
    assert report.problems == ["manifest.json: altered (its SHA-256 differs from manifest.sha256)"]

    # Recomputing manifest.sha256 too defeats the pack's own check, but not the audited value.
    forged = tmp_path / "forged.zip"
    line = f"{hashlib.sha256(edited).hexdigest()}  manifest.json\n".encode()
    _rewrite(tampered, forged, {"manifest.sha256": line})
    assert verify_pack(forged).ok
    audited = hashlib.sha256(zipfile.ZipFile(pack).read("manifest.json")).hexdigest()
    report = verify_pack(forged, expected_manifest_sha256=audited)
    assert report.problems == ["manifest.json: differs from the manifest recorded at export"]


def test_missing_and_extra_files_are_named(tmp_path: Path, pack: Path) -> None:
    tampered = tmp_path / "shuffled.zip"
    _rewrite(
        pack,
        tampered,
        {},
        drop={"originals/DSCN0010.jpg", "audit.json"},
        add={"originals/planted.jpg": b"\xff\xd8"},
    )
    assert verify_pack(tampered).problems == [
        "originals/DSCN0010.jpg: missing",
        "audit.json: missing",
        "originals/planted.jpg: extra file not in the manifest",
    ]


def test_an_original_changed_in_storage_since_upload_is_reported(tmp_path: Path) -> None:
    item = _item("DSCN0021.jpg")
    doctored = PackItem(**{**item.__dict__, "sha256": "0" * 64})
    path = tmp_path / "stored-changed.zip"
    with path.open("wb") as out:
        write_pack(out, [doctored], META, AUDIT)
    report = verify_pack(path)
    assert report.problems == [
        "originals/DSCN0021.jpg: differed from the hash recorded at upload when packed"
    ]


def test_not_a_zip(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK not really")
    report = verify_pack(junk)
    assert not report.ok and report.problems[0].startswith("not a readable ZIP")


# --------------------------------------------------------------------------- streaming


def test_iter_pack_streams_the_same_archive(pack: Path) -> None:
    seen: list[str] = []
    chunks = list(
        iter_pack(
            [_item(n) for n in NAMES], META, AUDIT, chunk_size=64 * 1024, on_manifest=seen.append
        )
    )
    assert len(chunks) >= len(NAMES)  # one chunk per original at least: it streams
    streamed = b"".join(chunks)
    report = verify_pack(io.BytesIO(streamed))
    assert report.ok and report.files_checked == len(NAMES)
    with zipfile.ZipFile(io.BytesIO(streamed)) as archive:
        assert seen == [hashlib.sha256(archive.read("manifest.json")).hexdigest()]


class _Generated(io.RawIOBase):
    """`size` bytes of a repeating pattern, produced on demand."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(range(256)) * (n // 256) + bytes(range(n % 256))
        self.left -= n
        return n


def _digest_of_generated(size: int) -> str:
    digest, stream = hashlib.sha256(), _Generated(size)
    while block := stream.read(1 << 20):
        digest.update(block)
    return digest.hexdigest()


def test_a_large_original_streams_in_flat_memory() -> None:
    size = 40 * 1024 * 1024
    item = PackItem(
        name="video.mp4",
        open=lambda: io.BufferedReader(_Generated(size)),
        sha256=_digest_of_generated(size),
        size=size,
        mime="video/mp4",
        kind="video",
        uploader="collector:7",
        device="device:3f2a",
        received_at="2026-11-20T02:10:00Z",
    )
    total = 0
    tracemalloc.start()
    try:
        for chunk in iter_pack([item], META, AUDIT):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > size
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


# --------------------------------------------------------------------------- the command


def test_cli_verifies_an_intact_pack(pack: Path) -> None:
    result = CliRunner().invoke(evidence_cli, ["verify", str(pack)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"pack verified: {len(NAMES)} files"


def test_cli_names_the_altered_file(tmp_path: Path, pack: Path) -> None:
    tampered = tmp_path / "swapped.zip"
    _rewrite(pack, tampered, {"originals/empty_icc.heic": b"not the photo"})
    result = CliRunner().invoke(evidence_cli, ["verify", str(tampered)])
    assert result.exit_code == 1
    assert "originals/empty_icc.heic: altered" in result.output
    assert "DSCN0010" not in result.output


def test_cli_checks_the_audited_manifest_hash(pack: Path) -> None:
    result = CliRunner().invoke(evidence_cli, ["verify", str(pack), "--manifest-sha256", "0" * 64])
    assert result.exit_code == 1
    assert "differs from the manifest recorded at export" in result.output
