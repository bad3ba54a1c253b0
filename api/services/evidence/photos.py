"""What a photo says about itself: format, size, EXIF time and GPS, read with Pillow.

Every image is decoded in full, so a truncated or corrupt upload is refused at `complete` rather
than discovered in court. EXIF is read defensively: phones and cameras write empty GPS IFDs,
zero-length strings, fractional minutes and zero denominators. Originals are only ever read.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from api.services.exceptions import InvalidInput
from api.services.geo import geodesic_m

pillow_heif.register_heif_opener()

_IFD_EXIF = 0x8769
_IFD_GPS = 0x8825
_MAKE, _MODEL, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
_DTO, _SUBSEC, _SUBSEC_DTO, _OFFSET, _OFFSET_DTO = 0x9003, 0x9290, 0x9291, 0x9010, 0x9011
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
_GPS_ALT_REF, _GPS_ALT, _GPS_DATUM, _GPS_H_ERROR = 5, 6, 18, 31
_WGS84_NAMES = {"WGS84", "WGS-84", "WGS 84"}

ImageSource = str | os.PathLike[str] | BinaryIO | bytes


@dataclass(frozen=True)
class PhotoFacts:
    """Facts read from an image file. `taken_at` is the camera's naive local time
    (DateTimeOriginal, else IFD0 DateTime, see `taken_at_source`); `taken_at_utc` is set only
    when the file records its UTC offset. Coordinates are WGS-84 decimal degrees, 7 dp."""

    format: str
    width: int
    height: int
    make: str | None = None
    model: str | None = None
    orientation: int | None = None
    taken_at: datetime | None = None
    taken_at_source: str | None = None
    subsec: str | None = None
    offset: str | None = None
    taken_at_utc: datetime | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    gps_altitude_m: float | None = None
    gps_accuracy_m: float | None = None
    gps_datum: str | None = None


def _corrupt(reason: str) -> InvalidInput:
    return InvalidInput(
        "the file is not a readable image",
        fields={"file": [f"not a readable image ({reason})"]},
        code="corrupt_image",
    )


def _decode(source: ImageSource, draft: tuple[int, int] | None) -> Image.Image:
    fp: Any = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    image: Image.Image | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(fp)
            if draft and image.format == "JPEG":
                image.draft(None, draft)
            image.load()
            return image
    except BaseException:
        if image is not None:
            image.close()
        raise


def _open(source: ImageSource, draft: tuple[int, int] | None = None) -> Image.Image:
    """Open and fully decode (JPEG at a reduced DCT scale when `draft` is given); any failure is
    `corrupt_image` (or `image_too_large`)."""
    try:
        return _decode(source, draft)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(
            "the image has too many pixels",
            fields={"file": ["too many pixels"]},
            code="image_too_large",
        ) from None
    except UnidentifiedImageError:
        raise _corrupt("unknown format") from None
    except FileNotFoundError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        raise _corrupt(type(exc).__name__) from None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _exif_datetime(value: Any) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    try:
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _utc_offset(value: Any) -> timezone | None:
    text = _text(value)
    if not text or len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return None
    try:
        hours, minutes = int(text[1:3]), int(text[4:6])
    except ValueError:
        return None
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def _coordinate(dms: Any, ref: Any, limit: float) -> float | None:
    """Degrees/minutes/seconds (any of them fractional) to signed decimal degrees."""
    if not isinstance(dms, tuple | list) or not 1 <= len(dms) <= 3:
        return None
    parts = [_number(v) for v in dms]
    if any(p is None or p < 0 for p in parts):
        return None
    value = sum(p / 60**i for i, p in enumerate(parts))  # type: ignore[operator]
    hemisphere = (_text(ref) or "").upper()
    if hemisphere in ("S", "W"):
        value = -value
    elif hemisphere not in ("N", "E"):
        return None
    return round(value, 7) if abs(value) <= limit else None


def _gps(gps: Mapping[int, Any]) -> dict[str, Any]:
    lat = _coordinate(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), 90.0)
    lon = _coordinate(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), 180.0)
    if lat is None or lon is None:
        lat = lon = None
    altitude = _number(gps.get(_GPS_ALT))
    if altitude is not None:
        ref = gps.get(_GPS_ALT_REF)
        below = ref in (1, b"\x01") or (isinstance(ref, bytes) and ref[:1] == b"\x01")
        altitude = round(-altitude if below else altitude, 3)
    accuracy = _number(gps.get(_GPS_H_ERROR))
    return {
        "gps_lat": lat,
        "gps_lon": lon,
        "gps_altitude_m": altitude,
        "gps_accuracy_m": None if accuracy is None else round(accuracy, 3),
        "gps_datum": _text(gps.get(_GPS_DATUM)),
    }


def _ifd(exif: Image.Exif, tag: int) -> Mapping[int, Any]:
    try:
        return exif.get_ifd(tag) or {}
    except (OSError, ValueError, KeyError, TypeError, SyntaxError):
        return {}


def _exif_facts(image: Image.Image) -> dict[str, Any]:
    try:
        exif = image.getexif()
    except (OSError, ValueError, SyntaxError, TypeError):
        return {}
    sub = _ifd(exif, _IFD_EXIF)
    taken_at, source = _exif_datetime(sub.get(_DTO)), "DateTimeOriginal"
    subsec, offset = sub.get(_SUBSEC_DTO), sub.get(_OFFSET_DTO)
    if taken_at is None:
        taken_at, source = _exif_datetime(exif.get(_DATETIME)), "DateTime"
        subsec, offset = sub.get(_SUBSEC), sub.get(_OFFSET)
    tz = _utc_offset(offset) if taken_at else None
    orientation = exif.get(_ORIENTATION)
    return {
        "make": _text(exif.get(_MAKE)),
        "model": _text(exif.get(_MODEL)),
        "orientation": orientation if isinstance(orientation, int) else None,
        "taken_at": taken_at,
        "taken_at_source": source if taken_at else None,
        "subsec": _text(subsec) if taken_at else None,
        "offset": _text(offset) if tz else None,
        "taken_at_utc": taken_at.replace(tzinfo=tz).astimezone(UTC) if taken_at and tz else None,
        **_gps(_ifd(exif, _IFD_GPS)),
    }


def inspect_photo(source: ImageSource) -> PhotoFacts:
    """Decode the whole image and read its EXIF; `InvalidInput` (code "corrupt_image") if the
    file is not a complete, readable image."""
    image = _open(source)
    try:
        return PhotoFacts(
            format=image.format or "unknown",
            width=image.width,
            height=image.height,
            **_exif_facts(image),
        )
    finally:
        image.close()


def make_thumbnail(source: ImageSource, max_px: int = 320, quality: int = 80) -> bytes:
    """A JPEG at most `max_px` on its long side, upright (EXIF orientation applied), in sRGB,
    with no metadata at all (no EXIF, GPS or ICC). The source is only read."""
    image = _open(source, draft=(max_px, max_px))
    try:
        icc = image.info.get("icc_profile")
        upright = _to_srgb(ImageOps.exif_transpose(image), icc)
        upright.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        upright.save(out, format="JPEG", quality=quality, optimize=True)
        return out.getvalue()
    finally:
        image.close()


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Colour-manage to sRGB when the file has a profile; flatten transparency on white."""
    if icc and image.mode in ("RGB", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    if image.mode in ("RGB", "L"):
        return image
    if "A" in image.mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def compare_with_declaration(
    facts: PhotoFacts,
    declared_taken_at: datetime | None,
    declared_lat: float | None,
    declared_lon: float | None,
    *,
    max_time_skew_s: float,
    max_distance_m: float,
    local_tz: str | tzinfo = "Asia/Shanghai",
) -> list[str]:
    """Flags where the photo's own EXIF disagrees with what the device declared.

    A naive EXIF time is read in `local_tz` (the device's zone) unless the file records its
    offset; a naive `declared_taken_at` is compared as is."""
    flags: list[str] = []
    if facts.taken_at is None:
        flags.append("exif_missing_time")
    else:
        if facts.taken_at_source != "DateTimeOriginal":
            flags.append("exif_time_not_original")
        if declared_taken_at is not None:
            skew = _time_skew_s(facts, declared_taken_at, local_tz)
            if skew > max_time_skew_s:
                flags.append("exif_time_mismatch")
    if facts.gps_lat is None or facts.gps_lon is None:
        flags.append("exif_missing_gps")
    else:
        datum = (facts.gps_datum or "WGS-84").upper()
        if datum not in _WGS84_NAMES:
            flags.append("exif_gps_datum_not_wgs84")
        if declared_lat is not None and declared_lon is not None:
            distance = geodesic_m(facts.gps_lat, facts.gps_lon, declared_lat, declared_lon)
            if distance > max_distance_m:
                flags.append("exif_gps_far_from_declared")
    return flags


def _time_skew_s(facts: PhotoFacts, declared: datetime, local_tz: str | tzinfo) -> float:
    assert facts.taken_at is not None
    if declared.tzinfo is None:
        return abs((facts.taken_at - declared).total_seconds())
    exif_time = facts.taken_at_utc
    if exif_time is None:
        zone = ZoneInfo(local_tz) if isinstance(local_tz, str) else local_tz
        exif_time = facts.taken_at.replace(tzinfo=zone)
    return abs((exif_time - declared).total_seconds())
