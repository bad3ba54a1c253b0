"""Background jobs: their state, progress and result."""

import marshmallow as ma

from api.extensions import Schema
from api.models import JobStatus
from schemas.common import PageArgsSchema, page_of

STATUSES = [s.value for s in JobStatus]


class JobQuerySchema(PageArgsSchema):
    kind = ma.fields.String(validate=ma.validate.Length(min=1, max=40), metadata={
        "description": "`evidence_pack`, `retention_purge`, `import`, ...",
        "example": "evidence_pack"})
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))


class JobSchema(Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"example": "evidence_pack"})
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES), metadata={
        "description": "queued → running → done | failed | cancelled"})
    done = ma.fields.Integer(metadata={"description": "units of work done (files, cases, rows)"})
    total = ma.fields.Integer(allow_none=True, metadata={"description": "of this many, once known"})
    percent = ma.fields.Float(allow_none=True, metadata={"example": 42.5})
    cancel_requested = ma.fields.Boolean()
    created_by_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    error = ma.fields.String(allow_none=True, metadata={
        "description": "why it failed, in a sentence (never the data it was working on)"})
    result = ma.fields.Dict(allow_none=True, metadata={
        "description": "what the job made, once done; by kind (docs/jobs.md)"})


JobPageSchema = page_of(JobSchema, "JobPage")


class PurgeRunSchema(Schema):
    dry_run = ma.fields.Boolean(required=True, metadata={
        "description": "true: say what would be purged and change nothing (the job's result); "
                       "false: purge", "example": True})
