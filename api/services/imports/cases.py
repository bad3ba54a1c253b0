"""The case importer (upsert): checks, chunks, the plain-row shortcut, new cases set-based and
the ORM merge.

A case record the database already holds as the file gives it is recognised first on plain
rows (no ORM objects: see `imports.snapshot`): counted unchanged, or, when only the case's own
columns move (the figures do, day by day), updated without loading what hangs off the case. A
record of a new case whose debtor is new too is inserted as plain rows in bulk, its device
document built from them (`imports.new_cases`). Only the other records are loaded as ORM
objects and merged. The cases whose payments changed have
their repayment promises judged again (`api.services.fieldwork.promise_status`) in the same
SAVEPOINT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from itertools import count
from types import SimpleNamespace
from typing import Any

from sqlalchemy import inspect, or_, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, selectinload

from api.models import (
    Address,
    Assignment,
    Case,
    Contact,
    Debtor,
    Role,
    Team,
    User,
)
from api.models.cases import CLOSED_STATUSES
from api.models.types import utcnow
from api.services.casefile.assignment import set_assignment
from api.services.casefile.loan_figures import LoanFigures
from api.services.compliance.dispatch import (
    PolicyBook,
    authorisation_problem,
    authorisations_of,
    dispatch_day,
)
from api.services.exceptions import InvalidInput
from api.services.fieldwork.promise_status import refresh_promise_statuses
from api.services.identity.pii import PiiCipher
from api.services.imports import digests
from api.services.imports.bulk import CHUNK, next_ids
from api.services.imports.formats import Document
from api.services.imports.merge import (
    DEBTOR_FIELDS,
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
from api.services.imports.rows import CASE, Bad, clean_case
from api.services.imports.run_log import RunLog, db_problem, field_line
from api.services.imports.snapshot import Snapshot

ASSIGN_REASON = "lender import"
NUMBERED = (Debtor, Contact, Address, Case, Assignment)  # see `CaseImporter._number_new_rows`
# What `CaseImporter._glance` checks of a record it may skip unread (its holder and key).
GLANCED = ("contract_no", "team_code", "collector_username", "status", "lender", "jurisdiction")
HOLDER_TERMS = GLANCED[1:]  # what `CaseImporter._holder` judges
# Tests set this: every record the plain-row check spares the ORM merge is merged as well, and
# the merge must find nothing left to do (see `CaseImporter._judge`).
VERIFY_UNCHANGED = False


@dataclass
class _Chunk:
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


@dataclass
class _Carried:
    """What the records applied so far gave one debtor, for a dry run that rolls each chunk
    back (see `CaseImporter._replay`): its data and ID, and its contacts and addresses by key
    (merged by key, never removed; the records of one debtor agree on them)."""

    order: int
    debtor: dict
    digest: str
    contacts: dict[str, dict] = field(default_factory=dict)
    addresses: dict[str, dict] = field(default_factory=dict)

    def row(self) -> SimpleNamespace:
        """As a record of the debtor alone, for `CaseImporter._upsert_debtor`."""
        return SimpleNamespace(digest=self.digest, data={
            "debtor": self.debtor, "contacts": list(self.contacts.values()),
            "addresses": list(self.addresses.values())})


class CaseImporter:
    def __init__(self, session: Session, cipher: PiiCipher, log: RunLog, as_of: date,
                 actor_id: int | None, from_csv: bool, step=None, chunk: int = CHUNK,
                 publish=None, dry_run: bool = False):
        self.session, self.cipher, self.log, self.step = session, cipher, log, step
        self.chunk = chunk  # records per SAVEPOINT; `step` is called after each
        # Publishes the session's touched cases (their device documents) before their digests
        # are kept (`imports.digests`), and the new cases (`imports.new_cases`); None: keep no
        # digests. A dry run publishes nothing (its changes are rolled back).
        self.publish = None if dry_run else publish
        # New debtors' new cases are created set-based: published by `publish`, or not at all
        # in a dry run; otherwise the ORM creates them and the commit publishes them.
        self.set_based = dry_run or publish is not None
        self.applied: dict[str, str] = {}  # contract_no -> record digest, not yet kept
        self.matched: set[int] = set()  # rows whose digest says unchanged (VERIFY_UNCHANGED)
        self.as_of, self.actor_id, self.from_csv = as_of, actor_id, from_csv
        self.teams = dict(session.execute(select(Team.code, Team.id)).all())
        self.collectors = {u.username: u for u in session.execute(
            select(User.id, User.username, User.team_id, User.is_active)
            .where(User.role == Role.COLLECTOR))}
        self.policies = PolicyBook(session, utcnow())  # each case's, for its dispatch rules
        self.held: dict[int, tuple] = {}  # collector id -> (name, authorisations, dispatch day)
        self.holders: dict[tuple, tuple] = {}  # HOLDER_TERMS -> (holder, problems)
        self.first_row: dict[str, int] = {}  # contract_no -> row that carried it first
        self.id_holder: dict[str, tuple[str, int]] = {}  # ID digest -> (debtor ref, row)
        self.seen: dict[tuple, tuple[int, tuple]] = {}  # shared debtor data -> (row, values)
        self.skipped: dict[str, list[tuple[int, dict]]] = {}  # debtor ref -> skipped records
        # A dry run given a step rolls every chunk back: what its records gave the debtors that
        # later records name again is redone before those (`_replay`). None: nothing rolled back.
        self.carried: dict[str, _Carried] | None = {} if dry_run and step is not None else None
        self.recurring: set[str] = set()  # debtor refs that more than one record names
        self._order = count()

    def run(self, doc: Document) -> None:
        """Every `chunk` records read: the glanced ones resolved, the others applied in a
        SAVEPOINT, and `step` called (an import job commits there)."""
        for error in doc.errors:
            self.log.error(error["row"], error["contract_no"], error["field"], error["message"])
        self.log.rows = len(doc.records["cases"])
        if self.carried is not None:
            self.recurring = _recurring_refs(doc.records["cases"])
        pending: list[CaseRow] = []
        glanced: list[tuple] = []
        for index, raw in enumerate(doc.records["cases"]):
            row_no, lines = index + 1, doc.lines[index] if doc.lines else None
            glance = self._glance(raw)
            if glance is not None:
                self.first_row[glance[0]] = row_no
                glanced.append((row_no, raw, lines, *glance))
            else:
                pending += self._resolve(glanced)
                glanced = []
                row = self._clean(row_no, raw, lines)
                if row is not None:
                    pending.append(row)
            if row_no % self.chunk == 0:
                pending += self._resolve(glanced)
                glanced = []
                if pending:
                    self._apply_chunk(pending)
                    pending = []
                if self.step is not None:
                    self.keep_digests()
                    self.step(self.log, row_no)
        pending += self._resolve(glanced)
        if pending:
            self._apply_chunk(pending)
        self.keep_digests()

    # -- records the database already holds as given, told without reading them

    def _glance(self, raw: Any) -> tuple[str, str, str] | None:
        """(contract_no, debtor ref, record digest) of a record that could be skipped without
        checking it field by field, or None: it must be read (see `_resolve`). The holder it
        names is checked now (a collector may have been deactivated since)."""
        if not isinstance(raw, dict) or not isinstance(raw.get("debtor"), dict):
            return None
        values = {}
        for name in GLANCED:
            spec, value = CASE[name], raw.get(name)
            try:
                value = None if value is None else spec.convert(value, self.from_csv)
            except Bad:
                return None
            values[name] = spec.default if value is None else value
        ref = raw["debtor"].get("ref")
        ref = ref.strip() if isinstance(ref, str) else None
        contract_no = values["contract_no"]
        if not ref or contract_no is None or contract_no in self.first_row \
                or ("debtor", ref) in self.seen:  # a duplicate, or a debtor already read
            return None
        problems: list = []
        holder = self._holder(values, problems)
        if problems:
            return None
        return contract_no, ref, digests.record_digest(raw, holder, self.as_of)

    def _resolve(self, glanced: list[tuple]) -> list[CaseRow]:
        """Count as unchanged the glanced records whose case was imported from the same
        record and has not changed since (`imports.digests`); read the others. (With
        VERIFY_UNCHANGED they are all read and applied, and the skipped must change nothing.)"""
        if not glanced:
            return []
        same = digests.unchanged_since(self.session, {g[3]: g[5] for g in glanced})
        rows = []
        for row_no, raw, lines, contract_no, ref, digest in glanced:
            if contract_no in same and ("debtor", ref) not in self.seen:
                if not VERIFY_UNCHANGED:
                    self.log.count("unchanged")
                    self.skipped.setdefault(ref, []).append((row_no, raw))
                    continue
                self.matched.add(row_no)
            row = self._clean(row_no, raw, lines, digest)
            if row is not None:
                rows.append(row)
        return rows

    def keep_digests(self) -> None:
        """Publish the cases applied so far (their documents) and keep their digests."""
        if self.publish is not None and self.applied:
            self.publish(self.session)
            digests.remember(self.session, self.applied)
        self.applied = {}

    # -- checks without the database

    def _clean(self, row_no: int, raw: Any, lines: dict | None,
               record_digest: str | None = None) -> CaseRow | None:
        data, problems = clean_case(raw, self.from_csv)
        contract_no = raw.get("contract_no") if isinstance(raw, dict) else None
        holder = digest = None
        if not problems:
            first = self.first_row.setdefault(data["contract_no"], row_no)
            if first != row_no:
                problems.append(("contract_no", f"appears again (first in row {first})"))
        if not problems:
            for skipped_no, skipped in self.skipped.pop(data["debtor"]["ref"], []):
                self._register(skipped_no, skipped)  # read before this row, as in the file
            holder = self._holder(data, problems)
            digest = self.cipher.digest(data["debtor"]["national_id"])
            self._check_consistent(row_no, data, digest, problems)
        if problems:
            for name, message in problems:
                self.log.error(field_line(lines, name, row_no), contract_no, name, message)
            return None
        return CaseRow(row_no, data["contract_no"], data, lines, digest, holder,
                       record_digest or digests.record_digest(raw, holder, self.as_of))

    def _register(self, row_no: int, raw: dict) -> None:
        """What a skipped record says of its debtor, for the records read after it to be
        compared with (it passed these checks when it was imported)."""
        data, problems = clean_case(raw, self.from_csv)
        if not problems:
            digest = self.cipher.digest(data["debtor"]["national_id"])
            self._check_consistent(row_no, data, digest, [])

    def _holder(self, data: dict, problems: list) -> tuple | None:
        """(team id, collector id, collector named) the file asks for, or None to leave it;
        judged once for each team, collector, status, lender and jurisdiction of the run."""
        key = tuple(data[name] for name in HOLDER_TERMS)
        if key not in self.holders:
            found: list = []
            self.holders[key] = (self._judge_holder(data, found), found)
        holder, found = self.holders[key]
        problems.extend(found)
        return holder

    def _judge_holder(self, data: dict, problems: list) -> tuple | None:
        team_code, username = data["team_code"], data["collector_username"]
        if team_code is None and username is None:
            return None
        team_id = self.teams.get(team_code) if team_code is not None else None
        if team_code is not None and team_id is None:
            problems.append(("team_code", "no such team"))
            return None
        if username is None:
            return team_id, None, False
        collector = self.collectors.get(username)
        if collector is None or not collector.is_active:
            problems.append(("collector_username", "no such active collector"))
        elif team_id is not None and collector.team_id != team_id:
            problems.append(("collector_username", "is not in that team"))
        elif data["status"] in CLOSED_STATUSES:
            problems.append(("collector_username",
                             "a settled or written-off case cannot be given to a collector"))
        elif (problem := self._unauthorised(data, collector.id)) is not None:
            problems.append(("collector_username", problem))
        else:
            return collector.team_id, collector.id, True
        return None

    def _unauthorised(self, data: dict, collector_id: int) -> str | None:
        """Why the collector may not be given a case of this lender and jurisdiction (rule
        `collector_authorised`, as on every other way of assigning), or None."""
        if collector_id not in self.held:  # as plain values: they outlast commits, rollbacks
            collector = self.session.get(User, collector_id)
            self.held[collector_id] = (
                SimpleNamespace(full_name=collector.full_name),
                [_plain(row) for row in authorisations_of(
                    self.session, [collector_id]).get(collector_id, [])],
                dispatch_day(collector, self.policies.at))
        collector, rows, day = self.held[collector_id]
        terms = SimpleNamespace(policy_id=None, lender=data["lender"],
                                jurisdiction=data["jurisdiction"])
        if not self.policies(terms).collector_authorisation_required:
            return None
        return authorisation_problem(collector, rows, data["lender"], data["jurisdiction"], day)

    def _check_consistent(self, row_no: int, data: dict, digest: str, problems: list) -> None:
        """A debtor with several loans must read the same in each of them, or a re-import
        would flip the data back and forth; and one ID belongs to one debtor ref."""
        debtor = data["debtor"]
        ref = debtor["ref"]
        holder = self.id_holder.setdefault(digest, (ref, row_no))
        if holder[0] != ref:
            problems.append(("debtor.national_id",
                             f"also given for debtor ref {holder[0]} (row {holder[1]})"))
        facts = [(("debtor", ref), "debtor",
                  (*((k, debtor[k]) for k in DEBTOR_FIELDS), ("id", digest)))]
        for part in ("contacts", "addresses"):
            for index, item in enumerate(data[part] or []):
                facts.append(((part, ref, item["key"]), f"{part}.{index}",
                              tuple(sorted((k, v) for k, v in item.items() if k != "ref"))))
        for key, name, values in facts:
            first_row, first_values = self.seen.setdefault(key, (row_no, values))
            if first_values != values:
                problems.append((name, f"differs from row {first_row} for the same debtor ref"))

    # -- applying a chunk

    def _skip_unchanged(self, rows: list[CaseRow]) -> list[CaseRow]:
        """Count as unchanged the rows whose case was imported from the same record and has
        not changed since; the others, to be applied. (With VERIFY_UNCHANGED they are applied
        too, and must change nothing.)"""
        same = digests.unchanged_since(self.session, {r.contract_no: r.record_digest
                                                      for r in rows})
        if not same:
            return rows
        if VERIFY_UNCHANGED:
            self.matched |= {row.row for row in rows if row.contract_no in same}
            return rows
        for _ in same:
            self.log.count("unchanged")
        return [row for row in rows if row.contract_no not in same]

    def _apply_chunk(self, rows: list[CaseRow]) -> None:
        rows = self._skip_unchanged(rows)
        if not rows:
            return
        try:
            with self.session.begin_nested():
                chunk = self._apply(rows)
        except (IntegrityError, DataError) as exc:
            if len(rows) > 1:
                for row in rows:
                    self._apply_chunk([row])
                return
            name, message = db_problem(exc, "_row")
            self.log.error(field_line(rows[0].lines, name, rows[0].row), rows[0].contract_no,
                           name, message)
            return
        failed = {row.row for row, _, _ in chunk.errors}
        for row, name, message in chunk.errors:
            self.log.error(field_line(row.lines, name, row.row), row.contract_no, name, message)
        for outcome in chunk.outcomes:
            self.log.count(outcome)
        self.applied.update((row.contract_no, row.record_digest) for row in rows
                            if row.row not in failed)
        if self.carried is not None:
            for row in rows:
                ref = row.data["debtor"]["ref"]
                if row.row not in failed and (ref in self.recurring or ref in chunk.re_ided):
                    self._carry(row)  # named again later, or its old ID free for another

    # -- a dry run that rolls each chunk back

    def _carry(self, row: CaseRow) -> None:
        """Keep what an applied record gave its debtor, for the chunks after this one."""
        ref = row.data["debtor"]["ref"]
        carried = self.carried.get(ref)
        if carried is None:
            carried = self.carried[ref] = _Carried(next(self._order), row.data["debtor"],
                                                   row.digest)
        for item in row.data["contacts"] or []:
            carried.contacts.setdefault(item["key"], item)
        for item in row.data["addresses"] or []:
            carried.addresses.setdefault(item["key"], item)

    def _replay(self, rows: list[CaseRow]) -> None:
        """Redo, uncounted, what records of earlier (rolled-back) chunks gave the debtors these
        rows name by ref, or that hold these rows' IDs (and, in turn, those the redone debtors
        are given), so the chunk finds them as the real import would: created, with their
        contacts (an address's `contact_ref`), data and ID. Only the debtors' own rows: a case
        is in one record, so in one chunk."""
        todo: set[str] = set()
        new = {row.data["debtor"]["ref"] for row in rows} & self.carried.keys()
        ids = {row.digest for row in rows}
        while new or ids:
            todo |= new
            ids |= {self.carried[ref].digest for ref in new}
            holders = set(self.session.scalars(
                select(Debtor.lender_ref).where(Debtor.national_id_digest.in_(ids))))
            new, ids = (holders & self.carried.keys()) - todo, set()
        if not todo:
            return
        chunk = self._load_debtors(todo)
        with self.session.no_autoflush:
            for ref in sorted(todo, key=lambda ref: self.carried[ref].order):
                self._upsert_debtor(self.carried[ref].row(), chunk)
        self._number_new_rows()
        self.session.flush()
        for address, contact in chunk.links:
            address.contact_id = contact.id
        self.session.flush()

    def _apply(self, rows: list[CaseRow]) -> _Chunk:
        if self.carried:
            self._replay(rows)
        judged = self._judge(rows)  # row -> the case's own columns to set ({}: nothing at all)
        for row in rows:
            if row.row in self.matched and judged.get(row.row, {}) != {}:
                raise AssertionError(f"row {row.row}: its digest says unchanged, not its "
                                     f"figures")
        own = {row.contract_no: judged[row.row] for row in rows if judged.get(row.row)}
        if VERIFY_UNCHANGED:  # merge those rows anyway: each must find nothing left to do
            expected = set(judged)
        else:
            expected, rows = set(), [row for row in rows if row.row not in judged]
        self._update_cases(own)
        chunk = self._load(rows)
        chunk.outcomes += ["updated"] * len(own) + ["unchanged"] * (len(judged) - len(own))
        merged = self._merged_refs(rows, chunk) if self.set_based else None
        with self.session.no_autoflush:  # assignments are preloaded: no query in the loop
            for row in rows:
                plan = self._check(row, chunk)
                if plan is not None and merged is not None \
                        and row.data["debtor"]["ref"] not in merged:
                    chunk.new.add(row, plan, self.as_of)
                    outcome = "created"
                else:
                    outcome = None if plan is None else self._upsert(row, chunk, plan)
                if row.row in expected or row.row in self.matched:
                    if outcome != "unchanged":
                        raise AssertionError(f"row {row.row}: the plain-row check or its "
                                             f"digest missed "
                                             f"{'an error' if outcome is None else outcome}")
                    if row.row not in expected:
                        chunk.outcomes.append(outcome)
                elif outcome is not None:
                    chunk.outcomes.append(outcome)
        if rows:
            self._number_new_rows()
            self.session.flush()
            insert_case_parts(self.session, [(case.id, data) for case, data in chunk.fresh])
            for address, contact in chunk.links:
                if address.contact_id != contact.id:
                    address.contact_id = contact.id
            if chunk.paid:
                refresh_promise_statuses(self.session, [case.id for case in chunk.paid],
                                         self.as_of)
        self.session.flush()
        chunk.new.save(self.publish)
        return chunk

    @staticmethod
    def _merged_refs(rows: list[CaseRow], chunk: _Chunk) -> set[str]:
        """The debtor refs whose records go through the ORM merge: a saved debtor, or one that a
        record of a saved case names, or whose ID a saved debtor holds. The other records
        create their debtor and case (`imports.new_cases`)."""
        return {row.data["debtor"]["ref"] for row in rows
                if row.contract_no in chunk.cases or row.data["debtor"]["ref"] in chunk.debtors
                or row.digest in chunk.by_digest}

    def _number_new_rows(self) -> None:
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

    def _load(self, rows: list[CaseRow]) -> _Chunk:
        """The chunk's existing debtors (by ref or ID) and cases, with what hangs off them
        (assignments too, so a change of holder costs no query of its own)."""
        if not rows:
            return self._load_debtors(set())
        chunk = self._load_debtors({row.data["debtor"]["ref"] for row in rows},
                                   {row.digest for row in rows})
        chunk.cases.update((c.contract_no, c) for c in self.session.scalars(
            select(Case).where(Case.contract_no.in_([row.contract_no for row in rows]))
            .options(selectinload(Case.instalments), selectinload(Case.payments),
                     selectinload(Case.collateral), selectinload(Case.assignments))))
        return chunk

    def _load_debtors(self, refs: set[str], digests: set[str] = frozenset()) -> _Chunk:
        """A chunk of the saved debtors of `refs` or `digests`, with contacts and addresses."""
        new = NewCases(self.session, self.cipher, self.actor_id, ASSIGN_REASON)
        debtors = self.session.scalars(
            select(Debtor)
            .where(or_(Debtor.lender_ref.in_(refs), Debtor.national_id_digest.in_(digests)))
            .options(selectinload(Debtor.contacts), selectinload(Debtor.addresses))).all() \
            if refs or digests else []
        return _Chunk({d.lender_ref: d for d in debtors},
                      {d.national_id_digest: d for d in debtors}, {}, new)

    # -- records the database already holds as the file gives them, or nearly

    def _judge(self, rows: list[CaseRow]) -> dict[int, dict[str, Any]]:
        """For the rows that need no merge, judged on plain rows of the saved data: the case's
        own columns to set (its figures move from day to day), or {} when nothing changes.

        Mirrors `_check` and `_upsert` for a saved case whose saved debtor the row names: any
        other difference, or anything the merge would report as an error, leaves the row to
        the ORM merge, which decides (this only ever spares work). Rows of one debtor agree on
        its data (`_check_consistent`), so one row's change cannot make another row of the same
        chunk look unchanged against the snapshot taken before it."""
        snapshot = Snapshot.load(self.session, rows)
        if snapshot is None:
            return {}
        judged = {}
        for row in rows:
            values = snapshot.judge(row, self.as_of)
            if values is not None:
                judged[row.row] = values
        return judged

    def _update_cases(self, updates: dict[str, dict[str, Any]]) -> None:
        """Set the columns of cases that change nothing else: only the case is loaded (and the
        debtor it joins), not the dozens of rows hanging off it."""
        if updates:
            for case in self.session.scalars(
                    select(Case).where(Case.contract_no.in_(list(updates)))):
                set_changed(case, updates[case.contract_no])

    def _check(self, row: CaseRow, chunk: _Chunk) -> LoanFigures | None:
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

    def _upsert(self, row: CaseRow, chunk: _Chunk, figures: LoanFigures) -> str:
        data = row.data
        debtor, changed = self._upsert_debtor(row, chunk)
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

    def _upsert_debtor(self, row: CaseRow, chunk: _Chunk) -> tuple[Debtor, bool]:
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


def _plain(obj: Any) -> SimpleNamespace:
    """An ORM object's columns as plain values."""
    return SimpleNamespace(**{a.key: getattr(obj, a.key) for a in inspect(obj).mapper.column_attrs})


def _recurring_refs(records: list) -> set[str]:
    """The debtor refs (as `rows.text` cleans them) that more than one record names."""
    seen: set[str] = set()
    again: set[str] = set()
    for raw in records:
        debtor = raw.get("debtor") if isinstance(raw, dict) else None
        ref = debtor.get("ref") if isinstance(debtor, dict) else None
        if isinstance(ref, str):
            ref = ref.strip()
            (again if ref in seen else seen).add(ref)
    return again
