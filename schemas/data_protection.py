"""Legal holds and data-subject requests (legal staff and administrators)."""

import marshmallow as ma

from api.extensions import Schema
from api.models import HoldKind, ProposalKind, SubjectRequestKind, SubjectRequestStatus
from schemas.common import PageArgsSchema, in_years, page_of
from schemas.fieldwork import PROPOSAL_SCHEMAS


class HoldCreateSchema(Schema):
    kind = ma.fields.Enum(HoldKind, by_value=True, required=True)
    reference = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "the court's or the order's file number",
                  "example": "(2026)粤0304民初12345号"})
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=400))


class HoldReleaseSchema(Schema):
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=400))


class HoldQuerySchema(PageArgsSchema):
    case_id = ma.fields.Integer()
    active = ma.fields.Boolean(metadata={"description": "true: not released; false: released"})
    kind = ma.fields.Enum(HoldKind, by_value=True)


class HoldSchema(Schema):
    id = ma.fields.Integer()
    case_id = ma.fields.Integer()
    kind = ma.fields.Enum(HoldKind, by_value=True)
    reference = ma.fields.String()
    note = ma.fields.String(allow_none=True)
    placed_by_id = ma.fields.Integer()
    placed_at = ma.fields.DateTime()
    released_by_id = ma.fields.Integer(allow_none=True)
    released_at = ma.fields.DateTime(allow_none=True)
    release_note = ma.fields.String(allow_none=True)
    active = ma.fields.Function(lambda h: h.released_at is None)


HoldPageSchema = page_of(HoldSchema, "LegalHoldPage")


class CorrectionSchema(Schema):
    kind = ma.fields.Enum(ProposalKind, by_value=True, required=True)
    data = ma.fields.Dict(
        required=True,
        metadata={"description": "the corrected phone, address or contact (by `kind`), as a "
                  "field proposal carries it", "one_of": list(PROPOSAL_SCHEMAS.values())})

    @ma.post_load
    def load_corrected(self, data, **kwargs):
        try:
            data["data"] = PROPOSAL_SCHEMAS[data["kind"]]().load(data["data"])
        except ma.ValidationError as exc:
            raise ma.ValidationError({"data": exc.normalized_messages()}) from exc
        return data


class SubjectRequestCreateSchema(Schema):
    kind = ma.fields.Enum(SubjectRequestKind, by_value=True, required=True)
    debtor_id = ma.fields.Integer(metadata={"description": "the subject; or name a case"})
    case_id = ma.fields.Integer(metadata={"description": "one of the subject's cases"})
    requested_by = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "who asked: the debtor, their lawyer…", "example": "the debtor"})
    received_at = ma.fields.AwareDateTime(required=True, validate=in_years)
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=400))
    correction = ma.fields.Nested(CorrectionSchema, load_default=None,
                                  metadata={"description": "what to correct (corrections only)"})

    @ma.validates_schema
    def names_a_subject(self, data, **kwargs):
        if data.get("debtor_id") is None and data.get("case_id") is None:
            message = ["name the debtor or one of their cases"]
            raise ma.ValidationError({"debtor_id": message, "case_id": message})


class SubjectRequestQuerySchema(PageArgsSchema):
    kind = ma.fields.Enum(SubjectRequestKind, by_value=True)
    status = ma.fields.Enum(SubjectRequestStatus, by_value=True)
    debtor_id = ma.fields.Integer()


class SubjectRequestSchema(Schema):
    id = ma.fields.Integer()
    kind = ma.fields.Enum(SubjectRequestKind, by_value=True)
    debtor_id = ma.fields.Integer()
    case_id = ma.fields.Integer(allow_none=True)
    requested_by = ma.fields.String()
    received_at = ma.fields.DateTime()
    note = ma.fields.String(allow_none=True)
    handled_by_id = ma.fields.Integer()
    status = ma.fields.Enum(SubjectRequestStatus, by_value=True)
    outcome = ma.fields.String(allow_none=True)
    refused_rule = ma.fields.String(allow_none=True)
    proposal_id = ma.fields.String(
        allow_none=True,
        metadata={"description": "a correction's proposal: review it at /proposals/{id}/review"})
    created_at = ma.fields.DateTime()
    closed_at = ma.fields.DateTime(allow_none=True)


SubjectRequestPageSchema = page_of(SubjectRequestSchema, "SubjectRequestPage")


class SubjectExportSchema(Schema):
    """The export document; its parts are the stored rows, column by column."""

    format = ma.fields.String(metadata={"example": "fieldvisit.subject-export/1"})
    generated_at = ma.fields.String()
    request_id = ma.fields.Integer()
    debtor = ma.fields.Dict()
    contacts = ma.fields.List(ma.fields.Dict())
    addresses = ma.fields.List(ma.fields.Dict())
    cases = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "each case with its schedule, payments, collateral, assignments, legal "
                       "holds, field records and evidence files (metadata and SHA-256)"})
    reads = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "the audit rows of every read of the debtor's data"})
