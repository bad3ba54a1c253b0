"""Taking in the lender's daily files: the case file (upsert) and payments with balances.

Each record is checked on its own; a bad one becomes a row error and is skipped, the others are
applied. Work goes in chunks: one query per table loads a chunk's existing rows, every change is
compared before it is made (a re-import of the same file issues no UPDATE, so the version
counters and the sync change log stay still), and the chunk is flushed inside a SAVEPOINT. If
the database refuses a chunk, it is replayed one record per SAVEPOINT, so the refused record
becomes that record's error and nothing is half-saved.

A case record the database already holds as the file gives it is recognised first on plain
rows (no ORM objects: see `_Snapshot`): counted unchanged, or, when only the case's own columns
move (the figures do, day by day), updated without loading what hangs off the case. Only the
other records are loaded as ORM objects and merged. The cases whose payments changed have their
repayment promises judged again (`api.services.fieldwork.promise_status`) in the same SAVEPOINT.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, or_, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session, raiseload, selectinload
from sqlalchemy.sql.expression import ColumnElement

from api.models import (
    Address,
    Bucket,
    Case,
    CaseStatus,
    Collateral,
    Contact,
    CoordSource,
    Debtor,
    ImportRun,
    Instalment,
    Payment,
    RepossessionStatus,
    Role,
    Team,
    User,
)
from api.models.cases import CLOSED_STATUSES
from api.models.types import utcnow
from api.services.casefile.assignment import set_assignment
from api.services.casefile.loan_figures import (
    LoanFigures,
    PaymentRecord,
    ScheduledInstalment,
    compute_figures,
)
from api.services.exceptions import InvalidInput
from api.services.fieldwork.promise_status import refresh_promise_statuses
from api.services.identity import audit
from api.services.identity.accounts import Principal
from api.services.identity.pii import PiiCipher
from api.services.imports.formats import Document, check_document, parse_import_file
from api.services.imports.rows import clean_balance, clean_case, clean_payment

CHUNK = 500
MAX_ERRORS = 10_000  # listed in the run; rows beyond it are still skipped and counted
ASSIGN_REASON = "lender import"
LENDER_TZ = ZoneInfo("Asia/Shanghai")
FIGURES = ("total_due_fen", "paid_fen", "overdue_fen", "outstanding_fen",
           "outstanding_principal_fen", "days_past_due", "periods_overdue", "reminder_class",
           "next_due_on")
CASE_FIELDS = ("product", "currency", "principal_fen", "disbursed_on", "lender_bucket",
               "penalty_fen", "fees_fen", "penalty_basis")
DEBTOR_FIELDS = ("name", "mobile_phone", "home_phone", "work_phone", "employer", "risk_notes",
                 "timezone")
CONTACT_FIELDS = ("name", "relation", "role", "phone", "knows_of_loan")
COLLATERAL_FIELDS = ("kind", "vin", "engine_no", "plate", "make", "model", "colour")
# Tests set this: every record the plain-row check spares the ORM merge is merged as well, and
# the merge must find nothing left to do (see `_CaseImporter._judge`).
VERIFY_UNCHANGED = False


def lender_today() -> date:
    return datetime.now(LENDER_TZ).date()


# --------------------------------------------------------------------------- the run


@dataclass
class RunLog:
    """Counts and row errors of one run."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)
    failed_rows: set[tuple[str, int]] = field(default_factory=set)

    def error(self, row: int | None, contract_no: Any, field: str, message: str,
              section: str = "") -> None:
        self.failed_rows.add((section, row or 0))
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"row": row, "contract_no": contract_no if isinstance(
                contract_no, str) else None, "field": field, "message": message})

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def sorted_errors(self) -> list[dict]:
        """In file order: by section (payments before balances), then row."""
        def key(error: dict) -> tuple:
            section = error["field"].partition(".")[0]
            return ({"payment": 1, "balance": 2}.get(section, 0), error["row"] or 0)

        return sorted(self.errors, key=key)


