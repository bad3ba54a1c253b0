"""Schemas shared by many endpoints: pagination."""

import marshmallow as ma

from api.extensions import Schema

MAX_PAGE = 10_000_000  # keeps the row offset within 64 bits at any page size
YEARS = (2000, 2099)  # dates and moments a supervisor may name (plans, targets, progress)


def in_years(value) -> None:
    """A date or datetime within `YEARS` (far dates overflow time-zone arithmetic)."""
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise ma.ValidationError(f"must be in the years {YEARS[0]} to {YEARS[1]}")


class PageArgsSchema(Schema):
    page = ma.fields.Integer(
        load_default=1,
        validate=ma.validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": "1-based page number"},
    )
    page_size = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))


class PageMetaSchema(Schema):
    page = ma.fields.Integer()
    page_size = ma.fields.Integer()
    total = ma.fields.Integer()
    pages = ma.fields.Integer()


def page_of(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A response schema `{items: [...], page: {...}}` named `name` in OpenAPI."""
    return type(
        name,
        (Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "page": ma.fields.Nested(PageMetaSchema),
        },
    )


def page_meta(page: int, page_size: int, total: int) -> dict:
    return {
        "page": page,
        "page_size": page_size,
        "total": total,
        "pages": (total + page_size - 1) // page_size,
    }


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into {"a.b.0.c": ["..."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                name = prefix or "_schema"
            out.update(flatten_messages(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for item in messages:
            out.update(flatten_messages(item, prefix))
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out
