"""Lender imports: the upload's query arguments and the record of each run."""

import json

import marshmallow as ma

from api.extensions import Schema
from schemas.common import PageArgsSchema, page_of

KINDS = ("cases", "payments")
STATUSES = ("queued", "running", "done", "failed", "cancelled")


class ImportArgsSchema(Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS), metadata={
        "description": "cases: the full case file (upsert); payments: payments and balances"})
    dry_run = ma.fields.Boolean(load_default=False, metadata={
        "description": "check and count what would change, save nothing"})
    atomic = ma.fields.Boolean(load_default=False, metadata={
        "description": "any row error and nothing is saved"})
    as_of = ma.fields.Date(metadata={
        "description": "date the figures are computed for; default: the file's as_of, "
                       "else today in Asia/Shanghai"})
    format = ma.fields.String(validate=ma.validate.OneOf(("json", "csv")), metadata={
        "description": "for a multipart upload whose file name ends in neither .json nor .csv"})
    wait = ma.fields.Boolean(load_default=None, metadata={
        "description": "true: run the import in this request and answer 201 with the "
                       "finished run; false: answer 202 at once and run it as a job; "
                       "default: a file of one chunk at most (FIELDVISIT_IMPORT_CHUNK_ROWS "
                       "records, 2,000) runs in the request, a larger one as a job"})


class ImportRunQuerySchema(PageArgsSchema):
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))


class ImportRowErrorSchema(Schema):
    row = ma.fields.Integer(allow_none=True, metadata={
        "description": "position in the JSON list (from 1), or the CSV line (header = 1)"})
    contract_no = ma.fields.String(allow_none=True, metadata={"example": "HT-2025-000123"})
    field = ma.fields.String(metadata={"example": "debtor.national_id"})
    message = ma.fields.String(metadata={"example": "check digit should be 2, not 3"})


class ImportRunSummarySchema(Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"example": "cases"})
    file_format = ma.fields.String(metadata={"example": "json"})
    filename = ma.fields.String(allow_none=True)
    sha256 = ma.fields.String(metadata={"description": "SHA-256 of the uploaded bytes"})
    dry_run = ma.fields.Boolean()
    started_by_id = ma.fields.Integer(allow_none=True)
    started_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)
    status = ma.fields.String(metadata={
        "description": "queued, running, done, failed or cancelled", "example": "running"})
    done = ma.fields.Integer(metadata={"description": "records read and committed so far"})
    total = ma.fields.Integer(allow_none=True, metadata={"description": "records in the file"})
    percent = ma.fields.Float(allow_none=True, metadata={"example": 42.0})
    atomic = ma.fields.Boolean()
    job_id = ma.fields.Integer(allow_none=True, metadata={
        "description": "its background job (`GET /jobs/{id}`)"})
    cancel_requested = ma.fields.Boolean(metadata={
        "description": "asked to stop; it does at its next chunk"})
    error = ma.fields.String(allow_none=True, metadata={
        "description": "why a failed run stopped (a sentence; the chunks committed stay)"})
    rows = ma.fields.Integer(metadata={"description": "records read (cases, or payments and "
                                                      "balances)"})
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    unchanged = ma.fields.Integer()
    error_count = ma.fields.Integer(metadata={
        "description": "row errors; an atomic run with any error saved nothing (counts are 0)"})

    @ma.pre_dump
    def _parse_errors(self, run, **kwargs):
        errors = json.loads(run.errors or "[]")
        view = {name: getattr(run, name) for name in (
            "id", "kind", "file_format", "filename", "sha256", "dry_run", "atomic",
            "started_by_id", "started_at", "finished_at", "done", "total", "percent", "job_id",
            "rows", "created", "updated", "unchanged")}
        job = run.job
        return view | {"errors": errors, "error_count": len(errors), "status": run.state,
                       "cancel_requested": bool(job and job.cancel_requested),
                       "error": job.error if job is not None else None}


class ImportRunSchema(ImportRunSummarySchema):
    errors = ma.fields.List(ma.fields.Nested(ImportRowErrorSchema))


ImportRunPageSchema = page_of(ImportRunSummarySchema, "ImportRunPage")
