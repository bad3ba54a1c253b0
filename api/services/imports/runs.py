"""Taking in the lender's daily files: the entry points, the run's rules and its record.

Each record is checked on its own; a bad one becomes a row error and is skipped, the others are
applied. Work goes in chunks: one query per table loads a chunk's existing rows, every change is
compared before it is made (a re-import of the same file issues no UPDATE, so the version
counters and the sync change log stay still), and the chunk is flushed inside a SAVEPOINT. If
the database refuses a chunk, it is replayed one record per SAVEPOINT, so the refused record
becomes that record's error and nothing is half-saved. The importers are in `imports.cases`
and `imports.payments`.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from api.models import ImportRun
from api.models.types import utcnow
from api.services.identity import audit
from api.services.identity.accounts import Principal
from api.services.identity.pii import PiiCipher
from api.services.imports.cases import CaseImporter
from api.services.imports.formats import check_document, parse_import_file
from api.services.imports.payments import PaymentImporter
from api.services.imports.run_log import MAX_ERRORS, RunLog

LENDER_TZ = ZoneInfo("Asia/Shanghai")


def lender_today() -> date:
    return datetime.now(LENDER_TZ).date()


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
        importer = CaseImporter(session, cipher, log, as_of or doc.as_of or lender_today(),
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
        importer = PaymentImporter(session, log, as_of or doc.as_of or lender_today(),
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
