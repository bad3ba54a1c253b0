"""The saved state of a chunk's cases as plain rows, to tell a record that changes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement

from api.models import Address, Case, Collateral, Contact, Debtor, Instalment, Payment
from api.services.exceptions import InvalidInput
from api.services.imports import bulk
from api.services.imports.merge import (
    CASE_FIELDS,
    COLLATERAL_FIELDS,
    CONTACT_FIELDS,
    DEBTOR_FIELDS,
    INSTALMENT_FIELDS,
    PAYMENT_FIELDS,
    collateral_values,
    debtor_values,
    lender_point,
)
from api.services.imports.records import (
    FIGURES,
    CaseRow,
    FileItem,
    case_values,
    loan_figures,
    oversized_figure,
)

SNAPSHOT_COLUMNS = {  # what `Snapshot` reads of each table (all that the merge compares)
    Case: ("id", "contract_no", "debtor_id", "team_id", "collector_id", *CASE_FIELDS, *FIGURES,
           "bucket", "status", "figures_as_of"),
    Debtor: ("id", "lender_ref", "national_id_digest", *DEBTOR_FIELDS),
    Contact: ("debtor_id", "id", "lender_ref", *CONTACT_FIELDS),
    Address: ("debtor_id", "lender_ref", "kind", "text", "lat", "lon", "coord_source",
              "source_datum", "confirmed_at", "contact_id"),
    Instalment: ("case_id", "seq", *INSTALMENT_FIELDS),
    Payment: ("case_id", "lender_ref", *PAYMENT_FIELDS),
    Collateral: ("case_id", "lender_ref", *COLLATERAL_FIELDS, "tracker_lat", "tracker_lon",
                 "tracker_at"),
}


def _snapshot_select(model: type, where: ColumnElement, *order_by: Any):
    return select(*(getattr(model, name) for name in SNAPSHOT_COLUMNS[model])).where(
        where).order_by(*order_by)


def _differs(saved: Any, values: dict[str, Any]) -> bool:
    """Whether `set_changed(saved, values)` would change anything (same comparison)."""
    return any(getattr(saved, name) != value for name, value in values.items())


def _keyed(rows: Iterable) -> dict[int, dict[str, Any]]:
    """{parent id: {lender_ref: row}} of rows whose first column is the parent's id."""
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        out.setdefault(row[0], {})[row.lender_ref] = row
    return out


def _listed(rows: Iterable) -> dict[int, list]:
    out: dict[int, list] = {}
    for row in rows:
        out.setdefault(row[0], []).append(row)
    return out