def _run(session: Session, kind: str, payload: dict, run_once, *, dry_run: bool, atomic: bool,
         actor_id: int | None, filename: str | None, file_sha256: str | None,
         file_format: str) -> ImportRun:
    """Apply `run_once(log)` under the run's rules and record the run (dry runs too)."""
    started = utcnow()
    log = RunLog()
    outer = session.begin_nested() if dry_run or atomic else None
    try:
        with _collector_spares_the_file():
            run_once(log)
    except BaseException:
        if outer is not None and outer.is_active:
            outer.rollback()
        raise
    if outer is not None:
        if dry_run or log.errors:
            outer.rollback()  # nothing of the data is kept; the run record below is
            if not dry_run:
                log.created = log.updated = log.unchanged = 0
        else:
            outer.commit()
    errors = log.sorted_errors()
    if len(errors) >= MAX_ERRORS:
        errors.append({"row": None, "contract_no": None, "field": "_file",
                       "message": f"more errors not listed ({len(log.failed_rows)} rows failed)"})
    run = ImportRun(
        kind=kind, file_format=file_format, filename=(filename or "")[:200] or None,
        sha256=file_sha256 or hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest(),
        dry_run=dry_run, started_by_id=actor_id, started_at=started, finished_at=utcnow(),
        rows=log.rows, created=log.created, updated=log.updated, unchanged=log.unchanged,
        errors=json.dumps(errors, ensure_ascii=False, default=str),
    )
    session.add(run)
    session.flush()
    return run


@contextmanager
def _collector_spares_the_file() -> Iterator[None]:
    """Leave what already exists (above all the parsed file, millions of objects that stay
    alive throughout) out of Python's cyclic garbage collection while the run creates its many
    objects: every full collection would walk all of it again, a quarter of a large run's time.
    What the run creates is collected as usual; the rest is handed back afterwards."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def import_cases(session: Session, cipher: PiiCipher, payload: dict, *, dry_run: bool = False,
                 atomic: bool = False, actor_id: int | None = None, filename: str | None = None,
                 file_sha256: str | None = None, file_format: str = "json",
                 as_of: date | None = None) -> ImportRun:
    """Upsert a cases document (see docs/import-format.md); the caller commits.

    Row numbers are the position in `cases` (from 1) or, for CSV, the line of the record.
    `dry_run` and `atomic` (when any row failed) roll every data change back; the run is
    recorded either way. `as_of` wins over the file's `as_of`; default: today in Shanghai."""
    doc = check_document(payload, "cases")

    def run_once(log: RunLog) -> None:
        importer = _CaseImporter(session, cipher, log, as_of or doc.as_of or lender_today(),
                                 actor_id, from_csv=file_format == "csv")
        importer.run(doc)

    return _run(session, "cases", payload, run_once, dry_run=dry_run, atomic=atomic,
                actor_id=actor_id, filename=filename, file_sha256=file_sha256,
                file_format=file_format)


def import_payments(session: Session, payload: dict, *, dry_run: bool = False,
                    atomic: bool = False, actor_id: int | None = None,
                    filename: str | None = None, file_sha256: str | None = None,
                    file_format: str = "json", as_of: date | None = None) -> ImportRun:
    """Add payments by (contract_no, ref), set balances, recompute the figures of every case
    touched. No debtor, contact, address or vehicle is read or written. Row numbers count
    within `payments` and within `balances` (CSV: lines); fields are `payment.*`/`balance.*`."""
    doc = check_document(payload, "payments")

    def run_once(log: RunLog) -> None:
        importer = _PaymentImporter(session, log, as_of or doc.as_of or lender_today(),
                                    from_csv=file_format == "csv")
        importer.run(doc)

    return _run(session, "payments", payload, run_once, dry_run=dry_run, atomic=atomic,
                actor_id=actor_id, filename=filename, file_sha256=file_sha256,
                file_format=file_format)


def import_file(session: Session, cipher: PiiCipher, data: bytes, *, kind: str,
                file_format: str, principal: Principal | None = None,
                filename: str | None = None, dry_run: bool = False, atomic: bool = False,
                as_of: date | None = None) -> ImportRun:
    """Read, import and audit one lender file: the path of the API and of the CLI."""
    payload = parse_import_file(data, file_format, kind)
    options = {"dry_run": dry_run, "atomic": atomic, "filename": filename, "as_of": as_of,
               "actor_id": principal.user_id if principal else None,
               "file_sha256": hashlib.sha256(data).hexdigest(), "file_format": file_format}
    if kind == "cases":
        run = import_cases(session, cipher, payload, **options)
    else:
        run = import_payments(session, payload, **options)
    audit.record(session, principal, "import", detail={
        "import_run_id": run.id, "kind": kind, "format": file_format, "dry_run": dry_run,
        "atomic": atomic, "sha256": run.sha256, "rows": run.rows, "created": run.created,
        "updated": run.updated, "unchanged": run.unchanged,
        "errors": len(json.loads(run.errors))})
    return run


# --------------------------------------------------------------------------- shared helpers


