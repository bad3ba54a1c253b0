"""A debtor's declared blackouts: times and places off limits for visits and contacts."""

from __future__ import annotations

import json
import re

import marshmallow as ma

from api.extensions import Schema
from api.models import AddressKind, BlackoutKind
from schemas.common import PageArgsSchema, page_of

_HHMM = re.compile(r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")


def _clock(value: str) -> None:
    if not _HHMM.match(value):
        raise ma.ValidationError("must be HH:MM, 00:00 to 24:00")


class BlackoutInSchema(Schema):
    kind = ma.fields.Enum(BlackoutKind, by_value=True, required=True,
                          metadata={"description": "time: anywhere then; place: at that place"})
    weekdays = ma.fields.List(
        ma.fields.Integer(validate=ma.validate.Range(min=1, max=7)), load_default=list,
        validate=ma.validate.Length(max=7),
        metadata={"description": "ISO weekdays, 1 Monday … 7 Sunday; none: every day"})
    local_start = ma.fields.String(
        load_default=None, validate=_clock,
        metadata={"description": "debtor-local HH:MM; with local_end, or neither: all day"})
    local_end = ma.fields.String(load_default=None, validate=_clock,
                                 metadata={"description": "debtor-local HH:MM, 24:00 ends the day"})
    address_kind = ma.fields.Enum(AddressKind, by_value=True, load_default=None,
                                  metadata={"description": "place: every address of this kind"})
    address_id = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1),
                                   metadata={"description": "place: this address of the debtor"})
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=400),
                            metadata={"description": "what the debtor said"})


class BlackoutSchema(Schema):
    id = ma.fields.Integer()
    debtor_id = ma.fields.Integer()
    kind = ma.fields.Enum(BlackoutKind, by_value=True)
    weekdays = ma.fields.Method("_weekdays", metadata={"description": "ISO weekdays; [] every day"})
    local_start = ma.fields.String(allow_none=True)
    local_end = ma.fields.String(allow_none=True)
    address_kind = ma.fields.Enum(AddressKind, by_value=True, allow_none=True)
    address_id = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(allow_none=True)
    recorded_by_id = ma.fields.Integer()
    recorded_at = ma.fields.DateTime()

    def _weekdays(self, row) -> list[int]:
        return json.loads(row.weekdays)


BlackoutPageSchema = page_of(BlackoutSchema, "BlackoutPage")
BlackoutQuerySchema = PageArgsSchema
