"""Converting one value of a lender record: types, enumerations, identifiers, coordinates.

Each converter takes (value, from_csv) and returns the clean value or raises `Bad` with a
message saying why. Values from CSV arrive as strings and are converted; JSON values must
already have their type. Messages never repeat an identifier's value (they end up in the import
log). The record layouts built from them, and the cleaners, are in `imports.rows`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from api.services.exceptions import InvalidInput

MAX_FEN = 10**15  # ten trillion yuan: anything above is a typo, and would overflow BIGINT maths
Problems = list[tuple[str, str]]


class Bad(ValueError):
    """One value is not acceptable; the message says why."""


@dataclass(frozen=True, slots=True)
class Field:
    convert: Callable[[Any, bool], Any]  # (value, from_csv) -> clean value, or raise Bad
    required: bool = False
    default: Any = None


# --------------------------------------------------------------------------- converters


def text(max_len: int) -> Callable[[Any, bool], str | None]:
    def convert(value: Any, from_csv: bool) -> str | None:
        if not isinstance(value, str):
            raise Bad("must be a string")
        value = value.strip()
        if len(value) > max_len:
            raise Bad(f"must be at most {max_len} characters")
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:  # JSON may escape a lone surrogate: "\ud800"
                raise Bad("is not valid Unicode text") from None
        return value or None

    return convert


def _whole(value: Any, from_csv: bool) -> int:
    if type(value) is int:  # not bool, which is an int too
        return value
    if type(value) is float and value.is_integer() and abs(value) >= 2**64:
        raise Bad("is too large")  # a whole number too long for 64 bits, written as a float
    if from_csv and isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,19}\s*", value):
        return int(value)
    raise Bad("must be a whole number")


def fen(value: Any, from_csv: bool) -> int:
    amount = _whole(value, from_csv)
    if amount < 0:
        raise Bad("must not be negative")
    if amount > MAX_FEN:
        raise Bad("is too large")
    return amount


def seq(value: Any, from_csv: bool) -> int:
    number = _whole(value, from_csv)
    if not 1 <= number <= 10_000:
        raise Bad("must be between 1 and 10000")
    return number


def number(value: Any, from_csv: bool) -> float:
    if from_csv and isinstance(value, str):
        if not re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", value):
            raise Bad("must be a number")
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Bad("must be a number")
    return float(value)


_TRUE, _FALSE = {"true", "t", "yes", "y", "1"}, {"false", "f", "no", "n", "0"}


def boolean(value: Any, from_csv: bool) -> bool:
    if from_csv and isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE | _FALSE:
            return word in _TRUE
    if not isinstance(value, bool):
        raise Bad("must be true or false")
    return value


def iso_date(value: Any, from_csv: bool) -> date:
    return _day(value.strip() if isinstance(value, str) else "")


@lru_cache(maxsize=8192)  # a file's schedules fall on a few thousand days
def _day(day: str) -> date:
    if len(day) != 10 or day[4] != "-" or day[7] != "-" or not day.replace("-", "").isdigit():
        raise Bad("must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(day)
    except ValueError:
        raise Bad("is not a real date") from None


def moment(value: Any, from_csv: bool) -> datetime:
    if not isinstance(value, str):
        raise Bad("must be an ISO 8601 time with offset")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Bad("must be an ISO 8601 time with offset") from None
    if parsed.tzinfo is None:
        raise Bad("needs a UTC offset, e.g. 2026-11-20T08:00:00+08:00")
    return parsed.astimezone(UTC)


def choice(options: type | tuple[str, ...]) -> Callable[[Any, bool], Any]:
    """One of an enumeration (returned as the enum member) or of a tuple of strings."""
    members = ({m.value: m for m in options} if isinstance(options, type)
               else {word: word for word in options})
    message = f"must be one of {', '.join(members)}"

    def convert(value: Any, from_csv: bool) -> Any:
        word = value.strip() if isinstance(value, str) else value
        try:
            return members[word]
        except (KeyError, TypeError):  # TypeError: a list or an object, which cannot be a key
            raise Bad(message) from None

    return convert


def currency(value: Any, from_csv: bool) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{3}", value.strip()):
        raise Bad("must be an ISO 4217 code such as CNY")
    return value.strip()


@lru_cache(maxsize=256)
def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def timezone(value: Any, from_csv: bool) -> str:
    name = text(64)(value, from_csv)
    if name is not None and not _known_zone(name):
        raise Bad("must be an IANA time zone such as Asia/Shanghai")
    return name


def identifier(normalize: Callable[[str, str], str]) -> Callable[[Any, bool], str | None]:
    """Wrap an `api.services.casefile.identifiers` normaliser; its message loses the raw value."""

    def convert(value: Any, from_csv: bool) -> str | None:
        if not isinstance(value, str):
            raise Bad("must be a string")
        raw = value.strip()
        if not raw:
            return None
        try:
            return normalize(raw, "value")
        except InvalidInput as exc:
            message = next(iter(exc.fields.get("value", [])), exc.message)
            raise Bad(message.replace(raw, "the value")) from None

    return convert
