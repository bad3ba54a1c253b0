"""The payment importer: payments by (contract_no, ref), balances, refreshed figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, raiseload, selectinload

from api.models import Case, Payment
from api.services.fieldwork.promise_status import refresh_promise_statuses
from api.services.imports.bulk import CHUNK, among, chunks
from api.services.imports.formats import Document
from api.services.imports.merge import PAYMENT_FIELDS, set_changed
from api.services.imports.records import figure_columns, loan_figures
from api.services.imports.rows import clean_balance, clean_payment
from api.services.imports.run_log import RunLog, db_problem


@dataclass
class _Record:
    section: str  # "payment" | "balance"
    row: int
    data: dict


class PaymentImporter:
    def __init__(self, session: Session, log: RunLog, as_of: date, from_csv: bool, step=None,
                 chunk: int = CHUNK):
        self.session, self.log, self.as_of, self.from_csv = session, log, as_of, from_csv
        self.step = step  # called between chunks with the log and the records read
        self.chunk = chunk  # cases per SAVEPOINT

    def run(self, doc: Document) -> None:
        for error in doc.errors:
            self.log.error(error["row"], error["contract_no"], error["field"], error["message"])
        groups: dict[str, list[_Record]] = {}
        first_ref: dict[tuple[str, str], int] = {}
        for name, section, clean in (("payments", "payment", clean_payment),
                                     ("balances", "balance", clean_balance)):
            for index, raw in enumerate(doc.records[name]):
                self.log.rows += 1
                row = doc.lines[name][index] if doc.lines else index + 1
                data, problems = clean(raw, self.from_csv)
                if not problems and section == "payment":
                    first = first_ref.setdefault((data["contract_no"], data["ref"]), row)
                    if first != row:
                        problems.append(("payment.ref", f"appears again (first in row {first})"))
                if problems:
                    contract_no = raw.get("contract_no") if isinstance(raw, dict) else None
                    for field_name, message in problems:
                        self.log.error(row, contract_no, field_name, message, section)
                    continue
                groups.setdefault(data["contract_no"], []).append(_Record(section, row, data))
        read = self.log.rows - sum(len(records) for records in groups.values())
        for contracts in chunks(list(groups), self.chunk):
            self._apply_chunk({no: groups[no] for no in contracts})
            read += sum(len(groups[no]) for no in contracts)
            if self.step is not None and read < self.log.rows:
                self.step(self.log, read)

    def _apply_chunk(self, groups: dict[str, list[_Record]]) -> None:
        outcomes: list[str] = []
        unknown: list[_Record] = []
        try:
            with self.session.begin_nested():
                self._apply(groups, outcomes, unknown)
        except (IntegrityError, DataError) as exc:
            if len(groups) > 1:
                for contract_no, records in groups.items():
                    self._apply_chunk({contract_no: records})
                return
            name, message = db_problem(exc, "payment.ref")
            for record in next(iter(groups.values())):
                self.log.error(record.row, record.data["contract_no"], name, message,
                               record.section)
            return
        for record in unknown:
            self.log.error(record.row, record.data["contract_no"],
                           f"{record.section}.contract_no", "no such case", record.section)
        for outcome in outcomes:
            self.log.count(outcome)

    def _apply(self, groups: dict[str, list[_Record]], outcomes: list[str],
               unknown: list[_Record]) -> None:
        cases = {c.contract_no: c for c in self.session.scalars(
            select(Case).where(among(self.session, Case.contract_no, groups))
            .options(selectinload(Case.instalments), selectinload(Case.payments),
                     raiseload("*")))}
        paid: list[Case] = []  # cases whose payments changed
        with self.session.no_autoflush:
            for contract_no, records in groups.items():
                case = cases.get(contract_no)
                if case is None:
                    unknown.extend(records)
                    continue
                status = case.status
                payments_before = len(outcomes)
                for record in records:
                    if record.section == "payment":
                        outcomes.append(_add_payment(case, record.data))
                    else:
                        outcomes.append(_set_balance(case, record.data))
                        status = record.data["status"] or status
                if any(outcome != "unchanged" and record.section == "payment"
                       for outcome, record in zip(outcomes[payments_before:], records,
                                                  strict=True)):
                    paid.append(case)
                figures = loan_figures(case.instalments, case.payments, self.as_of)
                set_changed(case, figure_columns(figures, status, self.as_of))
        self.session.flush()
        if paid:
            refresh_promise_statuses(self.session, [case.id for case in paid], self.as_of)
            self.session.flush()


def _add_payment(case: Case, data: dict) -> str:
    values = {k: data[k] for k in PAYMENT_FIELDS}
    payment = next((p for p in case.payments if p.lender_ref == data["ref"]), None)
    if payment is None:
        case.payments.append(Payment(lender_ref=data["ref"], **values))
        return "created"
    return "updated" if set_changed(payment, values) else "unchanged"


def _set_balance(case: Case, data: dict) -> str:
    values = {k: data[k] for k in ("penalty_fen", "fees_fen") if data[k] is not None}
    changed = set_changed(case, values)
    if data["status"] is not None and case.status != data["status"]:
        changed = True  # applied with the figures, which may settle the case instead
    return "updated" if changed else "unchanged"
