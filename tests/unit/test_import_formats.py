"""Reading lender files (JSON and CSV) and checking single records, without a database."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from api.models import CaseStatus, Relation
from api.services.exceptions import InvalidInput
from api.services.geo import gcj02_to_wgs84
from api.services.imports import formats, json_stream
from api.services.imports.file_checks import FileChecks, FileRepeats
from api.services.imports.formats import MalformedFile, check_upload, stored_document
from api.services.imports.rows import clean_balance, clean_case, clean_payment, derived_key

FILES = Path(__file__).resolve().parent.parent / "data" / "imports"


def parse_import_file(data: bytes, file_format: str, kind: str) -> dict:
    """The file as an import takes it in: checked as it is uploaded, then read from the stored
    file by the job; the record lists as lists, with what CSV adds (`_lines`, `_errors`)."""
    checked = check_upload(io.BytesIO(data), file_format, kind)
    doc = stored_document(lambda: io.BytesIO(data), file_format, kind)
    lists = {name: list(records) for name, records in doc.records.items()}
    assert checked.total == sum(len(records) for records in lists.values())
    return {"as_of": checked.as_of or doc.as_of, **lists, "_lines": doc.lines,
            "_errors": doc.errors}


def case_record(**changes) -> dict:
    record = json.loads((FILES / "cases.json").read_text("utf-8"))["cases"][0]
    record.update(changes)
    return record


# --------------------------------------------------------------------------- JSON


def test_json_file_is_read_as_is():
    doc = parse_import_file((FILES / "cases.json").read_bytes(), "json", "cases")
    assert doc["cases"] == json.loads((FILES / "cases.json").read_text("utf-8"))["cases"]
    assert doc["as_of"] == date(2026, 11, 21)


def test_json_is_read_the_same_across_window_ends(monkeypatch):
    """Decoded a few bytes at a time, every value cut somewhere (Chinese text, numbers,
    escapes), the file reads as the standard library reads it whole; an error deep in the file
    names its line and column."""
    data = (FILES / "cases.json").read_bytes()
    monkeypatch.setattr(json_stream, "WINDOW", 7)
    assert parse_import_file(data, "json", "cases")["cases"] == json.loads(data)["cases"]
    text = data.decode()
    line = text.count("\n", 0, text.index('"schedule"')) + 1
    broken = text.replace('"schedule"', '"schedule" "', 1).encode()
    with pytest.raises(MalformedFile) as caught:
        check_upload(io.BytesIO(broken), "json", "cases")
    with pytest.raises(json.JSONDecodeError) as whole:  # the standard library, the whole file
        json.loads(broken)
    assert (whole.value.lineno, whole.value.msg) == (line, "Expecting ':' delimiter")
    assert caught.value.message == (f"The file is not valid JSON: {whole.value.msg} at line "
                                    f"{whole.value.lineno} column {whole.value.colno}.")


def test_a_json_file_is_read_as_it_arrives_not_whole(monkeypatch):
    """The job's records come as the stored file is read, a window at a time: the first
    before most of it."""
    monkeypatch.setattr(json_stream, "WINDOW", 16 * 1024)
    cases = [case_record(contract_no=f"HT-{n}") for n in range(200)]
    data = json.dumps({"format": "fieldvisit.cases.v1", "cases": cases}).encode()
    stream = io.BytesIO(data)
    records = iter(stored_document(lambda: stream, "json", "cases").records["cases"])
    assert next(records)["contract_no"] == "HT-0"
    assert stream.tell() < len(data) / 10
    assert [raw["contract_no"] for raw in records][-1] == "HT-199"


def test_a_top_level_key_given_twice_is_refused():
    data = b'{"format": "fieldvisit.cases.v1", "cases": [], "cases": []}'
    with pytest.raises(InvalidInput) as caught:
        check_upload(io.BytesIO(data), "json", "cases")
    assert caught.value.status == 422 and caught.value.fields == {"cases": ["given twice"]}


def test_a_csv_file_beyond_what_is_read_whole_is_too_large(monkeypatch):
    monkeypatch.setattr(formats, "MAX_CSV_BYTES", 100)
    monkeypatch.setattr(formats, "READ_BLOCK", 16)
    data = b"record,contract_no,product\n" + b"case,HT-1,car_loan\n" * 10
    with pytest.raises(InvalidInput) as caught:
        check_upload(io.BytesIO(data), "csv", "cases")
    assert caught.value.status == 413 and "JSON" in caught.value.message


def test_json_with_a_byte_order_mark_is_read():
    data = "\ufeff".encode() + (FILES / "payments.json").read_bytes()
    assert parse_import_file(data, "json", "payments")["payments"][0]["ref"] == "P-9"


@pytest.mark.parametrize("data", [
    b'{"format": "fieldvisit.cases.v1", "cases": [',
    b'{"format": "fieldvisit.cases.v1", "cases": [{"principal_fen": NaN}]}',
    b"\xff\xfe{}",
    b"   ",
])
def test_unreadable_json_is_a_malformed_file(data):
    with pytest.raises(MalformedFile) as caught:
        parse_import_file(data, "json", "cases")
    assert caught.value.status == 400 and "file" in caught.value.fields


@pytest.mark.parametrize(("body", "field"), [
    ({"format": "fieldvisit.payments.v1", "cases": []}, "format"),
    ({"format": "fieldvisit.cases.v1", "as_of": "21/11/2026", "cases": []}, "as_of"),
    ({"format": "fieldvisit.cases.v1", "cases": {}}, "cases"),
    ({"format": "fieldvisit.cases.v1"}, "cases"),
    ({"format": "fieldvisit.cases.v1", "cases": [], "lender": "X"}, "lender"),
    ({"format": "fieldvisit.cases.v1", "cases": [], "_lines": []}, "_lines"),
    ([], "file"),
])
def test_a_document_of_the_wrong_shape_is_invalid_input(body, field):
    with pytest.raises(InvalidInput) as caught:
        parse_import_file(json.dumps(body).encode(), "json", "cases")
    assert caught.value.status == 422 and field in caught.value.fields


# --------------------------------------------------------------------------- CSV


def test_csv_case_file_folds_into_the_json_shape():
    doc = parse_import_file((FILES / "cases.csv").read_bytes(), "csv", "cases")
    first = doc["cases"][0]
    assert [c["contract_no"] for c in doc["cases"]] == [
        "HT-2025-000123", "HT-2025-000124", "HT-2025-000125"]
    assert first["debtor"]["national_id"] == "440308199901101512"
    assert first["debtor"]["work_phone"] is None  # empty cell
    assert [c["ref"] for c in first["contacts"]] == ["C1", "C2"]
    assert first["collateral"][0]["tracker"] == {
        "lat": "22.55", "lon": "114.07", "datum": "GCJ02", "at": "2026-11-20T08:00:00Z"}
    assert len(first["schedule"]) == 12 and "contacts" not in doc["cases"][2]
    lines = doc["_lines"][0]  # header is line 1
    assert (lines[""], lines["debtor"], lines["contacts.1"], lines["schedule.0"]) == (2, 3, 5, 10)
    assert doc["_errors"] == []


def test_csv_and_json_clean_to_the_same_records():
    from_json = json.loads((FILES / "cases.json").read_text("utf-8"))["cases"]
    from_csv = parse_import_file((FILES / "cases.csv").read_bytes(), "csv", "cases")["cases"]
    for raw_json, raw_csv in zip(from_json, from_csv, strict=True):
        cleaned_json, problems_json = clean_case(raw_json)
        cleaned_csv, problems_csv = clean_case(raw_csv, from_csv=True)
        assert problems_json == problems_csv == []
        assert cleaned_csv == cleaned_json


def test_csv_lines_that_cannot_be_placed_are_row_errors():
    data = (
        b"record,contract_no,product,principal_fen,ref,name,national_id\n"
        b"case,HT-1,car_loan,100,,,\n"
        b"vehicle,HT-1,,,,,\n"
        b"debtor,HT-2,,,D-2,Li,440308199901101512\n"
        b"case,HT-1,car_loan,100,,,\n"
        b"case,HT-3,car_loan,100,,,,extra\n"
    )
    doc = parse_import_file(data, "csv", "cases")
    assert [(e["row"], e["field"]) for e in doc["_errors"]] == [
        (3, "record"), (6, "record"), (5, "record"), (4, "contract_no")]
    assert [c["contract_no"] for c in doc["cases"]] == ["HT-1"]


def test_multiline_cells_keep_the_line_numbers_right():
    data = (b'record,contract_no,product,principal_fen,penalty_basis\n'
            b'case,HT-1,car_loan,100,"two\nlines"\n'
            b'case,HT-2,car_loan,100,\n')
    doc = parse_import_file(data, "csv", "cases")
    assert [lines[""] for lines in doc["_lines"]] == [2, 4]


@pytest.mark.parametrize(("data", "status"), [
    (b"record,contract_no,nickname\ncase,HT-1,Wei\n", 422),  # unknown column
    (b"record,contract_no,ref,ref\n", 422),                   # column twice
    (b"contract_no,ref\nHT-1,D\n", 422),                       # no record column
    (b'record,contract_no\ncase,"HT-1\n', 400),               # unterminated quote
    (b"record,contract_no\ncase,\xff\n", 400),                # not UTF-8
])
def test_unusable_csv_is_refused(data, status):
    with pytest.raises(InvalidInput) as caught:
        parse_import_file(data, "csv", "cases")
    assert caught.value.status == status and "file" in caught.value.fields


def test_csv_payments_file():
    doc = parse_import_file((FILES / "payments.csv").read_bytes(), "csv", "payments")
    assert doc["payments"] == [{"contract_no": "HT-2025-000123", "ref": "P-9",
                                "paid_on": "2026-11-20", "amount_fen": "2100000",
                                "method": "bank_transfer"}]
    assert doc["balances"][0]["status"] == "partly_paid"
    assert doc["_lines"] == {"payments": [2], "balances": [3]}


# --------------------------------------------------------------------------- records


def test_case_record_is_cleaned_and_normalised():
    record = case_record()
    record["debtor"] = dict(record["debtor"], national_id="44040119580101000x",
                            mobile_phone="+86 138-1234-5678")
    record["contacts"][0]["relation"] = "spouse"
    cleaned, problems = clean_case(record)
    assert problems == []
    assert cleaned["debtor"]["national_id"] == "44040119580101000X"
    assert cleaned["debtor"]["mobile_phone"] == "13812345678"
    assert cleaned["status"] is CaseStatus.ACTIVE
    assert cleaned["contacts"][0]["relation"] is Relation.SPOUSE
    assert cleaned["addresses"][1]["wgs84"] == gcj02_to_wgs84(22.54, 113.95)
    assert cleaned["collateral"][0]["tracker"]["at"] == datetime(2026, 11, 20, 8, tzinfo=UTC)


@pytest.mark.parametrize(("change", "field"), [
    ({"principal_fen": 12.5}, "principal_fen"),
    ({"principal_fen": True}, "principal_fen"),
    ({"currency": "rmb"}, "currency"),
    ({"status": "closed"}, "status"),
    ({"contract_no": "X" * 65}, "contract_no"),
    ({"debtor": None}, "debtor"),
    ({"contacts": {"ref": "C1"}}, "contacts"),
])
def test_case_record_problems_name_the_field(change, field):
    _, problems = clean_case(case_record(**change))
    assert [name for name, _ in problems] == [field]


def test_nested_problems_name_the_nested_field():
    record = case_record()
    record["debtor"]["timezone"] = "Mars/Olympus"
    record["addresses"][0]["datum"] = None
    record["addresses"][1]["lon"] = 200.0
    record["collateral"][0]["tracker"]["at"] = "2026-11-20T08:00:00"
    record["schedule"][3]["principal_fen"] = 2_000_000
    record["schedule"][5]["seq"] = 5
    record["payments"][1]["ref"] = "P-1"
    record["contacts"][1]["knows_of_loan"] = "yes"
    _, problems = clean_case(record)
    assert sorted(name for name, _ in problems) == sorted([
        "debtor.timezone", "addresses.0.datum", "addresses.1.lon",
        "collateral.0.tracker.at", "contacts.1.knows_of_loan"])
    record = case_record()
    record["schedule"][3]["principal_fen"] = 2_000_000
    record["schedule"][5]["seq"] = 5
    record["payments"][1]["ref"] = "P-1"
    _, problems = clean_case(record)
    assert sorted(name for name, _ in problems) == [
        "payments.1.ref", "schedule.3.principal_fen", "schedule.5.seq"]


def test_what_the_standard_library_reads_is_read():
    """A lone surrogate is text Python keeps; an integer beyond 64 bits is refused as too
    large, written as an integer or as a float."""
    body = (b'{"format": "fieldvisit.cases.v1", "cases": [{"contract_no": "\\ud800", '
            b'"principal_fen": 123456789012345678901234567890}]}')
    cases = parse_import_file(body, "json", "cases")["cases"]
    assert cases[0]["contract_no"] == "\ud800"
    fen = parse_import_file(body.replace(b'"\\ud800"', b'"HT-1"'), "json", "cases")
    _, problems = clean_case(fen["cases"][0])
    assert ("principal_fen", "is too large") in problems
    assert ("principal_fen", "is too large") in clean_case(
        {**fen["cases"][0], "principal_fen": 1e20})[1]
    assert ("principal_fen", "must be a whole number") in clean_case(
        {**fen["cases"][0], "principal_fen": 12.5})[1]


def test_identifier_messages_do_not_repeat_the_value():
    record = case_record()
    record["collateral"][0]["plate"] = "浙苏H6F681"
    _, problems = clean_case(record)
    assert problems == [("collateral.0.plate", "the value is not a valid plate number")]


def test_csv_strings_are_converted_and_json_strings_are_not():
    raw = {"contract_no": "HT-1", "ref": "P-1", "paid_on": "2026-11-20", "amount_fen": "100"}
    assert clean_payment(raw, from_csv=True) == (
        {"contract_no": "HT-1", "ref": "P-1", "paid_on": date(2026, 11, 20), "amount_fen": 100,
         "method": None}, [])
    assert clean_payment(raw)[1] == [("payment.amount_fen", "must be a whole number")]
    cleaned, problems = clean_balance({"contract_no": "HT-1", "status": "legal"})
    assert problems == [] and cleaned["penalty_fen"] is None  # left out: left as it is


def test_derived_keys_depend_on_content_only():
    first = clean_case(case_record())[0]["contacts"]
    record = case_record()
    for contact in record["contacts"]:
        contact.pop("ref")
    again = clean_case(record)[0]["contacts"]
    assert [c["key"] for c in first] == ["C1", "C2"]
    assert again[0]["key"] == derived_key("李娜", "spouse", "13987654321")
    assert again[0]["key"] != again[1]["key"] and len(again[0]["key"]) <= 64


def test_what_a_cases_file_names_twice_is_found_on_upload():
    """Contract numbers and debtor refs as the rows clean them (stripped); only the repeated
    ones are kept, and they come back from the run's JSON as they went in."""
    cases = [case_record(contract_no=f"HT-{n}", debtor={"ref": f"D-{n % 3}"}) for n in range(4)]
    cases.append(case_record(contract_no=" HT-1 ", debtor={"ref": " D-9"}))
    data = json.dumps({"format": "fieldvisit.cases.v1", "cases": cases}).encode()
    repeats = check_upload(io.BytesIO(data), "json", "cases").repeats
    assert (repeats.contract_nos, repeats.debtor_refs) == ({"HT-1"}, {"D-0"})
    assert FileRepeats.from_json(repeats.to_json()) == repeats
    assert FileRepeats.of(cases) == repeats
    assert check_upload(io.BytesIO((FILES / "payments.json").read_bytes()), "json",
                        "payments").repeats is None


