"""Taking in the lender's daily files: the entry points, the run's rules and its record.

Each record is checked on its own; a bad one becomes a row error and is skipped, the others are
applied. Work goes in chunks: one query per table loads a chunk's existing rows, every change is
compared before it is made (a re-import of the same file issues no UPDATE, so the version
counters and the sync change log stay still), and the chunk is flushed inside a SAVEPOINT. If
the database refuses a chunk, it is replayed one record per SAVEPOINT, so the refused record
becomes that record's error and nothing is half-saved. The importers are in `imports.cases`
and `imports.payments`.

A run asked for through the API or the command line is a job (`queue_import`, then
`run_queued` in the `import` job kind): the file is checked and stored first, and the job
commits every `FIELDVISIT_IMPORT_CHUNK_ROWS` records with the run's progress, so phones' deltas
wait for one chunk at most (a dry run rolls each chunk back, and commits only its progress).
`import_cases` and `import_payments` import in the caller's transaction (benchmarks, demo
seeding).
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import BinaryIO, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from api.jobs import Cancelled
from api.models import ImportRun, JobStatus
from api.models.types import utcnow
from api.services.casefile.cases import CaseGraph
from api.services.evidence.storage import BlobStore, HashingReader
from api.services.exceptions import DomainError, InvalidInput
from api.services.identity import audit
from api.services.identity.accounts import Principal
from api.services.identity.pii import PiiCipher
from api.services.imports.bulk import CHUNK
from api.services.imports.cases import CaseImporter
from api.services.imports.file_checks import FileRepeats
from api.services.imports.formats import (
    Document,
    check_document,
    check_upload,
    stored_document,
)
from api.services.imports.payments import PaymentImporter
from api.services.imports.run_log import MAX_ERRORS, RunLog

LENDER_TZ = ZoneInfo("Asia/Shanghai")


def lender_today() -> date:
    return datetime.now(LENDER_TZ).date()


Step = Callable[[RunLog, int], None]  # (the run's log so far, records read so far)


class Publication(Protocol):
    """How a run publishes cases to phones (the job's: `mobile_sync.changelog.Publisher`)."""

    def __call__(self, session: Session) -> object:
        """Publish the cases the session marked (their device documents, the change log)."""

    def new_cases(self, session: Session, graphs: list[CaseGraph]) -> None:
        """Publish cases just created by bulk SQL, from their graphs in memory."""


def _run(session: Session, kind: str, payload: dict | Document, run_once, *, dry_run: bool,
         atomic: bool, actor_id: int | None, filename: str | None, file_sha256: str | None,
         file_format: str, run: ImportRun | None = None,
         step: Step | None = None) -> ImportRun:
    """Apply `run_once(log, step)` under the run's rules and record the run (dry runs too).

    `step` is called between chunks, outside any SAVEPOINT, to commit what was done so far
    (an import job's chunks). An atomic run is one transaction: it gets no `step`. A dry run
    given a `step` rolls back the whole transaction after each chunk, before the step (which
    then commits only the run's progress), so it holds no transaction id, lock or SQLite
    write lock between chunks; the importer carries over what later chunks need of earlier
    ones. Without a `step` a dry run is one SAVEPOINT, rolled back at the end."""
    started = utcnow()
    log = RunLog()
    chunked_dry = dry_run and step is not None
    outer = session.begin_nested() if (dry_run or atomic) and not chunked_dry else None
    given = None if outer is not None else step
    if chunked_dry:
        def given(log: RunLog, read: int) -> None:
            session.rollback()  # the chunk's data, and the transaction that held it
            step(log, read)
    try:
        with _collector_spares_the_file():
            run_once(log, given)
    except BaseException:
        if outer is not None and outer.is_active:
            outer.rollback()
        raise
    if chunked_dry:
        session.rollback()  # the last chunk's data; the run is recorded below
    if outer is not None:
        if dry_run or log.errors:
            outer.rollback()  # nothing of the data is kept; the run record below is
            if not dry_run:
                log.created = log.updated = log.unchanged = 0
        else:
            outer.commit()
    if run is None:
        run = ImportRun(kind=kind, file_format=file_format, dry_run=dry_run, atomic=atomic,
                        filename=(filename or "")[:200] or None, started_by_id=actor_id,
                        started_at=started, sha256=file_sha256 or _sha256_of(payload))
        session.add(run)
    record_progress(run, log)
    run.done, run.total = log.rows, log.rows
    run.status, run.finished_at = JobStatus.DONE, utcnow()
    session.flush()
    return run


def _sha256_of(payload: dict | Document) -> str:
    """The SHA-256 of a document given as a dict (no file), to tell runs of it apart."""
    if isinstance(payload, Document):
        raise TypeError("a document read from a file is imported with the file's SHA-256")
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def record_progress(run: ImportRun, log: RunLog) -> None:
    """Put the log's counts and row errors (in file order) on the run."""
    errors = log.sorted_errors()
    if len(errors) >= MAX_ERRORS:
        errors.append({"row": None, "contract_no": None, "field": "_file",
                       "message": f"more errors not listed ({len(log.failed_rows)} rows failed)"})
    run.rows, run.created, run.updated, run.unchanged = (
        log.rows, log.created, log.updated, log.unchanged)
    run.errors = json.dumps(errors, ensure_ascii=False, default=str)


@contextmanager
def _collector_spares_the_file() -> Iterator[None]:
    """Leave what already exists (a CSV file as read, or a document given as a dict: millions
    of objects that stay alive throughout) out of Python's cyclic garbage collection while the
    run creates its many objects: every full collection would walk all of it again, a quarter
    of a large run's time.
    What the run creates is collected as usual; the rest is handed back afterwards."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def import_cases(session: Session, cipher: PiiCipher, payload: dict | Document, *,
                 dry_run: bool = False, atomic: bool = False, actor_id: int | None = None,
                 filename: str | None = None,
                 file_sha256: str | None = None, file_format: str = "json",
                 as_of: date | None = None, run: ImportRun | None = None,
                 step: Step | None = None, chunk: int = CHUNK,
                 publish: Publication | None = None,
                 repeats: FileRepeats | None = None) -> ImportRun:
    """Upsert a cases document (see docs/import-format.md), given as a dict or as read by
    `formats.stored_document`; the caller commits.

    Row numbers are the position in `cases` (from 1) or, for CSV, the line of the record.
    `dry_run` and `atomic` (when any row failed) roll every data change back; the run is
    recorded either way. `as_of` wins over the file's `as_of`; default: today in Shanghai.
    `publish` (the job's) lets the run keep each case's record digest, so that a re-import
    skips what has not changed, and create new cases of new debtors set-based, their
    documents built from memory (`imports.new_cases`); without it (nor `dry_run`) every
    record goes through the ORM, and the commit publishes. `repeats`: what the file names more
    than once, as found on upload (else the records are read once more first to find it)."""
    doc = payload if isinstance(payload, Document) else check_document(payload, "cases")

    def run_once(log: RunLog, step: Step | None) -> None:
        importer = CaseImporter(session, cipher, log, as_of or doc.as_of or lender_today(),
                                actor_id, from_csv=file_format == "csv", step=step,
                                chunk=chunk, publish=publish, dry_run=dry_run,
                                repeats=repeats)
        importer.run(doc)

    return _run(session, "cases", payload, run_once, dry_run=dry_run, atomic=atomic,
                actor_id=actor_id, filename=filename, file_sha256=file_sha256,
                file_format=file_format, run=run, step=step)


def import_payments(session: Session, payload: dict | Document, *, dry_run: bool = False,
                    atomic: bool = False, actor_id: int | None = None,
                    filename: str | None = None, file_sha256: str | None = None,
                    file_format: str = "json", as_of: date | None = None,
                    run: ImportRun | None = None, step: Step | None = None,
                    chunk: int = CHUNK) -> ImportRun:
    """Add payments by (contract_no, ref), set balances, recompute the figures of every case
    touched. No debtor, contact, address or vehicle is read or written. Row numbers count
    within `payments` and within `balances` (CSV: lines); fields are `payment.*`/`balance.*`."""
    doc = payload if isinstance(payload, Document) else check_document(payload, "payments")

    def run_once(log: RunLog, step: Step | None) -> None:
        importer = PaymentImporter(session, log, as_of or doc.as_of or lender_today(),
                                   from_csv=file_format == "csv", step=step, chunk=chunk)
        importer.run(doc)

    return _run(session, "payments", payload, run_once, dry_run=dry_run, atomic=atomic,
                actor_id=actor_id, filename=filename, file_sha256=file_sha256,
                file_format=file_format, run=run, step=step)


def _audit(session: Session, principal: Principal | None, run: ImportRun) -> None:
    audit.record(session, principal, "import", detail={
        "import_run_id": run.id, "kind": run.kind, "format": run.file_format,
        "dry_run": run.dry_run, "atomic": run.atomic, "sha256": run.sha256, "rows": run.rows,
        "created": run.created, "updated": run.updated, "unchanged": run.unchanged,
        "errors": len(json.loads(run.errors)), "status": run.status})


# --------------------------------------------------------------------------- as a job


# Files this process checked and stored for a job it runs itself (the command line, `wait`,
# the in-process queue), as read, by blob key: the job takes the document from here rather
# than reading the file again. A CSV file, read whole; a JSON file of KEEP_PARSED records at
# most (about 15 KB of memory a record); a larger one is read again from the store, as a stream.
_READ: dict[str, Document] = {}
KEEP_PARSED = 25_000


def forget_upload(key: str | None) -> None:
    """The file of a run that will not run is not kept for it."""
    _READ.pop(key, None)


def upload_key(run_id: int, file_format: str) -> str:
    return f"imports/{run_id}/upload.{file_format}"


def queue_import(session: Session, blobs: BlobStore, upload: BinaryIO, *, kind: str,
                 file_format: str, principal: Principal | None,
                 filename: str | None = None,
                 dry_run: bool = False, atomic: bool = False, as_of: date | None = None,
                 atomic_max_rows: int | None = None, runs_here: bool = True) -> ImportRun:
    """Check the whole file in `upload` (seekable; a file that cannot be read is refused now,
    400, 413 or 422), keep it in the blob store and record the run as `queued` (the caller
    asks for its job and commits); no `principal`: the command line. The run's `as_of` is the
    one asked for, else the file's. An atomic run is one transaction, so it takes at most
    `atomic_max_rows` records. `runs_here`: this process will run the job (a CSV file's
    document, or a small JSON file's, is kept for it)."""
    hashing = HashingReader(upload, None)
    checked = check_upload(hashing, file_format, kind,  # read to the end: hashed whole
                           keep=KEEP_PARSED if runs_here else 0)
    total = checked.total
    if atomic and atomic_max_rows is not None and total > atomic_max_rows:
        raise InvalidInput(
            f"An atomic run is one transaction and holds back every phone's sync while it "
            f"runs: it takes at most {atomic_max_rows:,} records, this file has {total:,}. "
            f"Import it without atomic, or check it first with a dry run.",
            fields={"atomic": [f"at most {atomic_max_rows} records"]})
    run = ImportRun(kind=kind, file_format=file_format, filename=(filename or "")[:200] or None,
                    sha256=hashing.result().sha256, dry_run=dry_run, atomic=atomic,
                    as_of=as_of or checked.as_of,
                    repeats=checked.repeats and checked.repeats.to_json(),
                    started_by_id=principal.user_id if principal else None,
                    status=JobStatus.QUEUED, total=total, rows=total)
    session.add(run)
    session.flush()
    run.blob_key = upload_key(run.id, file_format)
    upload.seek(0)
    blobs.put_stream(run.blob_key, upload, content_type=(
        "application/json" if file_format == "json" else "text/csv"))
    if runs_here and checked.document is not None:
        _READ[run.blob_key] = checked.document
    return run


def run_queued(session: Session, cipher: PiiCipher, blobs: BlobStore, run_id: int,
               principal: Principal | None, checkpoint: Callable[[int, int | None], None],
               chunk_rows: int,
               after_chunk: Callable[[int, int, int | None], None] | None = None,
               publish: Publication | None = None) -> dict:
    """An import job's body: take in the stored file, committing every `chunk_rows` records
    with the counts so far (`checkpoint` commits and raises `Cancelled` once asked to stop;
    `after_chunk(run id, done, total)` is called after each commit, holding no transaction).
    What was committed stays if the run is cancelled or fails; the run records how it ended,
    is audited, and its upload deleted."""
    run = session.get(ImportRun, run_id)
    if run is None or run.status != JobStatus.QUEUED:
        raise DomainError("This import has already run.")
    run.status = JobStatus.RUNNING
    total = run.total
    checkpoint(0, total)
    last = [0]

    def step(log: RunLog, read: int) -> None:
        if read - last[0] < chunk_rows:
            return
        record_progress(run, log)
        run.done = read
        checkpoint(read, total)
        last[0] = read
        if after_chunk is not None:
            after_chunk(run_id, read, total)

    try:
        key = run.blob_key
        doc = _READ.pop(key, None) or stored_document(lambda: blobs.open(key), run.file_format,
                                                      run.kind)
        options = {"dry_run": run.dry_run, "atomic": run.atomic, "filename": run.filename,
                   "as_of": run.as_of, "actor_id": run.started_by_id,
                   "file_sha256": run.sha256, "file_format": run.file_format,
                   "run": run, "step": step, "chunk": min(CHUNK, chunk_rows)}
        if run.kind == "cases":
            repeats = FileRepeats.from_json(run.repeats) if run.repeats else None
            import_cases(session, cipher, doc, **options, publish=publish, repeats=repeats)
        else:
            import_payments(session, doc, **options)
    except BaseException as exc:
        session.rollback()  # back to the last chunk committed
        run = session.get(ImportRun, run_id)
        run.status = JobStatus.CANCELLED if isinstance(exc, Cancelled) else JobStatus.FAILED
        run.finished_at = utcnow()
        _finish(session, blobs, principal, run)
        raise
    _finish(session, blobs, principal, run)
    return {"import_run_id": run.id, "rows": run.rows, "created": run.created,
            "updated": run.updated, "unchanged": run.unchanged,
            "errors": len(json.loads(run.errors))}


def _finish(session: Session, blobs: BlobStore, principal: Principal | None,
            run: ImportRun) -> None:
    """Audit the run and commit its end; then its upload is no longer needed."""
    _audit(session, principal, run)
    key, run.blob_key, run.repeats = run.blob_key, None, None
    session.commit()
    if key:
        blobs.delete(key)
