"""Reading lender files: JSON or CSV into the one document shape of docs/import-format.md.

A JSON file is read as a stream (`imports.json_stream`): checked once when it is uploaded, its
records counted and let go (a small file's are kept for a job in the same process), and read
again record by record by the import job, so a file of any size is taken in without holding
it. A CSV file (one line per record, told apart by its `record` column) is read whole and
folded into the JSON shape: a contract's lines may lie anywhere in the file. Two private keys
carry what CSV adds: `_lines` (the line of each record, so row errors name CSV lines) and
`_errors` (lines that could not be placed, such as an unknown record type). Bytes that cannot
be read are `MalformedFile` (400); a readable document of the wrong shape is `InvalidInput`
(422). Rows are not checked here (see `imports.rows`).
"""

from __future__ import annotations

import csv
import gc
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO

from api.services.exceptions import InvalidInput
from api.services.imports.file_checks import FileRepeats, RepeatCounter
from api.services.imports.json_stream import MalformedFile, StreamedRecords, walk
from api.services.imports.rows import BALANCE, CASE, CASE_PARTS, FILE_PAYMENT, TRACKER

CASES_FORMAT = "fieldvisit.cases.v1"
PAYMENTS_FORMAT = "fieldvisit.payments.v1"
FILE_FORMATS = ("json", "csv")
# kind -> (format name, the lists its document holds)
KINDS = {"cases": (CASES_FORMAT, ("cases",)),
         "payments": (PAYMENTS_FORMAT, ("payments", "balances"))}
TRACKER_COLUMNS = {f"tracker_{name}": name for name in TRACKER}
MAX_CSV_BYTES = 200 * 1024 * 1024  # a CSV file is read whole
READ_BLOCK = 1024 * 1024


class FileTooLarge(InvalidInput):
    status = 413
    code = "file_too_large"


@dataclass(frozen=True)
class Document:
    """A checked top level: the records are still raw, row checks come later. A record list is
    iterable once or more (a list, or `StreamedRecords` read from the stored file)."""

    kind: str
    as_of: date | None
    records: dict[str, Iterable]
    lines: Any  # cases: list of {field prefix: line}; payments: {list name: [line]}; or None
    errors: list[dict]


@dataclass(frozen=True)
class Upload:
    """A lender file checked as it arrives: the date its figures are for, how many records it
    holds, what a cases file names more than once and, for CSV (read whole), its document."""

    as_of: date | None
    total: int
    repeats: FileRepeats | None
    document: Document | None


def check_upload(stream: BinaryIO, file_format: str, kind: str, keep: int = 0) -> Upload:
    """Read and check the whole file in `stream`. A JSON file's records are counted and let
    go, unless it holds `keep` records at most: then they are kept, as its `document` (a small
    file is not parsed again by a job in the same process)."""
    _check_kind(kind, file_format)
    if file_format == "csv":
        doc = check_document(_read_csv(_read_whole(stream), kind), kind)
        return Upload(doc.as_of, sum(len(records) for records in doc.records.values()),
                      FileRepeats.of(doc.records["cases"]) if kind == "cases" else None, doc)
    lists = KINDS[kind][1]
    top: dict[str, Any] = {}
    total = 0
    counter = RepeatCounter()
    # Records kept pile up as objects with no cycle among them: the cyclic collector, which
    # would walk them again and again, waits (for all threads) until the file proves too large.
    paused = keep > 0 and gc.isenabled()
    if paused:
        gc.disable()
    try:
        for event, name, value in walk(stream, lists):
            if event == "item":
                total += 1
                if kind == "cases":
                    counter.note(value)
                if total <= keep:
                    top[name].append(value)
                elif total == keep + 1:  # too many to keep: let go of those kept so far
                    for kept in lists:
                        if isinstance(top.get(kept), list):
                            top[kept] = []
                    if paused:
                        gc.enable()
                        paused = False
            elif event == "list":
                top[name] = []
            elif name == "":  # the top level is not an object
                top = value
            else:
                top[name] = value
    finally:
        if paused:
            gc.enable()
    if isinstance(top, dict):
        private = sorted(k for k in top if k.startswith("_"))
        if private:
            raise InvalidInput("Unknown fields: " + ", ".join(private),
                               fields={k: ["unknown field"] for k in private})
    doc = check_document(top, kind)
    return Upload(doc.as_of, total, counter.repeats if kind == "cases" else None,
                  doc if total <= keep else None)


def stored_document(open_file: Callable[[], BinaryIO], file_format: str,
                    kind: str) -> Document:
    """The document of a file `check_upload` accepted, to be imported: JSON records are read
    from `open_file()` as they are iterated (its `as_of` is the run's: see `runs.queue_import`);
    a CSV file is read whole."""
    _check_kind(kind, file_format)
    if file_format == "csv":
        stream = open_file()
        try:
            return check_document(_read_csv(_read_whole(stream), kind), kind)
        finally:
            stream.close()
    lists = KINDS[kind][1]
    return Document(kind, None, {name: StreamedRecords(open_file, name, lists)
                                 for name in lists}, None, [])


def _check_kind(kind: str, file_format: str) -> None:
    if kind not in KINDS:
        raise InvalidInput("Unknown import kind.",
                           fields={"kind": [f"must be one of {', '.join(KINDS)}"]})
    if file_format not in FILE_FORMATS:
        raise InvalidInput("Unknown file format.", fields={"format": ["must be json or csv"]})


def _read_whole(stream: BinaryIO) -> bytes:
    blocks, size = [], 0
    while block := stream.read(READ_BLOCK):
        blocks.append(block)
        size += len(block)
        if size > MAX_CSV_BYTES:
            raise FileTooLarge(f"A CSV file is read whole: at most {MAX_CSV_BYTES // 2**20} "
                               f"MiB. Send a larger file as JSON (docs/import-format.md).",
                               fields={"file": [f"at most {MAX_CSV_BYTES // 2**20} MiB as CSV"]})
    return b"".join(blocks)


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


def _decode(data: bytes) -> str:
    if not data.strip():
        raise MalformedFile("The file is empty.", fields={"file": ["is empty"]})
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedFile(f"The file is not UTF-8 (byte {exc.start}).",
                            fields={"file": ["not UTF-8 text"]}) from None


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