def _put(obj: Any, values: dict[str, Any]) -> bool:
    """Set only the attributes that differ; True if any did."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _figures(schedule: Iterable, payments: Iterable, as_of: date) -> LoanFigures:
    return compute_figures(
        [ScheduledInstalment(i.seq, i.due_on, i.amount_fen, i.principal_fen) for i in schedule],
        [PaymentRecord(p.paid_on, p.amount_fen) for p in payments], as_of)


def _figure_values(figures: LoanFigures, status: CaseStatus, as_of: date) -> dict[str, Any]:
    """Figures as Case attributes; a case the figures show settled is settled unless closed."""
    if figures.settled and status not in CLOSED_STATUSES:
        status = CaseStatus.SETTLED
    return {name: getattr(figures, name) for name in FIGURES} | {
        "bucket": Bucket(figures.bucket), "status": status, "figures_as_of": as_of}


def _db_problem(exc: Exception, default_field: str) -> tuple[str, str]:
    """Field and message for a record the database refused (no values: they may be personal)."""
    if isinstance(exc, DataError):
        return default_field, "a value does not fit the database"
    text = str(getattr(exc, "orig", exc))
    for needle, name in (("national_id_digest", "debtor.national_id"),
                         ("debtors.lender_ref", "debtor.ref"), ("debtors_lender_ref", "debtor.ref"),
                         ("contract_no", "contract_no")):
        if needle in text:
            return name, "clashes with a record saved meanwhile"
    return default_field, "clashes with an existing record"


def _line(lines: dict | None, field_name: str, default: int) -> int:
    """The CSV line of the record a field belongs to (longest known prefix)."""
    if not lines:
        return default
    key = field_name
    while key:
        if key in lines:
            return lines[key]
        key = key.rpartition(".")[0]
    return lines.get("", default)


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT rows that all name the same columns (None is NULL, no column default applies),
    in the session's transaction: PostgreSQL by COPY, about ten times faster than a batched
    INSERT; elsewhere one executemany. The database's refusal is the usual IntegrityError or
    DataError of SQLAlchemy either way."""
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    names = list(rows[0])
    processors = [(name, table.c[name].type.bind_processor(dialect)) for name in names]
    quote = dialect.identifier_preparer.quote
    statement = (f"COPY {dialect.identifier_preparer.format_table(table)} "
                 f"({', '.join(quote(name) for name in names)}) FROM STDIN")
    driver = connection.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[name] if process is None else process(row[name])
                                for name, process in processors])
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error) from exc


# --------------------------------------------------------------------------- cases


@dataclass
class _Row:
    """A case record that passed its own checks."""

    row: int
    contract_no: str
    data: dict
    lines: dict | None
    digest: str
    holder: tuple[int | None, int | None, bool] | None  # team, collector, collector given


@dataclass
class _Chunk:
    """What one chunk loaded, and what it must do after its flush."""

    debtors: dict[str, Debtor]
    by_digest: dict[str, Debtor]
    cases: dict[str, Case]
    links: list[tuple[Address, Contact]] = field(default_factory=list)
    fresh: list[tuple[Case, dict]] = field(default_factory=list)  # new cases, their file data
    paid: list[Case] = field(default_factory=list)  # saved cases whose payments changed
    outcomes: list[str] = field(default_factory=list)
    errors: list[tuple[_Row, str, str]] = field(default_factory=list)


