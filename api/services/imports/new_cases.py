"""New cases of new debtors, set-based: a chunk's records that create both, as plain rows.

A record whose contract number and debtor ref the database does not hold needs no merge: what
the ORM would insert follows from the record alone. Its rows (debtor, contacts, addresses,
case, assignment, schedule, payments, vehicles) are built in memory, inserted a table at a time
(`imports.bulk`: COPY on PostgreSQL) inside the chunk's SAVEPOINT, and the cases' device
documents are built from the same rows (`mobile_sync.documents.new_case_documents`) and
published with them (the run's `Publication`), instead of being read back.

No ORM object is made, so nothing the ORM would do on its own may be left out: the defaults
of the columns, the close time of a case created closed (`api.models.cases.closing`), the
holder's assignment (`casefile.assignment.set_assignment`) and the change log. The values
themselves come from the functions the ORM merge uses (`imports.merge`, `imports.records`).
"""

from __future__ import annotations

from datetime import date
from operator import attrgetter
from types import SimpleNamespace
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from api.models import Address, Assignment, Case, Collateral, Contact, Debtor, Instalment, Payment
from api.models.cases import CLOSED_STATUSES
from api.models.types import utcnow
from api.services.casefile.cases import CaseGraph
from api.services.casefile.loan_figures import LoanFigures
from api.services.identity.pii import PiiCipher
from api.services.imports.bulk import bulk_insert, insert_numbered
from api.services.imports.merge import (
    address_values,
    case_part_rows,
    contact_values,
    debtor_values,
    national_id_columns,
)
from api.services.imports.records import CaseRow, case_values

if TYPE_CHECKING:
    from api.services.imports.runs import Publication


def insert_case_parts(session: Session, cases: list[tuple[int, dict]]) -> dict[type, dict]:
    """Insert the schedules, payments and vehicles of new cases ((case id, record data)), a
    table at a time; answers the instalments and vehicles (with their ids) by case id."""
    rows: dict[type, list] = {Instalment: [], Payment: [], Collateral: []}
    for case_id, data in cases:
        for model, part in case_part_rows(case_id, data).items():
            rows[model] += part
    insert_numbered(session, Collateral.__table__, rows[Collateral])
    for model in (Instalment, Payment):
        if rows[model]:
            bulk_insert(session, model.__table__, rows[model])
    by_case: dict[type, dict] = {Instalment: {}, Collateral: {}}
    for model, grouped in by_case.items():
        for row in rows[model]:
            grouped.setdefault(row["case_id"], []).append(SimpleNamespace(**row))
    return by_case


class NewCases:
    """The new debtors and cases of one chunk, in file order, until `save` writes them."""

    def __init__(self, session: Session, cipher: PiiCipher, actor_id: int | None,
                 reason: str):
        self.session, self.cipher, self.actor_id, self.reason = session, cipher, actor_id, reason
        self.debtors: dict[str, SimpleNamespace] = {}  # ref -> row
        self.contacts: dict[str, dict[str, SimpleNamespace]] = {}  # debtor ref -> key -> row
        self.addresses: dict[str, dict[str, SimpleNamespace]] = {}
        self.links: list[tuple[SimpleNamespace, SimpleNamespace]] = []  # (address, contact)
        self.cases: list[tuple[SimpleNamespace, str, dict]] = []  # (row, debtor ref, parts)
        self.now = utcnow()

    def contact_refs(self, ref: str) -> set[str]:
        """The lender refs of the contacts the new debtor has so far (for `CaseMerge.check`)."""
        return set(self.contacts.get(ref, ()))

    def add(self, row: CaseRow, figures: LoanFigures, as_of: date) -> None:
        """Take in a record that passed every check, its debtor new or made by an earlier
        record of the chunk (contacts and addresses it adds join those, by key)."""
        data, now = row.data, self.now
        file_debtor = data["debtor"]
        ref = file_debtor["ref"]
        if ref not in self.debtors:
            self.debtors[ref] = SimpleNamespace(
                lender_ref=ref, **debtor_values(file_debtor),
                **national_id_columns(self.cipher, file_debtor["national_id"], row.digest),
                anonymised_at=None, created_at=now, updated_at=now)
            self.contacts[ref], self.addresses[ref] = {}, {}
        contacts, addresses = self.contacts[ref], self.addresses[ref]
        for item in data["contacts"] or []:
            if item["key"] not in contacts:
                contacts[item["key"]] = SimpleNamespace(
                    debtor_id=None, lender_ref=item["key"], **contact_values(item))
        for item in data["addresses"] or []:
            if item["key"] in addresses:
                continue  # the same as the earlier record's (`_check_consistent`)
            address = addresses[item["key"]] = SimpleNamespace(
                debtor_id=None, contact_id=None, confirmed_at=None, **address_values(item))
            if item["contact_ref"] and item["contact_ref"] in contacts:
                self.links.append((address, contacts[item["contact_ref"]]))
        values = case_values(data, figures, as_of)
        team_id, collector_id = row.holder[:2] if row.holder is not None else (None, None)
        case = SimpleNamespace(
            contract_no=row.contract_no, debtor_id=None, **values, policy_id=None,
            team_id=team_id, collector_id=collector_id,
            # As `closing` stamps a case that reaches a closed status.
            closed_at=now if values["status"] in CLOSED_STATUSES else None, purged_at=None,
            version=1, created_at=now, updated_at=now)
        self.cases.append((case, ref, data))

    def save(self, publish: Publication | None) -> None:
        """Insert everything; `publish.new_cases` the cases' graphs (None: a dry run)."""
        if not self.cases:
            return
        insert_numbered(self.session, Debtor.__table__, [vars(d) for d in self.debtors.values()])
        contacts, addresses = [], []
        for ref, debtor in self.debtors.items():
            for contact in self.contacts[ref].values():
                contact.debtor_id = debtor.id
                contacts.append(contact)
            for address in self.addresses[ref].values():
                address.debtor_id = debtor.id
                addresses.append(address)
        insert_numbered(self.session, Contact.__table__, [vars(c) for c in contacts])
        for address, contact in self.links:
            address.contact_id = contact.id
        insert_numbered(self.session, Address.__table__, [vars(a) for a in addresses])
        cases = [case for case, _, _ in self.cases]
        for case, ref, _ in self.cases:
            case.debtor_id = self.debtors[ref].id
        insert_numbered(self.session, Case.__table__, [vars(c) for c in cases])
        assignments = [{"case_id": case.id, "team_id": case.team_id,
                        "collector_id": case.collector_id, "assigned_by_id": self.actor_id,
                        "reason": self.reason, "started_at": self.now, "ended_at": None}
                       for case in cases if (case.team_id, case.collector_id) != (None, None)]
        if assignments:
            bulk_insert(self.session, Assignment.__table__, assignments)
        parts = insert_case_parts(self.session, [(case.id, data) for case, _, data in self.cases])
        graphs = [CaseGraph(case, self.debtors[ref], list(self.contacts[ref].values()),
                            list(self.addresses[ref].values()),
                            sorted(parts[Instalment].get(case.id, []), key=attrgetter("seq")),
                            parts[Collateral].get(case.id, []))
                  for case, ref, _ in self.cases]
        if publish is not None:
            publish.new_cases(self.session, graphs)
