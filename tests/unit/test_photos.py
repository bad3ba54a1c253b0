"""A collector's photos as the server reads them: every sample in tests/data/photos decodes to
the values recorded in photos_expected.json, and the broken ones are refused."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image

from api.services.evidence.photos import (
    PhotoFacts,
    compare_with_declaration,
    inspect_photo,
    make_thumbnail,
)
from api.services.exceptions import InvalidInput

DATA = Path(__file__).parent.parent / "data"
PHOTOS = DATA / "photos"
EXPECTED = json.loads((DATA / "photos_expected.json").read_text(encoding="utf-8"))["files"]
READABLE = [e for e in EXPECTED if e.get("decode") == "ok"]
CORRUPT = [e for e in EXPECTED if e.get("decode") != "ok"]
_DT = "%Y:%m:%d %H:%M:%S"


def test_the_sample_set_is_complete() -> None:
    assert sorted(p.name for p in PHOTOS.iterdir()) == sorted(e["file"] for e in EXPECTED)
    assert len(READABLE) == 16
    assert sorted(e["file"] for e in CORRUPT) == [
        "corrupted.heic",
        "derive-huffman-codes-overflow.jpg",
        "missing-sof.jpg",
        "truncated_jpeg.jpg",
    ]


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda e: e["file"])
def test_file_bytes_are_the_published_ones(expected: dict) -> None:
    data = (PHOTOS / expected["file"]).read_bytes()
    assert len(data) == expected["bytes"]
    assert hashlib.sha256(data).hexdigest() == expected["sha256"]


@pytest.mark.parametrize("expected", READABLE, ids=lambda e: e["file"])
def test_decoded_values(expected: dict) -> None:
    facts = inspect_photo(PHOTOS / expected["file"])

    assert (facts.format, facts.width, facts.height) == (
        expected["format"],
        expected["width"],
        expected["height"],
    )
    assert (facts.make, facts.model) == (expected["Make"], expected["Model"])
    assert facts.orientation == expected["Orientation"]

    dto, dt = expected["DateTimeOriginal"], expected["DateTime"]
    if dto:
        assert facts.taken_at == datetime.strptime(dto, _DT)
        assert facts.taken_at_source == "DateTimeOriginal"
        assert facts.subsec == expected["SubSecTimeOriginal"]
        assert facts.offset == expected["OffsetTimeOriginal"]
    elif dt:
        assert facts.taken_at == datetime.strptime(dt, _DT)
        assert facts.taken_at_source == "DateTime"
    else:
        assert facts.taken_at is None and facts.taken_at_source is None

    if expected["gps_lat"] is None:
        assert facts.gps_lat is None and facts.gps_lon is None
    else:
        assert facts.gps_lat == pytest.approx(expected["gps_lat"], abs=1e-7)
        assert facts.gps_lon == pytest.approx(expected["gps_lon"], abs=1e-7)
        assert (facts.gps_lat < 0) == (expected["gps_lat_ref"] == "S")
    altitude = expected.get("gps_altitude_m")
    if altitude is None:
        assert facts.gps_altitude_m is None
    else:
        assert facts.gps_altitude_m == pytest.approx(altitude, abs=1e-3)
    datum = expected.get("gps_map_datum")
    assert facts.gps_datum == (datum.strip() if datum else None)


def test_an_offset_gives_the_utc_time() -> None:
    facts = inspect_photo(PHOTOS / "empty_icc.heic")
    assert facts.offset == "+03:00"
    assert facts.taken_at_utc == datetime(2021, 7, 6, 13, 8, 14, tzinfo=UTC)
    assert facts.gps_accuracy_m == 65.0  # GPSHPositioningError
    assert inspect_photo(PHOTOS / "DSCN0010.jpg").taken_at_utc is None


def test_southern_hemisphere_with_fractional_minutes() -> None:
    facts = inspect_photo(PHOTOS / "Kodak_CX7530.jpg")
    assert facts.gps_lat == pytest.approx(-(22.278 / 60), abs=1e-7)
    assert facts.gps_lon == pytest.approx(36 + 3.385 / 60, abs=1e-7)


def test_a_stream_or_bytes_read_the_same_as_a_path() -> None:
    path = PHOTOS / "nikon_D3100_TypeError.jpg"
    by_path = inspect_photo(path)
    with path.open("rb") as fh:
        assert inspect_photo(fh) == by_path
    assert inspect_photo(path.read_bytes()) == by_path


@pytest.mark.parametrize("expected", CORRUPT, ids=lambda e: e["file"])
def test_corrupt_files_are_refused(expected: dict) -> None:
    with pytest.raises(InvalidInput) as caught:
        inspect_photo(PHOTOS / expected["file"])
    assert caught.value.code == "corrupt_image"
    assert "file" in caught.value.fields
    with pytest.raises(InvalidInput) as caught:
        make_thumbnail(PHOTOS / expected["file"])
    assert caught.value.code == "corrupt_image"


def test_text_and_empty_input_are_not_images() -> None:
    for data in (b"", b"hello, this is not a photo", b"\xff\xd8\xff"):
        with pytest.raises(InvalidInput) as caught:
            inspect_photo(data)
        assert caught.value.code == "corrupt_image"


# --------------------------------------------------------------------------- thumbnails


@pytest.mark.parametrize("expected", READABLE, ids=lambda e: e["file"])
def test_thumbnail_is_a_small_jpeg_and_the_original_is_untouched(expected: dict) -> None:
    path = PHOTOS / expected["file"]
    thumb = make_thumbnail(path)

    with Image.open(io.BytesIO(thumb)) as image:
        image.load()
        assert image.format == "JPEG"
        assert max(image.size) <= 320
        assert image.mode in ("RGB", "L")
        assert not image.getexif()  # no EXIF, so no GPS, camera or time
        assert "icc_profile" not in image.info
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected["sha256"]


def _jpeg_with_orientation(width: int, height: int, orientation: int) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    image.paste((200, 0, 0), (0, 0, width // 4, height))  # a red band on the left edge
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=95)
    return out.getvalue()


def test_thumbnail_applies_exif_orientation() -> None:
    thumb = make_thumbnail(_jpeg_with_orientation(640, 320, 6), max_px=160)
    with Image.open(io.BytesIO(thumb)) as image:
        assert image.size == (80, 160)  # turned upright: portrait
        red, green, _ = image.convert("RGB").getpixel((40, 5))
        assert red > 150 and green < 80  # the left band is now at the top


# --------------------------------------------------------------------------- declaration vs EXIF

DSCN0010 = inspect_photo(PHOTOS / "DSCN0010.jpg")  # 2008-10-22 16:28:39 local, Arezzo
ITALY_SUMMER = timezone(timedelta(hours=2))


def _compare(facts: PhotoFacts, taken_at, lat, lon, **kwargs) -> list[str]:
    kwargs.setdefault("local_tz", "Europe/Rome")
    return compare_with_declaration(
        facts, taken_at, lat, lon, max_time_skew_s=300, max_distance_m=200, **kwargs
    )


def test_a_consistent_declaration_raises_no_flag() -> None:
    declared = datetime(2008, 10, 22, 14, 30, 0, tzinfo=UTC)  # 16:30 in Arezzo
    assert _compare(DSCN0010, declared, 43.4675, 11.8852) == []


def test_a_declaration_far_in_time_or_space_is_flagged() -> None:
    declared = datetime(2008, 10, 22, 16, 28, 39, tzinfo=ITALY_SUMMER) + timedelta(hours=1)
    shanghai = (31.2304, 121.4737)
    assert _compare(DSCN0010, declared, *shanghai) == [
        "exif_time_mismatch",
        "exif_gps_far_from_declared",
    ]


def test_the_neighbouring_photo_is_within_reach() -> None:
    # DSCN0012 was taken 70 s and ~40 m from DSCN0010 on the same walk.
    other = inspect_photo(PHOTOS / "DSCN0012.jpg")
    assert _compare(other, DSCN0010.taken_at, DSCN0010.gps_lat, DSCN0010.gps_lon) == []


def test_missing_exif_is_flagged() -> None:
    declared = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    hopper = inspect_photo(PHOTOS / "hopper.jpg")
    assert _compare(hopper, declared, 31.2, 121.4) == ["exif_missing_time", "exif_missing_gps"]
    no_dto = inspect_photo(PHOTOS / "67-0_length_string.jpg")
    assert "exif_time_not_original" in _compare(no_dto, None, None, None)


def test_an_exif_offset_beats_the_assumed_zone() -> None:
    facts = inspect_photo(PHOTOS / "empty_icc.heic")  # 16:08:14 at +03:00
    declared = datetime(2021, 7, 6, 13, 8, 0, tzinfo=UTC)
    assert _compare(facts, declared, facts.gps_lat, facts.gps_lon, local_tz="Asia/Shanghai") == []


def test_a_non_wgs84_datum_is_flagged() -> None:
    tokyo = replace(DSCN0010, gps_datum="TOKYO")
    assert _compare(tokyo, None, None, None) == ["exif_gps_datum_not_wgs84"]