class _CaseImporter:
    def __init__(self, session: Session, cipher: PiiCipher, log: RunLog, as_of: date,
                 actor_id: int | None, from_csv: bool):
        self.session, self.cipher, self.log = session, cipher, log
        self.as_of, self.actor_id, self.from_csv = as_of, actor_id, from_csv
        self.teams = dict(session.execute(select(Team.code, Team.id)).all())
        self.collectors = {u.username: u for u in session.execute(
            select(User.id, User.username, User.team_id, User.is_active)
            .where(User.role == Role.COLLECTOR))}
        self.first_row: dict[str, int] = {}  # contract_no -> row that carried it first
        self.id_holder: dict[str, tuple[str, int]] = {}  # ID digest -> (debtor ref, row)
        self.seen: dict[tuple, tuple[int, tuple]] = {}  # shared debtor data -> (row, values)

    def run(self, doc: Document) -> None:
        for error in doc.errors:
            self.log.error(error["row"], error["contract_no"], error["field"], error["message"])
        self.log.rows = len(doc.records["cases"])
        pending: list[_Row] = []
        for index, raw in enumerate(doc.records["cases"]):
            lines = doc.lines[index] if doc.lines else None
            row = self._clean(index + 1, raw, lines)
            if row is not None:
                pending.append(row)
            if len(pending) == CHUNK:
                self._apply_chunk(pending)
                pending = []
        if pending:
            self._apply_chunk(pending)

    # -- checks without the database

    def _clean(self, row_no: int, raw: Any, lines: dict | None) -> _Row | None:
        data, problems = clean_case(raw, self.from_csv)
        contract_no = raw.get("contract_no") if isinstance(raw, dict) else None
        holder = digest = None
        if not problems:
            first = self.first_row.setdefault(data["contract_no"], row_no)
            if first != row_no:
                problems.append(("contract_no", f"appears again (first in row {first})"))
        if not problems:
            holder = self._holder(data, problems)
            digest = self.cipher.digest(data["debtor"]["national_id"])
            self._check_consistent(row_no, data, digest, problems)
        if problems:
            for name, message in problems:
                self.log.error(_line(lines, name, row_no), contract_no, name, message)
            return None
        return _Row(row_no, data["contract_no"], data, lines, digest, holder)

    def _holder(self, data: dict, problems: list) -> tuple | None:
        """(team id, collector id, collector named) the file asks for, or None to leave it."""
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
        else:
            return collector.team_id, collector.id, True
        return None

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

    def _apply_chunk(self, rows: list[_Row]) -> None:
        try:
            with self.session.begin_nested():
                chunk = self._apply(rows)
        except (IntegrityError, DataError) as exc:
            if len(rows) > 1:
                for row in rows:
                    self._apply_chunk([row])
                return
            name, message = _db_problem(exc, "_row")
            self.log.error(_line(rows[0].lines, name, rows[0].row), rows[0].contract_no,
                           name, message)
            return
        for row, name, message in chunk.errors:
            self.log.error(_line(row.lines, name, row.row), row.contract_no, name, message)
        for outcome in chunk.outcomes:
            self.log.count(outcome)

    def _apply(self, rows: list[_Row]) -> _Chunk:
        judged = self._judge(rows)  # row -> the case's own columns to set ({}: nothing at all)
        own = {row.contract_no: judged[row.row] for row in rows if judged.get(row.row)}
        if VERIFY_UNCHANGED:  # merge those rows anyway: each must find nothing left to do
            expected = set(judged)
        else:
            expected, rows = set(), [row for row in rows if row.row not in judged]
        self._update_cases(own)
        chunk = self._load(rows)
        chunk.outcomes += ["updated"] * len(own) + ["unchanged"] * (len(judged) - len(own))
        with self.session.no_autoflush:  # assignments are preloaded: no query in the loop
            for row in rows:
                plan = self._check(row, chunk)
                outcome = None if plan is None else self._upsert(row, chunk, plan)
                if row.row in expected:
                    if outcome != "unchanged":
                        raise AssertionError(f"row {row.row}: the plain-row check missed "
                                             f"{'an error' if outcome is None else outcome}")
                elif outcome is not None:
                    chunk.outcomes.append(outcome)
        if rows:
            self.session.flush()
            self._insert_parts(chunk.fresh)
            for address, contact in chunk.links:
                if address.contact_id != contact.id:
                    address.contact_id = contact.id
            if chunk.paid:
                refresh_promise_statuses(self.session, [case.id for case in chunk.paid],
                                         self.as_of)
        self.session.flush()
        return chunk

    def _load(self, rows: list[_Row]) -> _Chunk:
        """The chunk's existing debtors (by ref or ID) and cases, with what hangs off them
        (assignments too, so a change of holder costs no query of its own)."""
        if not rows:
            return _Chunk({}, {}, {})
        refs = {row.data["debtor"]["ref"] for row in rows}
        digests = {row.digest for row in rows}
        debtors = self.session.scalars(
            select(Debtor)
            .where(or_(Debtor.lender_ref.in_(refs), Debtor.national_id_digest.in_(digests)))
            .options(selectinload(Debtor.contacts), selectinload(Debtor.addresses))).all()
        cases = self.session.scalars(
            select(Case).where(Case.contract_no.in_([row.contract_no for row in rows]))
            .options(selectinload(Case.instalments), selectinload(Case.payments),
                     selectinload(Case.collateral), selectinload(Case.assignments))).all()
        return _Chunk({d.lender_ref: d for d in debtors},
                      {d.national_id_digest: d for d in debtors},
                      {c.contract_no: c for c in cases})

    # -- records the database already holds as the file gives them, or nearly

    def _judge(self, rows: list[_Row]) -> dict[int, dict[str, Any]]:
        """For the rows that need no merge, judged on plain rows of the saved data: the case's
        own columns to set (its figures move from day to day), or {} when nothing changes.

        Mirrors `_check` and `_upsert` for a saved case whose saved debtor the row names: any
        other difference, or anything the merge would report as an error, leaves the row to
        the ORM merge, which decides (this only ever spares work). Rows of one debtor agree on
        its data (`_check_consistent`), so one row's change cannot make another row of the same
        chunk look unchanged against the snapshot taken before it."""
        snapshot = _Snapshot.load(self.session, rows)
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
                _put(case, updates[case.contract_no])

    def _check(self, row: _Row, chunk: _Chunk) -> LoanFigures | None:
        """Checks that need the database; the row's figures if it may be applied."""
        data, ref = row.data, row.data["debtor"]["ref"]
        problems = []
        holder = chunk.by_digest.get(row.digest)
        if holder is not None and holder.lender_ref != ref:
            problems.append(("debtor.national_id",
                             f"already held by debtor ref {holder.lender_ref}"))
        debtor = chunk.debtors.get(ref)
        known = {c["ref"] for c in data["contacts"] or [] if c["ref"]}
        known |= {c.lender_ref for c in debtor.contacts} if debtor is not None else set()
        for index, address in enumerate(data["addresses"] or []):
            if address["contact_ref"] and address["contact_ref"] not in known:
                problems.append((f"addresses.{index}.contact_ref", "no contact with this ref"))
        case = chunk.cases.get(row.contract_no)
        schedule = data["schedule"]
        schedule = [_Item(**i) for i in schedule] if schedule is not None else (
            case.instalments if case is not None else [])
        payments = {p.lender_ref: p for p in case.payments} if case is not None else {}
        payments |= {p["ref"]: _Item(**p) for p in data["payments"] or []}
        figures = None
        try:
            figures = _figures(schedule, payments.values(), self.as_of)
        except InvalidInput as exc:
            problems.extend(("schedule", str(m)) for m in exc.fields.values())
        chunk.errors.extend((row, name, message) for name, message in problems)
        return None if problems else figures

    def _upsert(self, row: _Row, chunk: _Chunk, figures: LoanFigures) -> str:
        data = row.data
        debtor, changed = self._upsert_debtor(row, chunk)
        values = {name: data[name] for name in CASE_FIELDS} | _figure_values(
            figures, data["status"], self.as_of)
        case = chunk.cases.get(row.contract_no)
        created = case is None
        if created:
            case = Case(contract_no=row.contract_no, debtor=debtor, **values)
            self.session.add(case)
            chunk.cases[row.contract_no] = case
            chunk.fresh.append((case, data))
        else:
            changed |= _put(case, values)
            if case.debtor is not debtor:
                case.debtor, changed = debtor, True
            changed |= _merge_schedule(case, data["schedule"])
            if _merge_payments(case, data["payments"]):
                chunk.paid.append(case)
                changed = True
            changed |= _merge_collateral(case, data["collateral"])
        if row.holder is not None:
            team_id, collector_id, collector_named = row.holder
            keep = not collector_named and case.team_id == team_id
            # Before the flush: a new case is inserted with its holder (no UPDATE after it).
            if not keep and set_assignment(self.session, case, team_id=team_id,
                                           collector_id=collector_id,
                                           assigned_by_id=self.actor_id, reason=ASSIGN_REASON):
                changed = True
        return "created" if created else "updated" if changed else "unchanged"

    def _insert_parts(self, fresh: list[tuple[Case, dict]]) -> None:
        """Schedules, payments and vehicles of new cases, in bulk per table once the cases have
        ids (no ORM objects: a case's collections load from the database later)."""
        parts = {Instalment: [], Payment: [], Collateral: []}
        for case, data in fresh:
            parts[Instalment] += [{"case_id": case.id, "seq": i["seq"], "due_on": i["due_on"],
                                   "amount_fen": i["amount_fen"],
                                   "principal_fen": i["principal_fen"]}
                                  for i in data["schedule"] or []]
            parts[Payment] += [{"case_id": case.id, "lender_ref": p["ref"],
                                "paid_on": p["paid_on"], "amount_fen": p["amount_fen"],
                                "method": p["method"]} for p in data["payments"] or []]
            parts[Collateral] += [{"case_id": case.id, "lender_ref": c["key"],
                                   "repossession_status": RepossessionStatus.NONE,
                                   "tracker_lat": None, "tracker_lon": None, "tracker_at": None,
                                   **_collateral_values(c)} for c in data["collateral"] or []]
        for model, rows in parts.items():
            if rows:
                _bulk_insert(self.session, model.__table__, rows)

    def _upsert_debtor(self, row: _Row, chunk: _Chunk) -> tuple[Debtor, bool]:
        data = row.data["debtor"]
        values = {name: data[name] for name in DEBTOR_FIELDS}
        debtor = chunk.debtors.get(data["ref"])
        if debtor is None:
            debtor = Debtor(lender_ref=data["ref"], **values)
            self.session.add(debtor)
            chunk.debtors[data["ref"]] = debtor
            changed = True
        else:
            changed = _put(debtor, values)
        if debtor.national_id_digest != row.digest:  # encrypt only a new or changed ID
            national_id = data["national_id"]
            debtor.national_id_cipher = self.cipher.encrypt(national_id)
            debtor.national_id_digest = row.digest
            debtor.national_id_last4 = national_id[-4:]
            chunk.by_digest[row.digest] = debtor
            changed = True
        changed |= _merge_contacts(debtor, row.data["contacts"])
        changed |= _merge_addresses(debtor, row.data["addresses"], chunk)
        return debtor, changed


