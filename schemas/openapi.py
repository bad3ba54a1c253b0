"""How the project's fields render in the spec beyond what apispec does by itself: attribute
functions bound to apispec's converter (registered by `api.extensions.Api`). They only shape the
documentation; loading stays each field's own business."""

from __future__ import annotations

import marshmallow as ma


def one_of2properties(self, field: ma.fields.Field, **kwargs) -> dict:
    """A field documented as one of several schemas: `metadata={"one_of": [SchemaA, …]}`, and
    optionally `"discriminator": (property, {value: Schema})`."""
    alternatives = field.metadata.get("one_of")
    if not alternatives:
        return {}
    ret: dict = {"oneOf": [self.resolve_nested_schema(s) for s in alternatives]}
    if "discriminator" in field.metadata:
        prop, mapping = field.metadata["discriminator"]
        refs = {value: self.resolve_nested_schema(s)["$ref"] for value, s in mapping.items()}
        ret["discriminator"] = {"propertyName": prop, "mapping": refs}
    return ret


def enum2type(self, field: ma.fields.Field, ret: dict, **kwargs) -> dict:
    """An `Enum` field loaded by value has no type of its own; a string enum says `string`."""
    if (
        isinstance(field, ma.fields.Enum)
        and "type" not in ret
        and all(isinstance(member.value, str) for member in field.enum)
    ):
        return {"type": "string"}
    return {}


ATTRIBUTE_FUNCTIONS = (one_of2properties, enum2type)
