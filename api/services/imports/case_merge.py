"""The ORM merge of a chunk's case records: the chunk's saved debtors and cases loaded with what
hangs off them, the checks that need them, and each record upserted into them (debtor,
contacts, addresses, case, schedule, payments, vehicles, holder), then flushed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from api.models import Address, Assignment, Case, Contact, Debtor
from api.services.casefile.assignment import set_assignment
from api.services.casefile.loan_figures import LoanFigures
from api.services.exceptions import InvalidInput
from api.services.fieldwork.promise_status import refresh_promise_statuses
from api.services.identity.pii import PiiCipher
from api.services.imports.bulk import among, next_ids
from api.services.imports.merge import (
    debtor_values,
    merge_addresses,
    merge_collateral,
    merge_contacts,
    merge_payments,
    merge_schedule,
    national_id_columns,
    set_changed,
)
from api.services.imports.new_cases import NewCases, insert_case_parts
from api.services.imports.records import (
    CaseRow,
    FileItem,
    case_values,
    loan_figures,
    oversized_figure,
)

ASSIGN_REASON = "lender import"
NUMBERED = (Debtor, Contact, Address, Case, Assignment)  # see `CaseMerge.number_new_rows`


@dataclass
class Chunk:
    """What one chunk loaded, and what it must do after its flush."""

    debtors: dict[str, Debtor]
    by_digest: dict[str, Debtor]
    cases: dict[str, Case]
    new: NewCases  # the records of new debtors and cases: set-based, no ORM objects
    links: list[tuple[Address, Contact]] = field(default_factory=list)
    fresh: list[tuple[Case, dict]] = field(default_factory=list)  # new cases, their file data
    paid: list[Case] = field(default_factory=list)  # saved cases whose payments changed
    outcomes: list[str] = field(default_factory=list)
    errors: list[tuple[CaseRow, str, str]] = field(default_factory=list)
    re_ided: set[str] = field(default_factory=set)  # refs of saved debtors given another ID


class CaseMerge:
    """Merges records into the saved book in the run's session, as of the run's day."""

    def __init__(self, session: Session, cipher: PiiCipher, as_of: date, actor_id: int | None):
        self.session, self.cipher, self.as_of, self.actor_id = session, cipher, as_of, actor_id

    def load(self, rows: list[CaseRow]) -> Chunk:
        """The chunk's existing debtors (by ref or ID) and cases, with what hangs off them
        (assignments too, so a change of holder costs no query of its own)."""
        if not rows:
            return self.load_debtors(set())
        chunk = self.load_debtors({row.data["debtor"]["ref"] for row in rows},
                                  {row.digest for row in rows})
        chunk.cases.update((c.contract_no, c) for c in self.session.scalars(
            select(Case).where(among(self.session, Case.contract_no,
                                     [row.contract_no for row in rows]))
            .options(selectinload(Case.instalments), selectinload(Case.payments),
                     selectinload(Case.collateral), selectinload(Case.assignments))))
        return chunk

    def load_debtors(self, refs: set[str], digests: set[str] = frozenset()) -> Chunk:
        """A chunk of the saved debtors of `refs` or `digests`, with contacts and addresses."""
        new = NewCases(self.session, self.cipher, self.actor_id, ASSIGN_REASON)
        debtors = self.session.scalars(
            select(Debtor)
            .where(or_(among(self.session, Debtor.lender_ref, refs),
                       among(self.session, Debtor.national_id_digest, digests)))
            .options(selectinload(Debtor.contacts), selectinload(Debtor.addresses))).all() \
            if refs or digests else []
        return Chunk({d.lender_ref: d for d in debtors},
                     {d.national_id_digest: d for d in debtors}, {}, new)

    @staticmethod
    def merged_refs(rows: list[CaseRow], chunk: Chunk) -> set[str]:
        """The debtor refs whose records go through the ORM merge: a saved debtor, or one that a
        record of a saved case names, or whose ID a saved debtor holds. The other records
        create their debtor and case (`imports.new_cases`)."""
        return {row.data["debtor"]["ref"] for row in rows
                if row.contract_no in chunk.cases or row.data["debtor"]["ref"] in chunk.debtors
                or row.digest in chunk.by_digest}

    def update_cases(self, updates: dict[str, dict[str, Any]]) -> None:
        """Set the columns of cases that change nothing else: only the case is loaded (and the
        debtor it joins), not the dozens of rows hanging off it."""
        if updates:
            for case in self.session.scalars(
                    select(Case).where(among(self.session, Case.contract_no, updates))):
                set_changed(case, updates[case.contract_no])

    def check(self, row: CaseRow, chunk: Chunk) -> LoanFigures | None:
        """Checks that need the database; the row's figures if it may be applied."""
        data, ref = row.data, row.data["debtor"]["ref"]
        problems = []
        holder = chunk.by_digest.get(row.digest)
        if holder is not None and holder.lender_ref != ref:
            problems.append(("debtor.national_id",
                             f"already held by debtor ref {holder.lender_ref}"))
        debtor = chunk.debtors.get(ref)
        known = {c["ref"] for c in data["contacts"] or [] if c["ref"]}
        known |= ({c.lender_ref for c in debtor.contacts} if debtor is not None
                  else chunk.new.contact_refs(ref))
        for index, address in enumerate(data["addresses"] or []):
            if address["contact_ref"] and address["contact_ref"] not in known:
                problems.append((f"addresses.{index}.contact_ref", "no contact with this ref"))
        case = chunk.cases.get(row.contract_no)
        schedule = data["schedule"]
        schedule = [FileItem(**i) for i in schedule] if schedule is not None else (
            case.instalments if case is not None else [])
        payments = {p.lender_ref: p for p in case.payments} if case is not None else {}
        payments |= {p["ref"]: FileItem(**p) for p in data["payments"] or []}
        figures = None
        try:
            figures = loan_figures(schedule, payments.values(), self.as_of)
        except InvalidInput as exc:
            problems.extend(("schedule", str(m)) for m in exc.fields.values())
        else:
            if (oversized := oversized_figure(figures)) is not None:
                problems.append(("schedule", oversized))
        chunk.errors.extend((row, name, message) for name, message in problems)
        return None if problems else figures

    def upsert(self, row: CaseRow, chunk: Chunk, figures: LoanFigures) -> str:
        data = row.data
        debtor, changed = self.upsert_debtor(row, chunk)
        values = case_values(data, figures, self.as_of)
        case = chunk.cases.get(row.contract_no)
        created = case is None
        if created:
            case = Case(contract_no=row.contract_no, debtor=debtor, **values)
            self.session.add(case)
            chunk.cases[row.contract_no] = case
            chunk.fresh.append((case, data))
        else:
            changed |= set_changed(case, values)
            if case.debtor is not debtor:
                case.debtor, changed = debtor, True
            changed |= merge_schedule(case, data["schedule"])
            if merge_payments(case, data["payments"]):
                chunk.paid.append(case)
                changed = True
            changed |= merge_collateral(case, data["collateral"])
        if row.holder is not None:
            team_id, collector_id, collector_named = row.holder
            keep = not collector_named and case.team_id == team_id
            # Before the flush: a new case is inserted with its holder (no UPDATE after it).
            if not keep and set_assignment(self.session, case, team_id=team_id,
                                           collector_id=collector_id,
                                           assigned_by_id=self.actor_id, reason=ASSIGN_REASON):
                changed = True
        return "created" if created else "updated" if changed else "unchanged"

    def upsert_debtor(self, row: CaseRow, chunk: Chunk) -> tuple[Debtor, bool]:
        data = row.data["debtor"]
        values = debtor_values(data)
        debtor = chunk.debtors.get(data["ref"])
        if debtor is None:
            debtor = Debtor(lender_ref=data["ref"], **values)
            self.session.add(debtor)
            chunk.debtors[data["ref"]] = debtor
            changed = True
        else:
            changed = set_changed(debtor, values)
            if debtor.national_id_digest != row.digest:
                chunk.re_ided.add(data["ref"])
        if debtor.national_id_digest != row.digest:  # encrypt only a new or changed ID
            set_changed(debtor, national_id_columns(self.cipher, data["national_id"], row.digest))
            chunk.by_digest[row.digest] = debtor
            changed = True
        changed |= merge_contacts(debtor, row.data["contacts"])
        changed |= merge_addresses(debtor, row.data["addresses"], chunk.links)
        return debtor, changed

    def flush(self, chunk: Chunk) -> None:
        """Insert what the upserts made (a new case's schedule, payments and vehicles, set
        based), tie new addresses to new contacts, and judge again the promises of the cases
        whose payments changed."""
        self.number_new_rows()
        self.session.flush()
        insert_case_parts(self.session, [(case.id, data) for case, data in chunk.fresh])
        for address, contact in chunk.links:
            if address.contact_id != contact.id:
                address.contact_id = contact.id
        if chunk.paid:
            refresh_promise_statuses(self.session, [case.id for case in chunk.paid], self.as_of)
        self.session.flush()

    def number_new_rows(self) -> None:
        """PostgreSQL: give the new debtors, contacts, addresses, cases and assignments their
        ids from their sequences, a block per table, so the flush inserts each table with one
        batched statement that fetches nothing back (rather than an INSERT ... RETURNING of
        thousands of parameters, which the driver parses anew for every page)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        new: dict[type, list] = {}
        for obj in self.session.new:
            if type(obj) in NUMBERED and obj.id is None:
                new.setdefault(type(obj), []).append(obj)
        with self.session.no_autoflush:
            for model, objects in new.items():
                ids = next_ids(self.session, model.__table__, len(objects))
                for obj, new_id in zip(objects, ids, strict=True):
                    obj.id = new_id
