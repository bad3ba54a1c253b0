"""Identifier validation against the public vectors in tests/data (see tests/data/README.md)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from api.services.casefile.identifiers import (
    mask_national_id,
    mask_phone,
    national_id_birth_date,
    national_id_check_digit,
    national_id_sex,
    normalize_engine_number,
    normalize_national_id,
    normalize_phone,
    normalize_plate,
    normalize_vin,
    plate_kind,
    vin_check_digit,
)
from api.services.exceptions import InvalidInput

DATA = Path(__file__).parent.parent / "data"


def _rows(name: str) -> list[dict[str, str]]:
    """Tab-separated file with `#` comments and a header (no quoting: notes contain quotes)."""
    lines = [ln for ln in (DATA / name).read_text("utf-8").splitlines() if ln and ln[0] != "#"]
    header = lines[0].split("\t")
    return [dict(zip(header, ln.split("\t"), strict=True)) for ln in lines[1:]]


def _params(rows: list[dict[str, str]], key: str) -> list:
    return [pytest.param(r, id=f"{r[key]}-{r['expected']}") for r in rows]


def _rejects(fn, value: str, **kw) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        fn(value, **kw)
    return info.value


# --------------------------------------------------------------------------- national IDs

ID_ROWS = _rows("cn_ids.txt")
ID_ACCEPT = {
    "valid": True,
    "valid_nonstrict": True,  # we do not check county codes against the birth year
    "valid_quirk": False,  # hutool's 111111111111111; the source itself says to reject it
    "invalid": False,
    "invalid_place": False,
    "invalid_strict": False,
    "regex_example_only": False,  # wrong check digit
}
# Policy deviations, listed by id:
# - Lenders' files must carry the 18-digit number, so 15-digit first-generation IDs are rejected
#   even where the source calls them valid.
ID_15_DIGIT_VALID = {"610104620927690", "150102880730303", "330102200403064", "410001910101123"}
# - python-stdnum rejects these because the county code was not registered in the birth year.
#   That needs a dated GB/T 2260 county table we do not ship; check digit, date and province
#   are fine, so we accept them.
ID_COUNTY_NOT_REGISTERED = {"110111198012010078", "110201199312010077"}


def test_id_file_is_complete() -> None:
    assert len(ID_ROWS) == 72
    assert {r["expected"] for r in ID_ROWS} == set(ID_ACCEPT)
    ids = {r["id"] for r in ID_ROWS}
    assert ids >= ID_15_DIGIT_VALID | ID_COUNTY_NOT_REGISTERED


@pytest.mark.parametrize("row", _params(ID_ROWS, "id"))
def test_national_id_vectors(row: dict[str, str]) -> None:
    nid = row["id"]
    accept = ID_ACCEPT[row["expected"]]
    if nid in ID_15_DIGIT_VALID:
        accept = False
    if nid in ID_COUNTY_NOT_REGISTERED:
        accept = True
    if not accept:
        err = _rejects(normalize_national_id, nid)
        assert err.fields == {"national_id": [err.message]}
        gb = row["gb11643"]
        if gb.startswith("checksum_bad:expected="):
            assert f"check digit should be {gb[-1]}" in err.message
        elif gb == "n/a_15digit":
            assert "must be 18 characters" in err.message and "15-digit" in err.message
        elif gb.startswith("bad_length"):
            assert "must be 18 characters" in err.message
        elif gb == "bad_format":
            assert "17 digits followed by a digit or X" in err.message
        return
    out = normalize_national_id(nid)
    assert out == nid.upper()
    assert national_id_birth_date(nid) == date.fromisoformat(row["birth"])
    assert national_id_sex(nid) == row["sex"]


@pytest.mark.parametrize(
    ("nid", "message"),
    [
        ("201511221897205960", "birth date 2218-97-20 is not a date"),
        ("360426199113010079", "birth date 1991-13-01 is not a date"),
        ("990426199112010074", "region code 99 does not exist"),
        ("440308199901101513", "check digit should be 2, not 3"),
        ("44030819990110", "must be 18 characters, got 14"),
    ],
)
def test_national_id_messages(nid: str, message: str) -> None:
    assert message in _rejects(normalize_national_id, nid).message


def test_national_id_normalisation_and_field_name() -> None:
    assert normalize_national_id(" 3301 0219 2004 0306 4x ") == "33010219200403064X"
    assert normalize_national_id("932682198501010017") == "932682198501010017"  # foreigner
    err = _rejects(normalize_national_id, "440308199901101513", field="guarantor_id")
    assert list(err.fields) == ["guarantor_id"]


def _with_check_digit(first17: str) -> str:
    return first17 + national_id_check_digit(first17)


def test_national_id_date_range() -> None:
    too_old = _with_check_digit("11010518991231001")
    assert "out of range" in _rejects(normalize_national_id, too_old).message
    tomorrow = (date.today() + timedelta(days=1)).strftime("%Y%m%d")
    assert (
        "out of range"
        in _rejects(normalize_national_id, _with_check_digit(f"110105{tomorrow}001")).message
    )
    assert normalize_national_id(_with_check_digit("11010519000101001"))
    assert (
        "region code 40"
        in _rejects(normalize_national_id, _with_check_digit("40010519900101001")).message
    )


def test_mask_national_id() -> None:
    assert mask_national_id("51343620000320711X") == "**************711X"
    assert mask_national_id("123") == "***"


# --------------------------------------------------------------------------- VINs

VIN_ROWS = _rows("vins.txt")
VIN_ACCEPT = {
    "valid": True,
    "valid_checksum_only": True,  # we do not check the model-year code
    "non_na_checkdigit_mismatch": True,  # policy: position 9 only mandatory for WMI 1-5 and L
    "invalid_checkdigit": False,
    "invalid_chars": False,  # includes lower-case input
    "invalid_length": False,
    "invalid_partial": False,
}
# Policy deviation: vininfo's "number faked" VINs from Japan (J) and Switzerland (T). Outside
# North America and China position 9 is not a mandatory check digit, so a wrong one cannot tell
# a fake from a real foreign vehicle; they are accepted like the non_na_checkdigit_mismatch rows.
VIN_FAKED_NON_NA = {"JSA12345678901234", "TM912345678901234"}


def test_vin_file_is_complete() -> None:
    assert len(VIN_ROWS) == 32
    assert {r["expected"] for r in VIN_ROWS} == set(VIN_ACCEPT)
    assert {r["vin"] for r in VIN_ROWS} >= VIN_FAKED_NON_NA


@pytest.mark.parametrize("row", _params(VIN_ROWS, "vin"))
def test_vin_vectors(row: dict[str, str]) -> None:
    vin = row["vin"]
    accept = VIN_ACCEPT[row["expected"]] or vin in VIN_FAKED_NON_NA
    if row["iso3779"] == "checksum_ok":
        assert vin_check_digit(vin) == vin[8]
    elif row["iso3779"].startswith("checksum_bad:expected="):
        assert vin_check_digit(vin) == row["iso3779"][-1]
    if accept:
        assert normalize_vin(vin) == vin
    else:
        err = _rejects(normalize_vin, vin)
        assert err.fields == {"vin": [err.message]}


@pytest.mark.parametrize(
    ("vin", "message"),
    [
        ("LBV5S3102ESJPE655", "check digit (position 9) should be X, not 2"),
        ("200BL8EV9AX604020", "should be 2, not 9"),
        ("1M8GDM9AyKP042788", "upper-case"),
        ("AAAAAAAIAAAAAAAAA", "I"),
        ("5UXWX7C5*BA", "partial"),
        ("1FA6P8C0!M!100001", "partial"),
        ("tooshort", "17 characters"),
    ],
)
def test_vin_messages(vin: str, message: str) -> None:
    assert message in _rejects(normalize_vin, vin).message


def test_vin_field_and_strip() -> None:
    assert normalize_vin(" LSJA24U62JG269225\n") == "LSJA24U62JG269225"
    assert list(_rejects(normalize_vin, "tooshort", field="frame_no").fields) == ["frame_no"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("abc-123 456", "ABC123456"), ("G4FC 8U123456", "G4FC8U123456"), ("1234", "1234")],
)
def test_engine_number(raw: str, expected: str) -> None:
    assert normalize_engine_number(raw) == expected


@pytest.mark.parametrize("raw", ["12", "A" * 21, "AB#123", "", "发动机123"])
def test_engine_number_rejects(raw: str) -> None:
    assert _rejects(normalize_engine_number, raw).fields == {
        "engine_number": ["must be 4-20 letters or digits"]
    }


# --------------------------------------------------------------------------- plates

PLATE_ROWS = _rows("cn_plates.txt")
PLATE_ACCEPT = {
    "valid": True,
    "valid_format": True,  # hutool masking inputs; well-formed plates
    "valid_disputed": True,
    "invalid_disputed": True,  # policy, see below
    "invalid": False,
}
# Policy: position 3 of an 8-char small new-energy plate may be A-H, J or K (D/A/B/C/E electric,
# F/G/H/J/K hybrid) since the 2021 extension; xToolkit's 2020 D/F-only rule rejects 川AA12345,
# we accept it (as hutool's rule does).
PLATE_DISPUTED_ACCEPTED = {"川AA12345"}
PLATE_KIND = {
    "ordinary": "ordinary",
    "ordinary_special_suffix": "learner",
    "consulate": "consulate",
    "new_energy_small": "new_energy_small",
    "new_energy_small?": "new_energy_small",
    "new_energy_large": "new_energy_large",
}


def test_plate_file_is_complete() -> None:
    assert len(PLATE_ROWS) == 25
    assert {r["expected"] for r in PLATE_ROWS} == set(PLATE_ACCEPT)
    assert {r["plate"] for r in PLATE_ROWS if r["expected"] == "invalid_disputed"} == (
        PLATE_DISPUTED_ACCEPTED
    )


@pytest.mark.parametrize("row", _params(PLATE_ROWS, "plate"))
def test_plate_vectors(row: dict[str, str]) -> None:
    plate = row["plate"]
    if PLATE_ACCEPT[row["expected"]]:
        assert normalize_plate(plate) == plate
        assert plate_kind(plate) == PLATE_KIND[row["kind"]]
    else:
        err = _rejects(normalize_plate, plate)
        assert err.fields == {"plate": [err.message]}
        with pytest.raises(InvalidInput):
            plate_kind(plate)


@pytest.mark.parametrize(
    ("raw", "expected", "kind"),
    [
        ("京A·12345", "京A12345", "ordinary"),
        (" 粤B 0320F ", "粤B0320F", "ordinary"),
        ("沪A1234挂", "沪A1234挂", "trailer"),
        ("粤Z1234港", "粤Z1234港", "hk_macau"),
        ("使014578", "使014578", "embassy"),
        ("京AK12345", "京AK12345", "new_energy_small"),
    ],
)
def test_plate_other_kinds(raw: str, expected: str, kind: str) -> None:
    assert normalize_plate(raw) == expected
    assert plate_kind(raw) == kind


@pytest.mark.parametrize("raw", ["京AL12345", "京A1234", "京I12345", "AA12345", "京A12345X"])
def test_plate_rejects(raw: str) -> None:
    _rejects(normalize_plate, raw)


# --------------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 19912345678", "19912345678"),
        ("010-12345678", "010-12345678"),
        ("(0755) 1234567", "0755-1234567"),
        ("02087654321", "020-87654321"),
        ("+86 10 12345678", "010-12345678"),
        ("+86 010 12345678", "010-12345678"),
        ("0571-88886666", "0571-88886666"),
    ],
)
def test_normalize_phone(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "12812345678",
        "1381234567",
        "138123456789",
        "12345678",
        "010-01234567",
        "+1 415 555 0100",
        "400-123-4567",
        "abc",
        "",
    ],
)
def test_normalize_phone_rejects(raw: str) -> None:
    err = _rejects(normalize_phone, raw, field="contact_phone")
    assert list(err.fields) == ["contact_phone"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("010-12345678", "*******5678"),
        ("0755-1234567", "*******4567"),
        ("5678", "****"),
        ("", ""),
    ],
)
def test_mask_phone(raw: str, expected: str) -> None:
    assert mask_phone(raw) == expected