@dataclass
class _Item:
    """A schedule line or payment from the file, shaped like the model for `_figures`."""

    seq: int = 0
    due_on: date | None = None
    amount_fen: int = 0
    principal_fen: int = 0
    ref: str = ""
    paid_on: date | None = None
    method: str | None = None


def _merge_schedule(case: Case, schedule: list[dict] | None) -> bool:
    """The lender's plan is authoritative when given: lines are matched by `seq`, lines no
    longer in it are removed."""
    if schedule is None:
        return False
    current = {i.seq: i for i in case.instalments}
    changed = False
    for item in schedule:
        values = {k: item[k] for k in ("due_on", "amount_fen", "principal_fen")}
        instalment = current.pop(item["seq"], None)
        if instalment is None:
            case.instalments.append(Instalment(seq=item["seq"], **values))
            changed = True
        else:
            changed |= _put(instalment, values)
    for instalment in current.values():
        case.instalments.remove(instalment)
        changed = True
    return changed


def _merge_payments(case: Case, payments: list[dict] | None) -> bool:
    """Payments are added (or corrected) by ref, never removed."""
    current = {p.lender_ref: p for p in case.payments}
    changed = False
    for item in payments or []:
        values = {k: item[k] for k in ("paid_on", "amount_fen", "method")}
        payment = current.get(item["ref"])
        if payment is None:
            payment = Payment(lender_ref=item["ref"], **values)
            case.payments.append(payment)
            current[item["ref"]] = payment
            changed = True
        else:
            changed |= _put(payment, values)
    return changed


