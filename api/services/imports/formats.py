"""Reading lender files: JSON or CSV bytes into the one document shape of docs/import-format.md.

A CSV file (one line per record, told apart by its `record` column) is folded into the JSON
shape. Two private keys carry what CSV adds: `_lines` (the line of each record, so row errors
name CSV lines) and `_errors` (lines that could not be placed, such as an unknown record type).
Bytes that cannot be read are `MalformedFile` (400); a readable document of the wrong shape is
`InvalidInput` (422). Rows are not checked here (see `imports.rows`).
"""

from __future__ import annotations

import codecs
import csv
import gc
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from api.services.exceptions import InvalidInput
from api.services.imports.rows import BALANCE, CASE, CASE_PARTS, FILE_PAYMENT, TRACKER

CASES_FORMAT = "fieldvisit.cases.v1"
PAYMENTS_FORMAT = "fieldvisit.payments.v1"
FILE_FORMATS = ("json", "csv")
# kind -> (format name, the lists its document holds)
KINDS = {"cases": (CASES_FORMAT, ("cases",)),
         "payments": (PAYMENTS_FORMAT, ("payments", "balances"))}
TRACKER_COLUMNS = {f"tracker_{name}": name for name in TRACKER}


class MalformedFile(InvalidInput):
    """The bytes are not readable as the declared format at all."""

    status = 400
    code = "malformed_file"


@dataclass(frozen=True)
class Document:
    """A checked top level: the records are still raw, row checks come later."""

    kind: str
    as_of: date | None
    records: dict[str, list]
    lines: Any  # cases: list of {field prefix: line}; payments: {list name: [line]}; or None
    errors: list[dict]


def parse_import_file(data: bytes, file_format: str, kind: str) -> dict:
    """The document in `data` (JSON or CSV) as a dict shaped like the JSON format."""
    if kind not in KINDS:
        raise InvalidInput("Unknown import kind.",
                           fields={"kind": [f"must be one of {', '.join(KINDS)}"]})
    if file_format == "json":
        payload = _read_json(data)
    elif file_format == "csv":
        payload = _read_csv(data, kind)
    else:
        raise InvalidInput("Unknown file format.", fields={"format": ["must be json or csv"]})
    check_document(payload, kind)
    return payload


def check_document(payload: Any, kind: str) -> Document:
    """Check the top level of a document: its format name, `as_of` and record lists."""
    format_name, lists = KINDS[kind]
    if not isinstance(payload, dict):
        raise InvalidInput("The file must hold a JSON object.",
                           fields={"file": ["must be an object"]})
    problems: dict[str, list[str]] = {}
    if payload.get("format") != format_name:
        problems["format"] = [f"must be {format_name!r} for a {kind} import"]
    for key in payload:
        if key not in {"format", "as_of", *lists, "_lines", "_errors"}:
            problems[key] = ["unknown field"]
    as_of = payload.get("as_of")
    if as_of is not None:
        try:
            as_of = date.fromisoformat(as_of) if len(as_of) == 10 else None
        except (TypeError, ValueError):
            as_of = None
        if as_of is None:
            problems["as_of"] = ["must be a date as YYYY-MM-DD"]
    for name in lists:
        if not isinstance(payload.get(name, []), list):
            problems[name] = ["must be a list"]
    if not any(name in payload for name in lists):
        problems[lists[0]] = ["is required"]
    if problems:
        raise InvalidInput("The file is not a " + format_name + " document: "
                           + ", ".join(sorted(problems)), fields=problems)
    return Document(kind, as_of, {name: payload.get(name) or [] for name in lists},
                    payload.get("_lines"), list(payload.get("_errors") or []))