def test_the_file_checks_keep_only_what_is_named_again():
    """A record whose contract number and debtor no other record names leaves nothing behind
    but its ID (one ID, one debtor ref); one named again is checked against the first."""
    checks = FileChecks(FileRepeats(contract_nos={"HT-2"}, debtor_refs={"D-2"}))
    once, problems = clean_case(case_record(contract_no="HT-1", debtor={
        **case_record()["debtor"], "ref": "D-1"}))
    assert problems == [] and checks.repeated("HT-1", 1) is None
    checks.consistent(1, once, "id-1", problems)
    assert (checks.first_row, checks.seen, problems) == ({}, {}, [])
    assert checks.id_holder == {"id-1": ("D-1", 1)}
    twice, _ = clean_case(case_record(contract_no="HT-2", debtor={
        **case_record()["debtor"], "ref": "D-2"}))
    checks.consistent(2, twice, "id-2", problems)
    assert checks.repeated("HT-2", 2) is None and checks.repeated("HT-2", 3) == (
        "appears again (first in row 2)")
    twice["debtor"]["name"] = "李四"
    checks.consistent(3, twice, "id-2", problems)
    assert problems == [("debtor", "differs from row 2 for the same debtor ref")]
    checks.consistent(4, {**twice, "debtor": {**twice["debtor"], "ref": "D-1"}}, "id-2",
                      problems := [])
    assert problems[0] == ("debtor.national_id", "also given for debtor ref D-2 (row 2)")


def test_a_small_json_file_is_kept_as_read_a_larger_one_is_not():
    """Up to `keep` records the upload's check keeps what it parsed, for a job in the same
    process; one more and it keeps none (the job reads the stored file again)."""
    data = (FILES / "cases.json").read_bytes()
    expected = json.loads(data)["cases"]
    kept = check_upload(io.BytesIO(data), "json", "cases", keep=len(expected))
    assert kept.document.records["cases"] == expected and kept.total == len(expected)
    assert kept.document.as_of == date(2026, 11, 21)
    let_go = check_upload(io.BytesIO(data), "json", "cases", keep=len(expected) - 1)
    assert let_go.document is None and let_go.total == len(expected)
    assert let_go.repeats == kept.repeats
