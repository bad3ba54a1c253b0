"""The push mutation contract as the spec shows it: one component per mutation type (its `type`,
the envelope and its payload schema from `mobile_sync.registry.MUTATIONS`), gathered into a
`oneOf` discriminated by `type`.

The request itself is loaded by the generic `MutationSchema` (any type, any payload object), so
an unknown type or a bad payload is answered `rejected` for that mutation by push, never a 422
for the whole batch. The typed components are the documentation of what push accepts."""

from __future__ import annotations

import functools

import marshmallow as ma

from api.extensions import Schema
from mobile_sync.registry import MUTATIONS


def mutation_id_field() -> ma.fields.Integer:
    return ma.fields.Integer(
        required=True,
        validate=ma.validate.Range(min=1),
        metadata={"description": "per device, 1, 2, 3… with no gaps, kept across restarts"},
    )


def client_time_field() -> ma.fields.AwareDateTime:
    return ma.fields.AwareDateTime(
        required=True,
        metadata={"description": "the phone's clock when the record was made (with offset)"},
    )


class MutationSchema(Schema):
    """One outbox entry as push loads it: the payload is checked by push against its type."""

    mutation_id = mutation_id_field()
    type = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=40),
        metadata={"example": "contact_attempt"},
    )
    client_time = client_time_field()
    payload = ma.fields.Dict(required=True)


def component_name(type_name: str) -> str:
    """`visit_report` → `VisitReportMutation` (the spec component of that type)."""
    return "".join(part.title() for part in type_name.split("_")) + "Mutation"


def _typed_schema(type_name: str, payload: type[ma.Schema]) -> type[Schema]:
    return Schema.from_dict(
        {
            "mutation_id": mutation_id_field(),
            "type": ma.fields.String(required=True, validate=ma.validate.OneOf([type_name])),
            "client_time": client_time_field(),
            "payload": ma.fields.Nested(payload, required=True),
        },
        name=component_name(type_name) + "Schema",
    )


# One schema per mutation type, in the dispatch table's order.
TYPED_SCHEMAS: dict[str, type[Schema]] = {
    name: _typed_schema(name, kind.schema) for name, kind in MUTATIONS.items()
}

CONTRACT = (
    "One of the mutation types, chosen by `type` (each type's component gives its payload). "
    "The batch is only refused (422) when an entry lacks `mutation_id`, `type`, `client_time` "
    "or an object `payload`; an unknown type or a payload that does not match its schema is "
    "answered `rejected` for that mutation, with `fields` naming what is wrong."
)


class MutationField(ma.fields.Field):
    """An outbox entry: loaded by `MutationSchema`, documented as the typed `oneOf`."""

    def __init__(self, **kwargs):
        metadata = {
            "description": CONTRACT,
            "one_of": list(TYPED_SCHEMAS.values()),
            "discriminator": ("type", TYPED_SCHEMAS),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return _entry_schema().load(value)


@functools.cache
def _entry_schema() -> MutationSchema:
    """One instance for every entry of every push (a load keeps no state in it)."""
    return MutationSchema()
