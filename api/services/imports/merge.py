"""Merging a case record's parts into the saved ones: schedule, payments, vehicles, contacts,
addresses."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from api.models import (
    Address,
    Case,
    Collateral,
    Contact,
    CoordSource,
    Debtor,
    Instalment,
    Payment,
    RepossessionStatus,
)
from api.services.identity.pii import PiiCipher

CASE_FIELDS = ("product", "currency", "principal_fen", "disbursed_on", "lender_bucket",
               "penalty_fen", "fees_fen", "penalty_basis", "lender", "jurisdiction")
DEBTOR_FIELDS = ("name", "mobile_phone", "home_phone", "work_phone", "employer", "risk_notes",
                 "timezone")
CONTACT_FIELDS = ("name", "relation", "role", "phone", "knows_of_loan")
COLLATERAL_FIELDS = ("kind", "vin", "engine_no", "plate", "make", "model", "colour")
INSTALMENT_FIELDS = ("due_on", "amount_fen", "principal_fen")
PAYMENT_FIELDS = ("paid_on", "amount_fen", "method")


def debtor_values(item: dict) -> dict[str, Any]:
    """A debtor's own columns from the file, but the national ID (`national_id_columns`)."""
    return {name: item[name] for name in DEBTOR_FIELDS}


def national_id_columns(cipher: PiiCipher, national_id: str, digest: str) -> dict[str, Any]:
    """A debtor's national ID as stored: sealed, its lookup digest and last four."""
    return {"national_id_cipher": cipher.encrypt(national_id), "national_id_digest": digest,
            "national_id_last4": national_id[-4:]}


def contact_values(item: dict) -> dict[str, Any]:
    return {k: item[k] for k in CONTACT_FIELDS}


def address_values(item: dict) -> dict[str, Any]:
    """A new address's columns from the file (the lender's coordinates, if it gives any)."""
    point = lender_point(_NEW_ADDRESS, item) or dict.fromkeys(
        ("lat", "lon", "coord_source", "source_datum"))
    return {"lender_ref": item["key"], "kind": item["kind"], "text": item["text"], **point}


def case_part_rows(case_id: int, data: dict) -> dict[type, list[dict[str, Any]]]:
    """The rows of a new case's schedule, payments and vehicles, by model."""
    return {
        Instalment: [{"case_id": case_id, "seq": i["seq"], **{k: i[k] for k in INSTALMENT_FIELDS}}
                     for i in data["schedule"] or []],
        Payment: [{"case_id": case_id, "lender_ref": p["ref"],
                   **{k: p[k] for k in PAYMENT_FIELDS}} for p in data["payments"] or []],
        Collateral: [{"case_id": case_id, "lender_ref": c["key"],
                      "repossession_status": RepossessionStatus.NONE, "tracker_lat": None,
                      "tracker_lon": None, "tracker_at": None, **collateral_values(c)}
                     for c in data["collateral"] or []],
    }


def set_changed(obj: Any, values: dict[str, Any]) -> bool:
    """Set only the attributes that differ; True if any did."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def merge_schedule(case: Case, schedule: list[dict] | None) -> bool:
    """The lender's plan is authoritative when given: lines are matched by `seq`, lines no
    longer in it are removed."""
    if schedule is None:
        return False
    current = {i.seq: i for i in case.instalments}
    changed = False
    for item in schedule:
        values = {k: item[k] for k in INSTALMENT_FIELDS}
        instalment = current.pop(item["seq"], None)
        if instalment is None:
            case.instalments.append(Instalment(seq=item["seq"], **values))
            changed = True
        else:
            changed |= set_changed(instalment, values)
    for instalment in current.values():
        case.instalments.remove(instalment)
        changed = True
    return changed


def _merge_by_ref(collection: list, model: type, items: list[dict] | None, ref_field: str,
                  values_of: Callable[[dict], dict[str, Any]]) -> bool:
    """Rows of `collection` matched by `lender_ref` to `item[ref_field]`: new ones added, the
    others updated, none removed."""
    current = {row.lender_ref: row for row in collection}
    changed = False
    for item in items or []:
        values = values_of(item)
        row = current.get(item[ref_field])
        if row is None:
            row = model(lender_ref=item[ref_field], **values)
            collection.append(row)
            current[item[ref_field]] = row
            changed = True
        else:
            changed |= set_changed(row, values)
    return changed


def merge_payments(case: Case, payments: list[dict] | None) -> bool:
    """Payments are added (or corrected) by ref, never removed."""
    return _merge_by_ref(case.payments, Payment, payments, "ref",
                         lambda item: {k: item[k] for k in PAYMENT_FIELDS})


def merge_collateral(case: Case, items: list[dict] | None) -> bool:
    """Vehicles by key; the repossession status is field data and is never touched, and a
    tracker position is only replaced by a newer report, never cleared."""
    return _merge_by_ref(case.collateral, Collateral, items, "key", collateral_values)


def collateral_values(item: dict) -> dict[str, Any]:
    """A vehicle's columns from the file; without a tracker report the position is left out."""
    values = {k: item[k] for k in COLLATERAL_FIELDS}
    tracker = item["tracker"]
    if tracker is not None:
        values |= {"tracker_lat": tracker["lat"], "tracker_lon": tracker["lon"],
                   "tracker_at": tracker["at"]}
    return values


def merge_contacts(debtor: Debtor, items: list[dict] | None) -> bool:
    """Contacts by key; contacts the file does not name (e.g. learnt in the field) stay."""
    return _merge_by_ref(debtor.contacts, Contact, items, "key", contact_values)


def lender_point(address: Any, item: dict) -> dict[str, Any]:
    """The coordinates the file sets on an address: none when it gives none, or when the saved
    ones are field data (confirmed by a visit, or taken on one)."""
    point = item["wgs84"]
    field_data = address.confirmed_at is not None or address.coord_source == CoordSource.VISIT
    if point is None or field_data:
        return {}
    return {"lat": point[0], "lon": point[1], "coord_source": CoordSource.LENDER,
            "source_datum": item["datum"]}


_NEW_ADDRESS = SimpleNamespace(confirmed_at=None, coord_source=None)  # as `lender_point` sees it


def merge_addresses(debtor: Debtor, items: list[dict] | None,
                    links: list[tuple[Address, Contact]]) -> bool:
    """Addresses by key. Coordinates confirmed by a visit, or taken on a visit, are kept; the
    lender's coordinates replace only its own or a geocoder's, and a missing pair clears
    nothing. An address whose contact is new goes into `links`, to be tied after the flush."""
    current = {a.lender_ref: a for a in debtor.addresses}
    contacts = {c.lender_ref: c for c in debtor.contacts}
    changed = False
    for item in items or []:
        address = current.get(item["key"])
        if address is None:
            address = Address(**address_values(item))
            debtor.addresses.append(address)
            current[item["key"]] = address
            changed = True
        else:
            changed |= set_changed(address, {"kind": item["kind"], "text": item["text"]})
            changed |= set_changed(address, lender_point(address, item))
        contact = contacts.get(item["contact_ref"]) if item["contact_ref"] else None
        if contact is not None and contact.id is None:
            links.append((address, contact))  # its id comes with the flush
            changed = True
        elif address.contact_id != (contact.id if contact else None):
            address.contact_id = contact.id if contact else None
            changed = True
    return changed
