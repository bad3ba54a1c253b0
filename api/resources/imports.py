"""Lender imports: upload a cases or payments file (JSON, CSV or multipart) to be taken in by a
job, follow and cancel it, list the runs."""

import shutil
import tempfile
from pathlib import PurePath
from typing import BinaryIO

from flask import current_app, request, url_for
from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import UnsupportedMediaType

from api import jobs
from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.jobs.imports import IMPORT_ROLES, ask_for_job
from api.models import FINISHED, ImportRun, JobStatus
from api.pagination import paginate
from api.services.evidence.storage import SPOOL_BYTES  # larger bodies go to a temporary file
from api.services.exceptions import Conflict, InvalidInput, NotFound
from api.services.imports import runs
from schemas.imports import (
    ImportArgsSchema,
    ImportRunPageSchema,
    ImportRunQuerySchema,
    ImportRunSchema,
)

blp = Blueprint("imports", __name__, url_prefix="/imports", description="Lender imports")

MAX_IMPORT_BYTES = 8 * 1024 ** 3  # lender files (a million cases: ~3.5 GB of JSON); CSV: 200 MiB
BODY_FORMATS = {"application/json": "json", "text/csv": "csv"}

CASES_EXAMPLE = {
    "format": "fieldvisit.cases.v1", "as_of": "2026-11-21",
    "cases": [{
        "contract_no": "HT-2025-000123", "product": "car_loan", "principal_fen": 12000000,
        "disbursed_on": "2025-12-15", "status": "active", "lender_bucket": "M2",
        "team_code": "SZ-01", "collector_username": "collector1",
        "debtor": {"ref": "D-000123", "name": "张伟", "national_id": "440308199901101512",
                   "mobile_phone": "13812345678"},
        "contacts": [{"ref": "C1", "name": "李娜", "relation": "spouse", "role": "guarantor",
                      "phone": "13987654321", "knows_of_loan": True}],
        "addresses": [{"ref": "A1", "kind": "home", "text": "深圳市福田区福华一路1号",
                       "lat": 22.5455, "lon": 114.0683, "datum": "WGS84"}],
        "collateral": [{"ref": "V1", "kind": "car", "vin": "LSJA24U62JG269225",
                        "engine_no": "G4FC1234567", "plate": "京AD92035"}],
        "schedule": [{"seq": 1, "due_on": "2026-01-15", "amount_fen": 1050000,
                      "principal_fen": 1000000}],
        "payments": [{"ref": "P-1", "paid_on": "2026-01-15", "amount_fen": 1050000,
                      "method": "bank_transfer"}],
    }],
}
PAYMENTS_EXAMPLE = {
    "format": "fieldvisit.payments.v1", "as_of": "2026-11-21",
    "payments": [{"contract_no": "HT-2025-000123", "ref": "P-9", "paid_on": "2026-11-20",
                  "amount_fen": 2100000, "method": "bank_transfer"}],
    "balances": [{"contract_no": "HT-2025-000123", "penalty_fen": 15000, "fees_fen": 5000,
                  "status": "partly_paid"}],
}
CASES_CSV = (
    "record,contract_no,product,principal_fen,status,ref,name,national_id,seq,due_on,"
    "amount_fen,principal_fen\n"
    "case,HT-1,car_loan,12000000,active,,,,,,,\n"
    "debtor,HT-1,,,,D-1,张伟,440308199901101512,,,,\n"
    "instalment,HT-1,,,,,,,1,2026-01-15,1050000,1000000\n"
)
REQUEST_BODY = {
    "required": True,
    "description": "A lender file as described in docs/import-format.md, sent as the body "
                   "or as the `file` part of a form. JSON is read as a stream, up to 8 GiB (a "
                   "million cases is about 3.5 GB); CSV is read whole, up to 200 MiB.",
    "content": {
        "application/json": {"schema": {"type": "object"}, "examples": {
            "cases": {"summary": "cases file", "value": CASES_EXAMPLE},
            "payments": {"summary": "payments file", "value": PAYMENTS_EXAMPLE}}},
        "text/csv": {"schema": {"type": "string"}, "examples": {
            "cases": {"summary": "cases file", "value": CASES_CSV},
            "payments": {"summary": "payments file", "value": (
                "record,contract_no,ref,paid_on,amount_fen,penalty_fen,status\n"
                "payment,HT-1,P-9,2026-11-20,2100000,,\n"
                "balance,HT-1,,,,15000,partly_paid\n")}}},
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary",
                                    "description": "a .json or .csv file"}}}},
    },
}