# --------------------------------------------------------------------------- JSON


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _read_json(data: bytes) -> Any:
    # orjson reads a valid file three times faster than the standard library (and an integer
    # beyond 64 bits as a float: see `converters._whole`); what it refuses (bytes that are not
    # UTF-8, a lone surrogate, NaN...) the standard library reads, deciding and wording the
    # error as before. Parsing makes millions of objects and no cycle: the cyclic collector
    # would only walk them again and again meanwhile.
    body = memoryview(data)[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    with _collector_paused():
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = _read_json_slowly(_decode(data))
    if isinstance(payload, dict):
        private = sorted(k for k in payload if k.startswith("_"))
        if private:
            raise InvalidInput("Unknown fields: " + ", ".join(private),
                               fields={k: ["unknown field"] for k in private})
    return payload


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_json_slowly(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise MalformedFile(f"The file is not valid JSON: {exc.msg} at line {exc.lineno} "
                            f"column {exc.colno}.", fields={"file": ["not valid JSON"]}) from None
    except (ValueError, RecursionError) as exc:
        raise MalformedFile("The file is not valid JSON.",
                            fields={"file": [str(exc)[:100] or "not valid JSON"]}) from None


def _decode(data: bytes) -> str:
    if not data.strip():
        raise MalformedFile("The file is empty.", fields={"file": ["is empty"]})
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedFile(f"The file is not UTF-8 (byte {exc.start}).",
                            fields={"file": ["not UTF-8 text"]}) from None


# --------------------------------------------------------------------------- CSV


def _columns(layout: dict, *, link: bool = True) -> dict[str, str]:
    """CSV column -> field name of one record type (`contract_no` links a part to its case)."""
    return {name: name for name in layout} | ({"contract_no": "contract_no"} if link else {})


CASE_RECORDS = {"case": _columns(CASE, link=False)} | {
    record: _columns(layout) | (TRACKER_COLUMNS if record == "collateral" else {})
    for record, layout in CASE_PARTS.values()
}
PAYMENT_RECORDS = {"payment": _columns(FILE_PAYMENT), "balance": _columns(BALANCE)}


def _read_csv(data: bytes, kind: str) -> dict:
    records = CASE_RECORDS if kind == "cases" else PAYMENT_RECORDS
    header, rows = _csv_rows(_decode(data))
    known = {"record"} | {column for columns in records.values() for column in columns}
    unknown = [name for name in header if name not in known]
    doubled = sorted({name for name in header if header.count(name) > 1})
    missing = [name for name in ("record", "contract_no") if name not in header]
    if unknown or doubled or missing:
        raise InvalidInput("The CSV header is not usable.", fields={"file": [
            *(f"unknown column {name!r}" for name in unknown[:20]),
            *(f"column {name!r} appears twice" for name in doubled),
            *(f"needs a {name!r} column" for name in missing)]})
    fold = _fold_cases if kind == "cases" else _fold_payments
    return fold(_split_records(header, rows, records))


def _csv_rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-blank rows, each with the line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        header = [name.strip() for name in next(reader)]
        last = reader.line_num
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((last + 1, cells))
            last = reader.line_num
    except csv.Error as exc:
        raise MalformedFile(f"The file is not valid CSV: {exc} (line {reader.line_num}).",
                            fields={"file": ["not valid CSV"]}) from None
    return header, rows


@dataclass
class _Line:
    line: int
    record: str
    contract_no: str | None
    values: dict  # field -> raw value (None for an empty cell); foreign non-empty cells kept


def _split_records(header: list[str], rows, records: dict[str, dict[str, str]]):
    """Each row as (line, record type, contract_no, values), or an error for the line."""
    out: list[_Line | dict] = []
    for line, cells in rows:
        contract_no = _cell(cells, header.index("contract_no"))
        if len(cells) > len(header):
            out.append(_error(line, contract_no, "record",
                              f"has {len(cells)} cells, the header has {len(header)}"))
            continue
        record = (_cell(cells, header.index("record")) or "").strip()
        columns = records.get(record)
        if columns is None:
            out.append(_error(line, contract_no, "record",
                              f"must be one of {', '.join(records)}"))
            continue
        values: dict[str, Any] = {}
        tracker: dict[str, Any] = {}
        for index, name in enumerate(header):
            value = _cell(cells, index)
            if name == "record" or (name == "contract_no" and record != "case"):
                continue
            if name in TRACKER_COLUMNS and name in columns:
                if value is not None:
                    tracker[TRACKER_COLUMNS[name]] = value
            elif name in columns or value is not None:
                values[name] = value
        if record == "collateral":
            values["tracker"] = tracker or None
        out.append(_Line(line, record, contract_no, values))
    return out


def _cell(cells: list[str], index: int) -> str | None:
    value = cells[index] if index < len(cells) else ""
    return value if value.strip() else None


def _error(line: int, contract_no: str | None, field: str, message: str) -> dict:
    return {"row": line, "contract_no": contract_no, "field": field, "message": message}


def _fold_cases(items: list[_Line | dict]) -> dict:
    """Gather each contract's lines into one case record, in the order of the `case` lines."""
    errors = [item for item in items if isinstance(item, dict)]
    cases: dict[str, tuple[dict, dict]] = {}
    for item in items:
        if isinstance(item, _Line) and item.record == "case" and item.contract_no:
            if item.contract_no in cases:
                errors.append(_error(item.line, item.contract_no, "record",
                                     f"second case line (first on line "
                                     f"{cases[item.contract_no][1]['']})"))
            else:
                cases[item.contract_no] = (dict(item.values), {"": item.line})
    for item in items:
        if not isinstance(item, _Line) or item.record == "case":
            if isinstance(item, _Line) and not item.contract_no:
                errors.append(_error(item.line, None, "contract_no", "is required"))
            continue
        if item.contract_no not in cases:
            errors.append(_error(item.line, item.contract_no, "contract_no",
                                 "no case line for this contract in the file"))
            continue
        case, lines = cases[item.contract_no]
        part = next(name for name, (record, _) in CASE_PARTS.items() if record == item.record)
        if part == "debtor":
            if "debtor" in case:
                errors.append(_error(item.line, item.contract_no, "record",
                                     f"second debtor line (first on line {lines['debtor']})"))
                continue
            case["debtor"], lines["debtor"] = item.values, item.line
        else:
            case.setdefault(part, []).append(item.values)
            lines[f"{part}.{len(case[part]) - 1}"] = item.line
    return {"format": CASES_FORMAT, "as_of": None,
            "cases": [case for case, _ in cases.values()],
            "_lines": [lines for _, lines in cases.values()], "_errors": errors}


def _fold_payments(items: list[_Line | dict]) -> dict:
    lists: dict[str, list] = {"payments": [], "balances": []}
    lines: dict[str, list[int]] = {"payments": [], "balances": []}
    errors = [item for item in items if isinstance(item, dict)]
    for item in items:
        if isinstance(item, _Line):
            name = "payments" if item.record == "payment" else "balances"
            lists[name].append({"contract_no": item.contract_no, **item.values})
            lines[name].append(item.line)
    return {"format": PAYMENTS_FORMAT, "as_of": None, **lists, "_lines": lines,
            "_errors": errors}