def _merge_collateral(case: Case, items: list[dict] | None) -> bool:
    """Vehicles by key; the repossession status is field data and is never touched, and a
    tracker position is only replaced by a newer report, never cleared."""
    current = {c.lender_ref: c for c in case.collateral}
    changed = False
    for item in items or []:
        values = _collateral_values(item)
        vehicle = current.get(item["key"])
        if vehicle is None:
            vehicle = Collateral(lender_ref=item["key"], **values)
            case.collateral.append(vehicle)
            current[item["key"]] = vehicle
            changed = True
        else:
            changed |= _put(vehicle, values)
    return changed


def _collateral_values(item: dict) -> dict[str, Any]:
    """A vehicle's columns from the file; without a tracker report the position is left out."""
    values = {k: item[k] for k in COLLATERAL_FIELDS}
    tracker = item["tracker"]
    if tracker is not None:
        values |= {"tracker_lat": tracker["lat"], "tracker_lon": tracker["lon"],
                   "tracker_at": tracker["at"]}
    return values


def _merge_contacts(debtor: Debtor, items: list[dict] | None) -> bool:
    """Contacts by key; contacts the file does not name (e.g. learnt in the field) stay."""
    current = {c.lender_ref: c for c in debtor.contacts}
    changed = False
    for item in items or []:
        values = {k: item[k] for k in CONTACT_FIELDS}
        contact = current.get(item["key"])
        if contact is None:
            contact = Contact(lender_ref=item["key"], **values)
            debtor.contacts.append(contact)
            current[item["key"]] = contact
            changed = True
        else:
            changed |= _put(contact, values)
    return changed