@blp.route("")
class Imports(MethodView):
    accepts_content = ("application/json", "text/csv", "multipart/form-data")

    @auth_required(*IMPORT_ROLES)
    @blp.arguments(ImportRunQuerySchema, location="query")
    @blp.response(200, ImportRunPageSchema)
    def get(self, args):
        """List import runs, newest first, by kind or status"""
        stmt = select(ImportRun).options(selectinload(ImportRun.job))
        if "kind" in args:
            stmt = stmt.where(ImportRun.kind == args["kind"])
        if "status" in args:
            stmt = stmt.where(ImportRun.status == args["status"])
        return paginate(db.session, stmt, args, ImportRun.id.desc())

    @auth_required(*IMPORT_ROLES)
    @blp.arguments(ImportArgsSchema, location="query")
    @blp.doc(requestBody=REQUEST_BODY)
    @blp.response(202, ImportRunSchema, description=(
        "Queued as a job: follow `Location` (`GET /imports/{id}`) until `status` is done, "
        "failed or cancelled"), headers={"Location": {
            "description": "the run: `/imports/{id}`", "schema": {"type": "string"}}})
    @blp.alt_response(201, schema=ImportRunSchema,
                      description="A file of one chunk at most, or `wait=true`: the run, "
                                  "finished")
    @blp.alt_response(400, description="The file is not readable JSON or CSV (`file`)")
    @blp.body_limit(MAX_IMPORT_BYTES)
    @blp.alt_response(415, description="Not JSON, CSV or a multipart form")
    @blp.alt_response(422, description="Wrong `format` name, a document of the wrong shape, "
                                       "or an `atomic` run of a file too large for one")
    def post(self, args):
        """Import a lender file (cases or payments)

        The file is checked (readable, the right format) and stored, and a job takes it in,
        committing a chunk of records at a time (`FIELDVISIT_IMPORT_CHUNK_ROWS`), so phones'
        deltas wait for one chunk at most. Each bad row is reported with its row and field and
        skipped; the run is recorded, dry runs too, and audited. A file of one chunk at most,
        or any with `wait=true`, is taken in within this request instead: 201 with the
        finished run."""
        # A large file takes a minute to arrive and be checked: the request's transaction (its
        # authentication) ends first, or it would hold back phones' deltas (and, on SQLite,
        # every writer) meanwhile.
        db.session.commit()
        upload, file_format, filename = read_upload(args.get("format"))
        config = current_app.config["FIELDVISIT"]
        wait = args["wait"]
        with upload:
            run = runs.queue_import(
                db.session, current_app.extensions["fieldvisit.blobs"], upload,
                kind=args["kind"], file_format=file_format, principal=current_principal(),
                filename=filename, dry_run=args["dry_run"], atomic=args["atomic"],
                as_of=args.get("as_of"), atomic_max_rows=config.import_atomic_max_rows)
        if wait is None:  # one chunk holds phones back no longer in a request than in a job
            wait = run.total <= config.import_chunk_rows
        if not wait and not current_app.extensions["fieldvisit.jobs"].in_process:
            runs.forget_upload(run.blob_key)  # a worker elsewhere reads the stored file
        job = ask_for_job(db.session, run, send=not wait)
        db.session.commit()
        run_id = run.id
        if not wait:
            return run, 202, {"Location": url_for("imports.ImportRunById", run_id=run_id)}
        jobs.run(db.session, job.id)
        return db.session.get(ImportRun, run_id, populate_existing=True), 201


@blp.route("/<int:run_id>")
class ImportRunById(MethodView):
    @auth_required(*IMPORT_ROLES)
    @blp.response(200, ImportRunSchema)
    @blp.alt_response(404, description="No such import run")
    def get(self, run_id):
        """One import run: its status, progress (`done` of `total`, `percent`), counts and row
        errors

        Poll it (every second or two) until `status` is done, failed or cancelled."""
        return _get_run(run_id)


@blp.route("/<int:run_id>/cancel")
class CancelImport(MethodView):
    @auth_required(*IMPORT_ROLES)
    @blp.response(200, ImportRunSchema)
    @blp.alt_response(404, description="No such import run")
    @blp.alt_response(409, description="`import_finished`: it is already done or failed")
    def post(self, run_id):
        """Cancel an import

        A queued import is cancelled at once; a running one stops after its current chunk
        (`cancel_requested` is true meanwhile), keeping the chunks it committed: importing the
        file again takes up the rest (what was taken in already counts as unchanged).
        Cancelling a cancelled import again is harmless."""
        run = _get_run(run_id)
        if (run.state in FINISHED and run.state != JobStatus.CANCELLED) or run.job is None:
            raise Conflict(f"The import has already finished ({run.state}).",
                           fields={"run_id": [f"already {run.state}"]}, code="import_finished")
        jobs.request_cancel(db.session, run.job)
        if run.job.status == JobStatus.CANCELLED and run.status == JobStatus.QUEUED:
            run.status, run.finished_at = JobStatus.CANCELLED, run.job.finished_at
            key, run.blob_key, run.repeats = run.blob_key, None, None
            runs.forget_upload(key)
            db.session.commit()
            if key:
                current_app.extensions["fieldvisit.blobs"].delete(key)
        db.session.commit()
        return run


def _get_run(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id)
    if run is None:
        raise NotFound("No such import run.")
    return run


def read_upload(format_hint: str | None) -> tuple[BinaryIO, str, str | None]:
    """The uploaded file (seekable: a large one lies in a temporary file), its format and
    file name (multipart only)."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput("Send the file as the form part named 'file'.",
                               fields={"file": ["missing"]})
        suffix = PurePath(upload.filename or "").suffix.lower().lstrip(".")
        file_format = format_hint or (suffix if suffix in ("json", "csv") else None) \
            or BODY_FORMATS.get(upload.mimetype)
        if file_format is None:
            raise InvalidInput("Say whether the file is JSON or CSV.",
                               fields={"format": ["give format=json or format=csv"]})
        return upload.stream, file_format, upload.filename or None
    if request.mimetype not in BODY_FORMATS:
        raise UnsupportedMediaType("Send the file as JSON, CSV or a multipart form.")
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (the caller's)
    shutil.copyfileobj(request.stream, spooled)
    spooled.seek(0)
    return spooled, BODY_FORMATS[request.mimetype], None
