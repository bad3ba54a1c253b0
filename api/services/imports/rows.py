"""Checking lender records one at a time: their layouts (each field's converter, from
`imports.converters`) and the cleaners.

Plain functions over dicts, no database. Each cleaner returns the cleaned record and appends
`(field, message)` pairs for what is wrong; the caller skips a record with any problem.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from typing import Any

from api.models.cases import (
    AddressKind,
    Bucket,
    CaseStatus,
    CollateralKind,
    ContactRole,
    Product,
    Relation,
)
from api.services import geo
from api.services.casefile.identifiers import (
    normalize_engine_number,
    normalize_national_id,
    normalize_phone,
    normalize_plate,
    normalize_vin,
)
from api.services.compliance.presets import PRESETS
from api.services.exceptions import InvalidInput
from api.services.imports.converters import (
    Bad,
    Field,
    Problems,
    boolean,
    choice,
    currency,
    fen,
    identifier,
    iso_date,
    moment,
    number,
    seq,
    text,
    timezone,
)

# --------------------------------------------------------------------------- record layouts

JURISDICTIONS = tuple(PRESETS)  # a case's law; with its lender it chooses the policy

CASE = {
    "contract_no": Field(text(64), required=True),
    "product": Field(choice(Product), required=True),
    "currency": Field(currency, default="CNY"),
    "principal_fen": Field(fen, required=True),
    "disbursed_on": Field(iso_date),
    "status": Field(choice(CaseStatus), default=CaseStatus.ACTIVE),
    "lender_bucket": Field(choice(Bucket)),
    "penalty_fen": Field(fen, default=0),
    "fees_fen": Field(fen, default=0),
    "penalty_basis": Field(text(200)),
    "lender": Field(text(64), default="default"),
    "jurisdiction": Field(choice(JURISDICTIONS), default="CN"),
    "team_code": Field(text(32)),
    "collector_username": Field(text(64)),
}
DEBTOR = {
    "ref": Field(text(64), required=True),
    "name": Field(text(120), required=True),
    "national_id": Field(identifier(normalize_national_id), required=True),
    "mobile_phone": Field(identifier(normalize_phone)),
    "home_phone": Field(identifier(normalize_phone)),
    "work_phone": Field(identifier(normalize_phone)),
    "employer": Field(text(200)),
    "risk_notes": Field(text(4000)),
    "timezone": Field(timezone, default="Asia/Shanghai"),
}
CONTACT = {
    "ref": Field(text(64)),
    "name": Field(text(120), required=True),
    "relation": Field(choice(Relation), required=True),
    "role": Field(choice(ContactRole), default=ContactRole.REFERENCE),
    "phone": Field(identifier(normalize_phone)),
    "knows_of_loan": Field(boolean, default=False),
}
ADDRESS = {
    "ref": Field(text(64)),
    "kind": Field(choice(AddressKind), required=True),
    "text": Field(text(400), required=True),
    "lat": Field(number),
    "lon": Field(number),
    "datum": Field(choice(geo.DATUMS)),
    "contact_ref": Field(text(64)),
}
COLLATERAL = {
    "ref": Field(text(64)),
    "kind": Field(choice(CollateralKind), required=True),
    "vin": Field(identifier(normalize_vin)),
    "engine_no": Field(identifier(normalize_engine_number)),
    "plate": Field(identifier(normalize_plate)),
    "make": Field(text(60)),
    "model": Field(text(60)),
    "colour": Field(text(30)),
}
TRACKER = {
    "lat": Field(number, required=True),
    "lon": Field(number, required=True),
    "datum": Field(choice(geo.DATUMS), required=True),
    "at": Field(moment),
}
INSTALMENT = {
    "seq": Field(seq, required=True),
    "due_on": Field(iso_date, required=True),
    "amount_fen": Field(fen, required=True),
    "principal_fen": Field(fen, required=True),
}
PAYMENT = {
    "ref": Field(text(64), required=True),
    "paid_on": Field(iso_date, required=True),
    "amount_fen": Field(fen, required=True),
    "method": Field(text(40)),
}
FILE_PAYMENT = {"contract_no": Field(text(64), required=True), **PAYMENT}
BALANCE = {
    "contract_no": Field(text(64), required=True),
    "penalty_fen": Field(fen),
    "fees_fen": Field(fen),
    "status": Field(choice(CaseStatus)),
}
# The parts of a case record: JSON key -> (CSV record name, layout).
CASE_PARTS = {
    "debtor": ("debtor", DEBTOR),
    "contacts": ("contact", CONTACT),
    "addresses": ("address", ADDRESS),
    "collateral": ("collateral", COLLATERAL),
    "schedule": ("instalment", INSTALMENT),
    "payments": ("payment", PAYMENT),
}


# --------------------------------------------------------------------------- cleaners


def clean_record(raw: Any, layout: dict[str, Field], prefix: str, problems: Problems,
                 from_csv: bool, nested: tuple[str, ...] = ()) -> dict | None:
    """Check one flat record against its layout; `nested` keys are left for the caller."""
    if not isinstance(raw, dict):
        problems.append((prefix.rstrip(".") or "_row", "must be an object"))
        return None
    names, fields = _unpacked(layout)
    if not raw.keys() <= names:
        problems.extend((prefix + key, "unknown field")
                        for key in raw if key not in layout and key not in nested)
    out = {}
    get = raw.get
    for name, convert, required, default in fields:
        value = get(name)
        if value is not None:
            try:
                value = convert(value, from_csv)
            except Bad as exc:
                problems.append((prefix + name, str(exc)))
                continue
        if value is None:
            if required:
                problems.append((prefix + name, "is required"))
                continue
            value = default
        out[name] = value
    return out


# id(layout) -> (layout, its names, (name, convert, required, default) for each field); the
# layout is kept in its entry, so its id cannot be reused by another dict.
_UNPACKED: dict[int, tuple[dict, frozenset[str], tuple[tuple, ...]]] = {}


def _unpacked(layout: dict[str, Field]) -> tuple[frozenset[str], tuple[tuple, ...]]:
    """A layout's names and fields as plain tuples: a file runs `clean_record` some forty
    times a case, where each attribute lookup counts."""
    entry = _UNPACKED.get(id(layout))
    if entry is None or entry[0] is not layout:
        entry = _UNPACKED[id(layout)] = (layout, frozenset(layout), tuple(
            (name, spec.convert, spec.required, spec.default) for name, spec in layout.items()))
    return entry[1], entry[2]


def derived_key(*parts: Any) -> str:
    """Key of a contact, address or vehicle the lender gave no ref: a hash of its content."""
    material = "\x1f".join("" if p is None else str(getattr(p, "value", p)) for p in parts)
    return "~" + hashlib.sha256(material.encode()).hexdigest()[:31]


def clean_case(raw: Any, from_csv: bool = False) -> tuple[dict | None, Problems]:
    """A whole case record of a cases file. A list part left out (None) means "not given"."""
    problems: Problems = []
    case = clean_record(raw, CASE, "", problems, from_csv, nested=tuple(CASE_PARTS))
    if case is None:
        return None, problems
    debtor = raw.get("debtor")
    if debtor is None:
        problems.append(("debtor", "is required"))
    else:
        case["debtor"] = clean_record(debtor, DEBTOR, "debtor.", problems, from_csv)
    for name, finish in (("contacts", _contact), ("addresses", _address),
                         ("collateral", _collateral), ("schedule", None), ("payments", None)):
        case[name] = _clean_list(raw.get(name), name, problems, from_csv, finish)
    if not problems:
        _check_unique(case, problems)
        _check_schedule(case["schedule"] or [], problems)
    return case, problems


def clean_debtor_parts(raw: dict, from_csv: bool = False) -> tuple[dict, Problems]:
    """The debtor, contacts and addresses of a case record, cleaned as `clean_case` cleans
    them (what `FileChecks.consistent` compares), the rest of the record left alone."""
    problems: Problems = []
    data = {"debtor": clean_record(raw.get("debtor"), DEBTOR, "debtor.", problems, from_csv)}
    for name, finish in (("contacts", _contact), ("addresses", _address)):
        data[name] = _clean_list(raw.get(name), name, problems, from_csv, finish)
    return data, problems


def _clean_list(raw: Any, name: str, problems: Problems, from_csv: bool,
                finish: Callable | None) -> list[dict] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        problems.append((name, "must be a list"))
        return None
    layout = CASE_PARTS[name][1]
    nested = ("tracker",) if name == "collateral" else ()
    items = []
    for index, item in enumerate(raw):
        prefix = f"{name}.{index}."
        before = len(problems)
        record = clean_record(item, layout, prefix, problems, from_csv, nested)
        if record is not None and finish is not None and len(problems) == before:
            finish(record, item, prefix, problems, from_csv)
        items.append(record)
    return items


def _contact(record: dict, raw: dict, prefix: str, problems: Problems, from_csv: bool) -> None:
    record["key"] = record["ref"] or derived_key(
        record["name"], record["relation"], record["phone"])


def _address(record: dict, raw: dict, prefix: str, problems: Problems, from_csv: bool) -> None:
    record["key"] = record["ref"] or derived_key(record["kind"], record["text"])
    record["wgs84"] = _point(record["lat"], record["lon"], record["datum"], prefix, problems)


def _collateral(record: dict, raw: dict, prefix: str, problems: Problems, from_csv: bool) -> None:
    record["key"] = record["ref"] or (
        derived_key(record["vin"] or record["plate"]) if record["vin"] or record["plate"] else None)
    if record["key"] is None:
        problems.append((prefix + "ref", "give a ref, a VIN or a plate"))
    tracker = raw.get("tracker")
    record["tracker"] = None
    if tracker is not None:
        before = len(problems)
        fix = clean_record(tracker, TRACKER, prefix + "tracker.", problems, from_csv)
        if fix is not None and len(problems) == before:
            point = _point(fix["lat"], fix["lon"], fix["datum"], prefix + "tracker.", problems)
            if point is not None:
                record["tracker"] = {"lat": point[0], "lon": point[1], "at": fix["at"]}


def _point(lat: float | None, lon: float | None, datum: str | None, prefix: str,
           problems: Problems) -> tuple[float, float] | None:
    """WGS-84 (lat, lon) of a coordinate pair given in `datum`; None when there is none."""
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        problems.append((prefix + ("lon" if lon is None else "lat"), "give lat and lon together"))
        return None
    if datum is None:
        problems.append((prefix + "datum", "is required with coordinates (WGS84, GCJ02, BD09)"))
        return None
    try:
        geo.validate_coordinates(lat, lon, prefix)
    except InvalidInput as exc:
        problems.extend((name, messages[0]) for name, messages in exc.fields.items())
        return None
    return geo.to_wgs84(lat, lon, datum)


def _check_unique(case: dict, problems: Problems) -> None:
    """No two contacts, addresses, vehicles, instalments or payments with the same key."""
    for name, key in (("contacts", "key"), ("addresses", "key"), ("collateral", "key"),
                      ("schedule", "seq"), ("payments", "ref")):
        first: dict[Any, int] = {}
        for index, item in enumerate(case[name] or []):
            seen = first.setdefault(item[key], index)
            if seen != index:
                field = "seq" if key == "seq" else "ref"
                problems.append((f"{name}.{index}.{field}", f"repeats {name}.{seen}"))


def _check_schedule(schedule: list[dict], problems: Problems) -> None:
    """Principal within the instalment; due dates strictly increasing with `seq`."""
    for index, item in enumerate(schedule):
        if item["principal_fen"] > item["amount_fen"]:
            problems.append((f"schedule.{index}.principal_fen", "must not exceed amount_fen"))
    ordered = sorted(range(len(schedule)), key=lambda i: schedule[i]["seq"])
    for prev, cur in itertools.pairwise(ordered):
        if schedule[cur]["due_on"] <= schedule[prev]["due_on"]:
            problems.append((f"schedule.{cur}.due_on",
                             f"must be after the due date of seq {schedule[prev]['seq']}"))


def clean_payment(raw: Any, from_csv: bool = False) -> tuple[dict | None, Problems]:
    """A record of the payments list of a payments file."""
    problems: Problems = []
    return clean_record(raw, FILE_PAYMENT, "payment.", problems, from_csv), problems


def clean_balance(raw: Any, from_csv: bool = False) -> tuple[dict | None, Problems]:
    """A record of the balances list of a payments file; a field left out is left as it is."""
    problems: Problems = []
    return clean_record(raw, BALANCE, "balance.", problems, from_csv), problems
