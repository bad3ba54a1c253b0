"""One JSON error shape for every failure, and the one place domain errors become HTTP.

{"error": {"status": 422, "code": "validation_error", "message": "...",
           "fields": {"debtor.national_id": ["check digit should be X"]}}}
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, request
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from api.extensions import db
from api.services.compliance.breaches import RuleBreach
from api.services.compliance.refusals import record_refusal
from api.services.exceptions import DomainError
from schemas.common import flatten_messages

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "too_many_requests",
    503: "temporarily_unavailable",
}


def error_response(
    status: int, message: str, *, code: str | None = None, fields=None, headers=None,
    details: dict | None = None,
):
    body = {"status": status, "code": code or HTTP_CODES.get(status, "error"), "message": message}
    if fields:
        body["fields"] = fields
    body.update(details or {})
    response = jsonify({"error": body})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _log_refusal(breach: RuleBreach) -> None:
    """Keep the refusal (its own transaction: the refused work was rolled back)."""
    rule = request.url_rule.rule if request.url_rule else request.path
    try:
        record_refusal(db.session, breach, g.get("principal"), f"{request.method} {rule}")
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not log a refusal for rule %s", breach.rule)


def http_exception_response(error: HTTPException):
    """Render a werkzeug/flask-smorest HTTPException (webargs puts field errors in `data`)."""
    data = getattr(error, "data", None) or {}
    fields = None
    messages = data.get("messages")
    if messages:
        # webargs nests by location ("json", "query", "files"...); drop that level.
        if isinstance(messages, dict) and set(messages) <= {
            "json",
            "query",
            "form",
            "files",
            "headers",
            "view_args",
            "path",
        }:
            merged: dict = {}
            for value in messages.values():
                merged.update(flatten_messages(value))
            fields = merged
        else:
            fields = flatten_messages(messages)
    status = error.code or 500
    message = data.get("message") or error.description or HTTP_CODES.get(status, "error")
    if status == 422 and fields:
        message = "Some fields are not valid: " + ", ".join(sorted(fields))
    # The exception's own headers (Allow on 405, WWW-Authenticate, Retry-After...), not its HTML.
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    return error_response(status, message, fields=fields, headers=headers)


NOT_READY_RETRY_S = 30
SQLITE_BUSY_SNAPSHOT = 517
UNDEFINED_TABLE_OR_COLUMN = ("42P01", "42703")  # PostgreSQL SQLSTATEs


def schema_missing(error: DBAPIError) -> bool:
    """A table or column the code expects is not there: the database is not migrated."""
    if getattr(error.orig, "sqlstate", None) in UNDEFINED_TABLE_OR_COLUMN:
        return True
    return str(error.orig).startswith(("no such table", "no such column"))


def concurrent_change():
    return error_response(
        409,
        "Someone else changed this record at the same moment; reload it and try again.",
        code="conflict",
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        db.session.rollback()
        if isinstance(error, RuleBreach):
            _log_refusal(error)
        headers = {}
        if getattr(error, "retry_after", None):
            headers["Retry-After"] = str(error.retry_after)
        return error_response(
            error.status, error.message, code=error.code, fields=error.fields, headers=headers,
            details=error.details(),
        )

    @app.errorhandler(IntegrityError)
    def integrity_error(error: IntegrityError):
        db.session.rollback()
        log.info("integrity error: %s", type(error.orig).__name__)
        return error_response(409, "This clashes with an existing record.", code="conflict")

    @app.errorhandler(StaleDataError)
    def stale_data(error: StaleDataError):
        db.session.rollback()
        return concurrent_change()

    @app.errorhandler(DataError)
    def data_error(error: DataError):
        db.session.rollback()
        log.info("value refused by the database: %s", type(error.orig).__name__)
        return error_response(
            422, "A value is out of range or is not storable text.", code="invalid_value"
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(ProgrammingError)
    def operational_error(error: DBAPIError):
        db.session.rollback()
        if schema_missing(error):
            log.error("database not migrated: %s", type(error.orig).__name__)
            return error_response(
                503,
                "The database is not set up yet (run `fieldvisit db upgrade`); retry later.",
                code="database_not_ready",
                headers={"Retry-After": str(NOT_READY_RETRY_S)},
            )
        snapshot_stale = getattr(error.orig, "sqlite_errorcode", None) == SQLITE_BUSY_SNAPSHOT
        if snapshot_stale and request.method != "GET":
            return concurrent_change()  # what this edit read was changed and committed since
        if isinstance(error, ProgrammingError):
            return unexpected(error)
        log.warning("database unavailable: %s", type(error.orig).__name__)
        return error_response(
            503, "The database is busy; retry shortly.", headers={"Retry-After": "2"}
        )

    app.register_error_handler(HTTPException, http_exception_response)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        db.session.rollback()
        # The full traceback (SQL parameters are hidden: engine `hide_parameters`).
        log.error("unhandled %s", type(error).__name__, exc_info=error)
        return error_response(500, "Internal error.", code="internal_error")