def _merge_addresses(debtor: Debtor, items: list[dict] | None, chunk: _Chunk) -> bool:
    """Addresses by key. Coordinates confirmed by a visit, or taken on a visit, are kept; the
    lender's coordinates replace only its own or a geocoder's, and a missing pair clears
    nothing."""
    current = {a.lender_ref: a for a in debtor.addresses}
    contacts = {c.lender_ref: c for c in debtor.contacts}
    changed = False
    for item in items or []:
        address = current.get(item["key"])
        if address is None:
            address = Address(lender_ref=item["key"], kind=item["kind"], text=item["text"])
            debtor.addresses.append(address)
            current[item["key"]] = address
            changed = True
        else:
            changed |= _put(address, {"kind": item["kind"], "text": item["text"]})
        point = item["wgs84"]
        field_data = address.confirmed_at is not None or address.coord_source == CoordSource.VISIT
        if point is not None and not field_data:
            changed |= _put(address, {"lat": point[0], "lon": point[1],
                                      "coord_source": CoordSource.LENDER,
                                      "source_datum": item["datum"]})
        contact = contacts.get(item["contact_ref"]) if item["contact_ref"] else None
        if contact is not None and contact.id is None:
            chunk.links.append((address, contact))  # its id comes with the flush
            changed = True
        elif address.contact_id != (contact.id if contact else None):
            address.contact_id = contact.id if contact else None
            changed = True
    return changed


# --------------------------------------------------------------------------- unchanged records

SNAPSHOT_COLUMNS = {  # what `_Snapshot` reads of each table (all that the merge compares)
    Case: ("id", "contract_no", "debtor_id", "team_id", "collector_id", *CASE_FIELDS, *FIGURES,
           "bucket", "status", "figures_as_of"),
    Debtor: ("id", "lender_ref", "national_id_digest", *DEBTOR_FIELDS),
    Contact: ("debtor_id", "id", "lender_ref", *CONTACT_FIELDS),
    Address: ("debtor_id", "lender_ref", "kind", "text", "lat", "lon", "coord_source",
              "source_datum", "confirmed_at", "contact_id"),
    Instalment: ("case_id", "seq", "due_on", "amount_fen", "principal_fen"),
    Payment: ("case_id", "lender_ref", "paid_on", "amount_fen", "method"),
    Collateral: ("case_id", "lender_ref", *COLLATERAL_FIELDS, "tracker_lat", "tracker_lon",
                 "tracker_at"),
}


def _snapshot_select(model: type, where: ColumnElement, *order_by: Any):
    return select(*(getattr(model, name) for name in SNAPSHOT_COLUMNS[model])).where(
        where).order_by(*order_by)