@dataclass
class Snapshot:
    """The saved state of a chunk's saved cases as plain rows, which are about ten times
    cheaper to read than ORM objects: enough to tell a record that would change nothing."""

    cases: dict[str, Any]  # contract_no -> row
    debtors: dict[str, Any]  # lender_ref -> row
    contacts: dict[int, dict[str, Any]]  # debtor id -> lender_ref -> row
    addresses: dict[int, dict[str, Any]]
    instalments: dict[int, list]  # case id -> rows in seq order
    payments: dict[int, list]  # case id -> rows in paid_on order (as `Case.payments`)
    collateral: dict[int, dict[str, Any]]

    @classmethod
    def load(cls, session: Session, rows: list[CaseRow]) -> Snapshot | None:
        execute = session.execute

        def among_(column, values):
            return bulk.among(session, column, values)

        cases = {c.contract_no: c for c in execute(_snapshot_select(
            Case, among_(Case.contract_no, [row.contract_no for row in rows])))}
        if not cases:
            return None
        refs = {row.data["debtor"]["ref"] for row in rows if row.contract_no in cases}
        debtors = {d.lender_ref: d for d in execute(_snapshot_select(
            Debtor, among_(Debtor.lender_ref, refs)))}
        debtor_ids = [d.id for d in debtors.values()]
        case_ids = [c.id for c in cases.values()]
        return cls(
            cases, debtors,
            _keyed(execute(_snapshot_select(Contact, among_(Contact.debtor_id, debtor_ids)))),
            _keyed(execute(_snapshot_select(Address, among_(Address.debtor_id, debtor_ids)))),
            _listed(execute(_snapshot_select(Instalment, among_(Instalment.case_id, case_ids),
                                             Instalment.case_id, Instalment.seq))),
            _listed(execute(_snapshot_select(Payment, among_(Payment.case_id, case_ids),
                                             Payment.case_id, Payment.paid_on))),
            _keyed(execute(_snapshot_select(Collateral, among_(Collateral.case_id, case_ids)))))

    def judge(self, row: CaseRow, as_of: date) -> dict[str, Any] | None:
        """What `CaseMerge.upsert` would set on the case, {} for nothing, if the row passes
        `CaseMerge.check` and changes nothing but the case's own columns; otherwise None
        (the ORM merge decides)."""
        data, file_debtor = row.data, row.data["debtor"]
        case = self.cases.get(row.contract_no)
        debtor = self.debtors.get(file_debtor["ref"])
        if (case is None or debtor is None or case.debtor_id != debtor.id
                or debtor.national_id_digest != row.digest
                or _differs(debtor, debtor_values(file_debtor))):
            return None
        contacts = self.contacts.get(debtor.id, {})
        for item in data["contacts"] or []:
            contact = contacts.get(item["key"])
            if contact is None or _differs(contact, {k: item[k] for k in CONTACT_FIELDS}):
                return None
        addresses = self.addresses.get(debtor.id, {})
        for item in data["addresses"] or []:
            address = addresses.get(item["key"])
            if address is None or (item["contact_ref"] and item["contact_ref"] not in contacts):
                return None  # a new address, or an error for `CaseMerge.check` to report
            if _differs(address, {"kind": item["kind"], "text": item["text"]}):
                return None
            if _differs(address, lender_point(address, item)):
                return None
            contact = contacts.get(item["contact_ref"]) if item["contact_ref"] else None
            if address.contact_id != (contact.id if contact else None):
                return None
        return self._judge_case(row, case, as_of)

    def _judge_case(self, row: CaseRow, case: Any, as_of: date) -> dict[str, Any] | None:
        data = row.data
        schedule, saved_schedule = data["schedule"], self.instalments.get(case.id, [])
        saved_payments = {p.lender_ref: p for p in self.payments.get(case.id, [])}
        payments = saved_payments | {p["ref"]: FileItem(**p) for p in data["payments"] or []}
        if schedule is not None:  # the file's plan replaces the saved one
            saved = {i.seq: i for i in saved_schedule}
            if len(saved) != len(schedule):
                return None
            for item in schedule:
                instalment = saved.get(item["seq"])
                if instalment is None or _differs(instalment, {
                        k: item[k] for k in INSTALMENT_FIELDS}):
                    return None
        for item in data["payments"] or []:
            payment = saved_payments.get(item["ref"])
            if payment is None or _differs(payment, {k: item[k] for k in PAYMENT_FIELDS}):
                return None
        vehicles = self.collateral.get(case.id, {})
        for item in data["collateral"] or []:
            vehicle = vehicles.get(item["key"])
            if vehicle is None or _differs(vehicle, collateral_values(item)):
                return None
        if row.holder is not None:
            team_id, collector_id, collector_named = row.holder
            keep = not collector_named and case.team_id == team_id
            if not keep and (case.team_id, case.collector_id) != (team_id, collector_id):
                return None
        try:
            figures = loan_figures([FileItem(**i) for i in schedule] if schedule is not None
                                   else saved_schedule, payments.values(), as_of)
        except InvalidInput:
            return None
        if oversized_figure(figures) is not None:
            return None  # an error for `CaseMerge.check` to report
        values = case_values(data, figures, as_of)
        return values if _differs(case, values) else {}
