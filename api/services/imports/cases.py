"""The case importer (upsert): the run in chunks, the glance at unchanged records, the plain-row
shortcut and new cases set-based.

A case record the database already holds as the file gives it is recognised first on plain
rows (no ORM objects: see `imports.snapshot`): counted unchanged, or, when only the case's own
columns move (the figures do, day by day), updated without loading what hangs off the case. A
record of a new case whose debtor is new too is inserted as plain rows in bulk, its device
document built from them (`imports.new_cases`). Only the other records are loaded as ORM
objects and merged (`imports.case_merge`). The cases whose payments changed have their
repayment promises judged again (`api.services.fieldwork.promise_status`) in the same
SAVEPOINT. Who a case may be given is judged in `imports.holders`, the file's agreement with
itself in `imports.file_checks`, and what a dry run rolled back chunk by chunk carries from one
chunk to the next in `imports.dry_chunks`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from api.services.identity.pii import PiiCipher
from api.services.imports import digests
from api.services.imports.bulk import CHUNK, chunks
from api.services.imports.case_merge import CaseMerge, Chunk
from api.services.imports.converters import Bad
from api.services.imports.dry_chunks import CarriedDebtors
from api.services.imports.file_checks import FileChecks, FileRepeats
from api.services.imports.formats import Document
from api.services.imports.holders import HOLDER_TERMS, Holder, Holders
from api.services.imports.records import CaseRow
from api.services.imports.rows import CASE, clean_case, clean_debtor_parts
from api.services.imports.run_log import RunLog, db_problem, field_line
from api.services.imports.snapshot import Snapshot

DEBTOR_PARTS = ("debtor", "contacts", "addresses")  # what `FileChecks.consistent` compares
_UNSKIPPABLE = object()  # `CaseImporter._glanced_holder`: the record's holder terms need reading
# Tests set this: every record the plain-row check spares the ORM merge is merged as well, and
# the merge must find nothing left to do (see `CaseImporter._judge`).
VERIFY_UNCHANGED = False


class CaseImporter:
    def __init__(self, session: Session, cipher: PiiCipher, log: RunLog, as_of: date,
                 actor_id: int | None, from_csv: bool, step=None, chunk: int = CHUNK,
                 publish=None, dry_run: bool = False, repeats: FileRepeats | None = None):
        self.session, self.cipher, self.log, self.step = session, cipher, log, step
        self.chunk = chunk  # records per SAVEPOINT; `step` is called after each
        # Publishes the session's touched cases (their device documents) before their digests
        # are kept (`imports.digests`), and the new cases (`imports.new_cases`); None: keep no
        # digests. A dry run publishes nothing (its changes are rolled back).
        self.publish = None if dry_run else publish
        # New debtors' new cases are created set-based: published by `publish`, or not at all
        # in a dry run; otherwise the ORM creates them and the commit publishes them.
        self.set_based = dry_run or publish is not None
        # A dry run given a step rolls every chunk back (`runs._run`): see `imports.dry_chunks`.
        self.rolls_back = dry_run and step is not None
        self.carried: CarriedDebtors | None = None
        self.applied: dict[str, str] = {}  # contract_no -> record digest, not yet kept
        self.matched: set[int] = set()  # rows whose digest says unchanged (VERIFY_UNCHANGED)
        self.as_of, self.actor_id, self.from_csv = as_of, actor_id, from_csv
        self.merge = CaseMerge(session, cipher, as_of, actor_id)
        self.holders = Holders(session)
        self._glanced_holders: dict[tuple, Holder | object | None] = {}
        self.repeats = repeats  # found on upload; else found by reading the records first
        self.file: FileChecks
        # debtor ref -> (row, its DEBTOR_PARTS) of the records skipped unread
        self.skipped: dict[str, list[tuple[int, bytes]]] = {}
        self.kept: dict[str, str] = {}  # the current chunk's `digests.stored`

    def run(self, doc: Document) -> None:
        """Every `chunk` records read (the records are iterated once, as a stored file is
        read): the glanced ones resolved, the others applied in a SAVEPOINT, and `step` called
        (an import job commits there)."""
        for error in doc.errors:
            self.log.error(error["row"], error["contract_no"], error["field"], error["message"])
        records = doc.records["cases"]
        repeats = self.repeats or FileRepeats.of(records)
        self.file = FileChecks(repeats)
        if self.rolls_back:
            self.carried = CarriedDebtors(self.merge, repeats.debtor_refs)
        pending: list[CaseRow] = []
        glanced: list[tuple] = []
        row_no = 0
        for batch in chunks(records, self.chunk):
            self.kept = self._kept_digests(batch)
            for raw in batch:
                lines = doc.lines[row_no] if doc.lines else None
                row_no += 1
                glance = self._glance(raw)
                if glance is not None:
                    self.file.read_contract(glance[0], row_no)
                    glanced.append((row_no, raw, lines, *glance))
                else:
                    pending += self._resolve(glanced)
                    glanced = []
                    row = self._clean(row_no, raw, lines)
                    if row is not None:
                        pending.append(row)
            self.log.rows = row_no
            pending += self._resolve(glanced)
            glanced = []
            if pending:
                self._apply_chunk(pending)
                pending = []
            if self.step is not None and len(batch) == self.chunk:
                self.keep_digests()
                self.step(self.log, row_no)
        self.keep_digests()

    # -- records the database already holds as given, told without reading them

    def _glance(self, raw: Any) -> tuple[str, str, str] | None:
        """(contract_no, debtor ref, record digest) of a record that could be skipped without
        checking it field by field, or None: it must be read (see `_resolve`). The holder it
        names is checked now (a collector may have been deactivated since)."""
        if not isinstance(raw, dict) or not isinstance(raw.get("debtor"), dict):
            return None
        try:
            contract_no = _glanced_value("contract_no", raw.get("contract_no"), self.from_csv)
            # A file names few holders: each set of terms as given is judged once a run.
            terms = tuple(raw.get(name) for name in HOLDER_TERMS)
            holder = self._glanced_holders[terms]
        except (Bad, TypeError):  # TypeError: a list or an object among the terms
            return None
        except KeyError:
            holder = self._glanced_holders[terms] = self._glanced_holder(terms)
        ref = raw["debtor"].get("ref")
        ref = ref.strip() if isinstance(ref, str) else None
        if not ref or contract_no is None or holder is _UNSKIPPABLE \
                or self.file.contract_read(contract_no) \
                or self.file.debtor_read(ref):  # a duplicate, or a debtor already read
            return None
        return contract_no, ref, digests.record_digest(raw, holder, self.as_of)

    def _glanced_holder(self, terms: tuple) -> Holder | object | None:
        """The holder a record's terms (HOLDER_TERMS, as given) ask for, or _UNSKIPPABLE when
        they are wrong or ask for someone it may not be given to (the record must be read)."""
        values = {}
        try:
            for name, value in zip(HOLDER_TERMS, terms, strict=True):
                values[name] = _glanced_value(name, value, self.from_csv)
        except Bad:
            return _UNSKIPPABLE
        problems: list = []
        holder = self.holders.asked(values, problems)
        return _UNSKIPPABLE if problems else holder

    def _kept_digests(self, records: list) -> dict[str, str]:
        """`digests.stored` for the records of the chunk about to be read: one query a chunk,
        however often its second loans interrupt the runs of glanced records."""
        numbers = {raw["contract_no"].strip() for raw in records
                   if isinstance(raw, dict) and isinstance(raw.get("contract_no"), str)}
        return digests.stored(self.session, list(numbers))

    def _resolve(self, glanced: list[tuple]) -> list[CaseRow]:
        """Count as unchanged the glanced records whose case was imported from the same
        record and has not changed since (`imports.digests`); read the others. (With
        VERIFY_UNCHANGED they are all read and applied, and the skipped must change nothing.)"""
        if not glanced:
            return []
        same = {g[3] for g in glanced if self.kept.get(g[3]) == g[5]}
        rows = []
        for row_no, raw, lines, contract_no, ref, digest in glanced:
            if contract_no in same and not self.file.debtor_read(ref):
                if not VERIFY_UNCHANGED:
                    self.log.count("unchanged")
                    if ref in self.file.repeats.debtor_refs:  # a later record may be read
                        self.skipped.setdefault(ref, []).append((row_no, orjson.dumps(
                            {name: raw.get(name) for name in DEBTOR_PARTS})))
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
        if not problems and (repeated := self.file.repeated(data["contract_no"], row_no)):
            problems.append(("contract_no", repeated))
        if not problems:
            for skipped_no, skipped in self.skipped.pop(data["debtor"]["ref"], []):
                self._register(skipped_no, skipped)  # read before this row, as in the file
            holder = self.holders.asked(data, problems)
            digest = self.cipher.digest(data["debtor"]["national_id"])
            self.file.consistent(row_no, data, digest, problems)
        if problems:
            for name, message in problems:
                self.log.error(field_line(lines, name, row_no), contract_no, name, message)
            return None
        return CaseRow(row_no, data["contract_no"], data, lines, digest, holder,
                       record_digest or digests.record_digest(raw, holder, self.as_of))

    def _register(self, row_no: int, packed: bytes) -> None:
        """What a skipped record says of its debtor (kept packed: a re-import skips nearly
        every record of a large file), for the records read after it to be compared with (it
        passed these checks when it was imported)."""
        data, problems = clean_debtor_parts(orjson.loads(packed), self.from_csv)
        if not problems:
            digest = self.cipher.digest(data["debtor"]["national_id"])
            self.file.consistent(row_no, data, digest, [])

    # -- applying a chunk

    def _skip_unchanged(self, rows: list[CaseRow]) -> list[CaseRow]:
        """Count as unchanged the rows whose case was imported from the same record and has
        not changed since; the others, to be applied. (With VERIFY_UNCHANGED they are applied
        too, and must change nothing.)"""
        same = {row.contract_no for row in rows
                if self.kept.get(row.contract_no) == row.record_digest}
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
            self.carried.keep([row for row in rows if row.row not in failed], chunk.re_ided)

    def _apply(self, rows: list[CaseRow]) -> Chunk:
        if self.carried is not None:
            self.carried.redo(rows)
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
        self.merge.update_cases(own)
        chunk = self.merge.load(rows)
        chunk.outcomes += ["updated"] * len(own) + ["unchanged"] * (len(judged) - len(own))
        merged = self.merge.merged_refs(rows, chunk) if self.set_based else None
        with self.session.no_autoflush:  # assignments are preloaded: no query in the loop
            for row in rows:
                plan = self.merge.check(row, chunk)
                if plan is not None and merged is not None \
                        and row.data["debtor"]["ref"] not in merged:
                    chunk.new.add(row, plan, self.as_of)
                    outcome = "created"
                else:
                    outcome = None if plan is None else self.merge.upsert(row, chunk, plan)
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
            self.merge.flush(chunk)
        else:
            self.session.flush()
        chunk.new.save(self.publish)
        return chunk

    # -- records the database already holds as the file gives them, or nearly

    def _judge(self, rows: list[CaseRow]) -> dict[int, dict[str, Any]]:
        """For the rows that need no merge, judged on plain rows of the saved data: the case's
        own columns to set (its figures move from day to day), or {} when nothing changes.

        Mirrors `CaseMerge.check` and `CaseMerge.upsert` for a saved case whose saved debtor
        the row names: any other difference, or anything the merge would report as an error,
        leaves the row to the ORM merge, which decides (this only ever spares work). Rows of
        one debtor agree on its data (`FileChecks.consistent`), so one row's change cannot make
        another row of the same chunk look unchanged against the snapshot taken before it."""
        snapshot = Snapshot.load(self.session, rows)
        if snapshot is None:
            return {}
        judged = {}
        for row in rows:
            values = snapshot.judge(row, self.as_of)
            if values is not None:
                judged[row.row] = values
        return judged


def _glanced_value(name: str, value: Any, from_csv: bool) -> Any:
    """A field `CaseImporter._glance` reads of a record, clean (or raise Bad)."""
    spec = CASE[name]
    value = None if value is None else spec.convert(value, from_csv)
    return spec.default if value is None else value