def _differs(saved: Any, values: dict[str, Any]) -> bool:
    """Whether `_put(saved, values)` would change anything (same comparison)."""
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
class _Snapshot:
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
    def load(cls, session: Session, rows: list[_Row]) -> _Snapshot | None:
        execute = session.execute
        cases = {c.contract_no: c for c in execute(_snapshot_select(
            Case, Case.contract_no.in_([row.contract_no for row in rows])))}
        if not cases:
            return None
        refs = {row.data["debtor"]["ref"] for row in rows if row.contract_no in cases}
        debtors = {d.lender_ref: d for d in execute(_snapshot_select(
            Debtor, Debtor.lender_ref.in_(refs)))}
        debtor_ids = [d.id for d in debtors.values()]
        case_ids = [c.id for c in cases.values()]
        return cls(
            cases, debtors,
            _keyed(execute(_snapshot_select(Contact, Contact.debtor_id.in_(debtor_ids)))),
            _keyed(execute(_snapshot_select(Address, Address.debtor_id.in_(debtor_ids)))),
            _listed(execute(_snapshot_select(Instalment, Instalment.case_id.in_(case_ids),
                                             Instalment.case_id, Instalment.seq))),
            _listed(execute(_snapshot_select(Payment, Payment.case_id.in_(case_ids),
                                             Payment.case_id, Payment.paid_on))),
            _keyed(execute(_snapshot_select(Collateral, Collateral.case_id.in_(case_ids)))))

    def judge(self, row: _Row, as_of: date) -> dict[str, Any] | None:
        """What `_upsert` would set on the case, {} for nothing, if the row passes `_check` and
        changes nothing but the case's own columns; otherwise None (the ORM merge decides)."""
        data, file_debtor = row.data, row.data["debtor"]
        case = self.cases.get(row.contract_no)
        debtor = self.debtors.get(file_debtor["ref"])
        if (case is None or debtor is None or case.debtor_id != debtor.id
                or debtor.national_id_digest != row.digest
                or _differs(debtor, {name: file_debtor[name] for name in DEBTOR_FIELDS})):
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
                return None  # a new address, or an error for `_check` to report
            if _differs(address, {"kind": item["kind"], "text": item["text"]}):
                return None
            point = item["wgs84"]
            field_data = (address.confirmed_at is not None
                          or address.coord_source == CoordSource.VISIT)
            if point is not None and not field_data and _differs(address, {
                    "lat": point[0], "lon": point[1], "coord_source": CoordSource.LENDER,
                    "source_datum": item["datum"]}):
                return None
            contact = contacts.get(item["contact_ref"]) if item["contact_ref"] else None
            if address.contact_id != (contact.id if contact else None):
                return None
        return self._judge_case(row, case, as_of)

    def _judge_case(self, row: _Row, case: Any, as_of: date) -> dict[str, Any] | None:
        data = row.data
        schedule, saved_schedule = data["schedule"], self.instalments.get(case.id, [])
        saved_payments = {p.lender_ref: p for p in self.payments.get(case.id, [])}
        payments = saved_payments | {p["ref"]: _Item(**p) for p in data["payments"] or []}
        if schedule is not None:  # the file's plan replaces the saved one
            saved = {i.seq: i for i in saved_schedule}
            if len(saved) != len(schedule):
                return None
            for item in schedule:
                instalment = saved.get(item["seq"])
                if instalment is None or _differs(instalment, {
                        k: item[k] for k in ("due_on", "amount_fen", "principal_fen")}):
                    return None
        for item in data["payments"] or []:
            payment = saved_payments.get(item["ref"])
            if payment is None or _differs(payment, {
                    k: item[k] for k in ("paid_on", "amount_fen", "method")}):
                return None
        vehicles = self.collateral.get(case.id, {})
        for item in data["collateral"] or []:
            vehicle = vehicles.get(item["key"])
            if vehicle is None or _differs(vehicle, _collateral_values(item)):
                return None
        if row.holder is not None:
            team_id, collector_id, collector_named = row.holder
            keep = not collector_named and case.team_id == team_id
            if not keep and (case.team_id, case.collector_id) != (team_id, collector_id):
                return None
        try:
            figures = _figures([_Item(**i) for i in schedule] if schedule is not None
                               else saved_schedule, payments.values(), as_of)
        except InvalidInput:
            return None
        values = {name: data[name] for name in CASE_FIELDS} | _figure_values(
            figures, data["status"], as_of)
        return values if _differs(case, values) else {}


# --------------------------------------------------------------------------- payments


@dataclass
class _Record:
    section: str  # "payment" | "balance"
    row: int
    data: dict


class _PaymentImporter:
    def __init__(self, session: Session, log: RunLog, as_of: date, from_csv: bool):
        self.session, self.log, self.as_of, self.from_csv = session, log, as_of, from_csv

    def run(self, doc: Document) -> None:
        for error in doc.errors:
            self.log.error(error["row"], error["contract_no"], error["field"], error["message"])
        groups: dict[str, list[_Record]] = {}
        first_ref: dict[tuple[str, str], int] = {}
        for name, section, clean in (("payments", "payment", clean_payment),
                                     ("balances", "balance", clean_balance)):
            records = doc.records[name]
            self.log.rows += len(records)
            for index, raw in enumerate(records):
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
        for contracts in _chunks(list(groups)):
            self._apply_chunk({no: groups[no] for no in contracts})

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
            name, message = _db_problem(exc, "payment.ref")
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
            select(Case).where(Case.contract_no.in_(list(groups)))
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
                figures = _figures(case.instalments, case.payments, self.as_of)
                _put(case, _figure_values(figures, status, self.as_of))
        self.session.flush()
        if paid:
            refresh_promise_statuses(self.session, [case.id for case in paid], self.as_of)
            self.session.flush()


def _add_payment(case: Case, data: dict) -> str:
    values = {k: data[k] for k in ("paid_on", "amount_fen", "method")}
    payment = next((p for p in case.payments if p.lender_ref == data["ref"]), None)
    if payment is None:
        case.payments.append(Payment(lender_ref=data["ref"], **values))
        return "created"
    return "updated" if _put(payment, values) else "unchanged"


def _set_balance(case: Case, data: dict) -> str:
    values = {k: data[k] for k in ("penalty_fen", "fees_fen") if data[k] is not None}
    changed = _put(case, values)
    if data["status"] is not None and case.status != data["status"]:
        changed = True  # applied with the figures, which may settle the case instead
    return "updated" if changed else "unchanged"
