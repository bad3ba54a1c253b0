"""Complaints about a case: recording one, the list's filters, handling and closing it."""

import marshmallow as ma

from api.extensions import Schema
from api.models import Complainant, ComplaintCategory, ComplaintChannel, ComplaintStatus
from schemas.common import PageArgsSchema, in_years, page_of
from schemas.records import MAX_ID, row_id


class ComplaintCreateSchema(Schema):
    """A complaint as it was received."""

    case_id = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=MAX_ID),
        metadata={"description": "the case complained about"})
    received_at = ma.fields.AwareDateTime(required=True, validate=in_years)
    channel = ma.fields.Enum(ComplaintChannel, by_value=True, required=True)
    complainant = ma.fields.Enum(
        Complainant, by_value=True, required=True,
        metadata={"description": "the debtor, one of their contacts (`contact_id`), or "
                  "anybody else (`complainant_name`)"})
    contact_id = row_id("with complainant `contact`: which of the debtor's contacts")
    complainant_name = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "with complainant `other`: who complained"})
    summary = ma.fields.String(
        required=True, validate=ma.validate.Length(min=3, max=4000),
        metadata={"example": "Collector called the debtor's employer and named the debt."})
    category = ma.fields.Enum(ComplaintCategory, by_value=True, required=True)


class ComplaintQuerySchema(PageArgsSchema):
    status = ma.fields.List(
        ma.fields.Enum(ComplaintStatus, by_value=True),
        metadata={"description": "repeat to match any of several", "example": ["open"]})
    team_id = row_id("complaints about the team's cases")
    case_id = row_id("complaints about one case")


class ComplaintUpdateSchema(Schema):
    """Handle a complaint: any of assign, note and close, in that order (none: no change)."""

    assignee_id = row_id("who handles it: a supervisor of the case's team, legal staff or an "
                         "administrator (the status becomes `assigned`)")
    note = ma.fields.String(validate=ma.validate.Length(min=1, max=4000),
                            metadata={"description": "a note on the handling, kept in order"})
    status = ma.fields.Enum(
        ComplaintStatus, by_value=True, validate=ma.validate.Equal(ComplaintStatus.CLOSED),
        metadata={"description": "`closed` (with `outcome`) closes it, lifting the dispatch "
                  "block"})
    outcome = ma.fields.String(validate=ma.validate.Length(min=3, max=4000),
                               metadata={"example": "Apology sent; collector retrained."})


class ComplaintNoteSchema(Schema):
    id = ma.fields.Integer()
    author_id = ma.fields.Integer()
    text = ma.fields.String()
    created_at = ma.fields.AwareDateTime()


class ComplaintSchema(Schema):
    id = ma.fields.Integer(required=True)
    case_id = ma.fields.Integer(required=True)
    team_id = ma.fields.Integer(allow_none=True, attribute="case.team_id")
    received_at = ma.fields.AwareDateTime()
    channel = ma.fields.Enum(ComplaintChannel, by_value=True)
    complainant = ma.fields.Enum(Complainant, by_value=True)
    contact_id = ma.fields.Integer(allow_none=True)
    complainant_name = ma.fields.String(allow_none=True)
    summary = ma.fields.String()
    category = ma.fields.Enum(ComplaintCategory, by_value=True)
    status = ma.fields.Enum(ComplaintStatus, by_value=True)
    assignee_id = ma.fields.Integer(allow_none=True)
    outcome = ma.fields.String(allow_none=True)
    closed_at = ma.fields.AwareDateTime(allow_none=True)
    closed_by_id = ma.fields.Integer(allow_none=True)
    recorded_by_id = ma.fields.Integer()
    recorded_at = ma.fields.AwareDateTime()
    notes = ma.fields.List(ma.fields.Nested(ComplaintNoteSchema))


ComplaintPageSchema = page_of(ComplaintSchema, "ComplaintPage")
