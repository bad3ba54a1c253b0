"""What no request may carry past the edge: text the database cannot store (NUL, lone
surrogates), integers no column holds, JSON nested absurdly deep, and bodies larger than the
route needs. Each is a 4xx in the one error shape, before any service sees the request."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from flask import Flask, current_app, request
from flask_smorest import abort
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter, ValidationError

KiB, MiB = 1024, 1024 * 1024
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
CREDENTIALS_BODY = 4 * KiB  # login, refresh, cosign: a name, a password, a device
MAX_JSON_DEPTH = 64  # the deepest legitimate body (a promise's signature strokes) is about 8

NUL_MESSAGE = "must not contain a NUL character"
SURROGATE_MESSAGE = "must not contain a lone surrogate (not valid UTF-8)"


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text (PostgreSQL refuses NUL, UTF-8 has no lone
    surrogates), or None."""
    if "\x00" in value:
        return NUL_MESSAGE
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE_MESSAGE
    return None


def storable_text(value: Any) -> None:
    """A marshmallow validator for every String field (bound in `api.extensions.Schema`)."""
    if isinstance(value, str) and (problem := text_problem(value)):
        raise ma.ValidationError(problem)


def int64(value: Any) -> None:
    """A validator for every Integer field: what a BIGINT column holds. (A function, not a
    `Range`, so the OpenAPI document is not filled with the bounds of every response field.)"""
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise ma.ValidationError("must be between -2^63 and 2^63-1 (a 64-bit integer)")


def guard_field(field: ma.fields.Field) -> None:
    """Attach the edge validators to a field and to the fields inside a list, tuple or dict."""
    guard = storable_text if isinstance(field, ma.fields.String) else (
        int64 if isinstance(field, ma.fields.Integer) else None)
    if guard is not None and guard not in field.validators:  # a field may be bound twice
        field.validators.append(guard)
    inner = []
    if isinstance(field, ma.fields.List):
        inner = [field.inner]
    elif isinstance(field, ma.fields.Tuple):
        inner = list(field.tuple_fields)
    elif isinstance(field, ma.fields.Mapping):
        inner = [f for f in (field.key_field, field.value_field) if f is not None]
    for f in inner:
        guard_field(f)


# --------------------------------------------------------------------------- JSON bodies


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether parsed JSON nests deeper than `limit` (iterative: no recursion of our own)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in node if isinstance(child, dict | list))
    return False


def parse_json_body(data: bytes) -> Any:
    """Parse a request body; anything Python's parser chokes on is a ValueError with a
    message a client can act on (bad UTF-8, a number of thousands of digits, deep nesting)."""
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("The body is not UTF-8.") from None
    except RecursionError:
        raise ValueError(f"The body nests deeper than {MAX_JSON_DEPTH} levels.") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"The body is not JSON: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}.") from None
    except ValueError as exc:  # e.g. Python's limit on digits of an integer
        raise ValueError(f"The body is not acceptable JSON: {str(exc)[:120]}") from None
    if too_deep(value):
        raise ValueError(f"The body nests deeper than {MAX_JSON_DEPTH} levels.")
    return value


class GuardedParser(FlaskParser):
    """webargs' Flask parser, reading JSON bodies through `parse_json_body` (webargs handles
    only JSONDecodeError; a RecursionError or an int-string limit would be a 500). Unknown
    query parameters are refused like unknown body fields (webargs would drop them silently,
    so a misspelt filter would list everything)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None, "querystring": None}

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        try:
            return parse_json_body(req.get_data(cache=True))
        except ValueError as exc:
            abort(400, message=str(exc), messages={"json": [str(exc)]})


# --------------------------------------------------------------------------- paths


class RowIdConverter(IntegerConverter):
    """`<int:...>` in a route: a row id, at most 2^63-1; anything longer is no route (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        if len(value) > len(str(INT64_MAX)):
            raise ValidationError()
        return super().to_python(value)


def check_path_values(_endpoint: str | None, values: dict | None) -> None:
    """Text in a path (`<string:...>`, `<path:...>`) obeys the same rule as text in a body."""
    for name, value in (values or {}).items():
        if isinstance(value, str) and (problem := text_problem(value)):
            abort(422, messages={"path": {name: [problem]}})


# --------------------------------------------------------------------------- body size


def request_view():
    """The matched view: its MethodView class, or the plain view function (None: no route)."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(view, "view_class", view)


def body_limit_of_view() -> int | None:
    """The body limit the matched view declares (`Blueprint.body_limit`), or None."""
    view = request_view()
    method = getattr(view, request.method.lower(), None) if isinstance(view, type) else view
    return getattr(method, "max_body_bytes", None)


def enforce_body_limit() -> None:
    """413 before a byte of the body is read: by Content-Length when it is sent, and by the
    request's stream limit (`max_content_length`) for chunked bodies."""
    limit = body_limit_of_view()
    if limit is not None:
        request.max_content_length = limit
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge(
            f"The body is larger than this endpoint accepts ({describe_size(limit)})."
        )


def describe_size(size: int) -> str:
    if size % MiB == 0:
        return f"{size // MiB} MiB"
    if size % KiB == 0:
        return f"{size // KiB} KiB"
    return f"{size} bytes"


def install(app: Flask) -> None:
    """Bounded integer path segments, text checks on path values, body limits."""
    app.url_map.converters["int"] = RowIdConverter
    app.url_value_preprocessor(check_path_values)
    app.before_request(enforce_body_limit)
