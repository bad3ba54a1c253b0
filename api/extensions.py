"""The ground floor: the SQLAlchemy base and `db`, and the project's flask-smorest subclasses."""

from __future__ import annotations

import flask_smorest
import marshmallow as ma
from flask import current_app, has_request_context
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from api.input_guards import GuardedParser, describe_size, guard_field, request_view
from schemas.errors import ErrorSchema
from schemas.openapi import ATTRIBUTE_FUNCTIONS

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Where a session keeps the PII cipher that seals the device documents it publishes at commit.
SESSION_CIPHER = "fieldvisit.cipher"
# Where a session keeps the audit key ring its audit appends are hashed with (the same name as
# api.services.identity.audit.SESSION_AUDIT_KEYS).
SESSION_AUDIT_KEYS = "fieldvisit.audit_keys"
# Set in a session's `info` (a background job's) to give it a request's SQLite write intent.
WRITE_INTENT = "fieldvisit.write_intent"


class AppSession(FlaskSession):
    """The application's session: the change-log hooks are bound to this class, and each
    session carries its app's PII cipher and audit keys in `info`, so a CLI command or a job
    publishes its changes and appends to the audit log exactly as a request does."""

    def __init__(self, db: SQLAlchemy, **kwargs):
        super().__init__(db, **kwargs)
        cipher = current_app.extensions.get("fieldvisit.pii")
        if cipher is not None:
            self.info[SESSION_CIPHER] = cipher
        audit_keys = current_app.extensions.get("fieldvisit.audit")
        if audit_keys is not None:
            self.info[SESSION_AUDIT_KEYS] = audit_keys

    def get_bind(self, *args, **kwargs):
        """On SQLite, a request's transactions take the write lock when they begin (see
        `sqlite_write_intent`), unless its view manages its own transactions."""
        bind = super().get_bind(*args, **kwargs)
        if bind.dialect.name == "sqlite" and (self.info.get(WRITE_INTENT) or (
                has_request_context() and not _owns_transactions())):
            return sqlite_write_intent(bind)
        return bind


def _owns_transactions() -> bool:
    """Whether the request's view sets `owns_transactions` (push: it commits the read of its
    authentication at once, and each mutation's transaction starts with a write)."""
    return getattr(request_view(), "owns_transactions", False)


def sqlite_write_intent(engine):
    """The engine whose SQLite transactions begin IMMEDIATE. Most requests write (an audited
    read appends to the audit log, a push records its ledger): a transaction that read first
    and writes later loses at once to any writer that committed in between ("database is
    locked", whatever the busy timeout), while one that takes the write lock up front just
    waits its turn. WAL readers are never blocked by it."""
    immediate = engine.__dict__.get("_fieldvisit_immediate")
    if immediate is None:
        immediate = engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        engine.__dict__["_fieldvisit_immediate"] = immediate
    return immediate


db = SQLAlchemy(model_class=Base, session_options={"class_": AppSession})


class Schema(ma.Schema):
    """Every API schema: unknown fields are an error, never silently dropped; text must be
    storable (no NUL, no lone surrogate) and integers must fit 64 bits (`api.input_guards`)."""

    class Meta:
        unknown = ma.RAISE
        ordered = True

    def on_bind_field(self, field_name: str, field_obj: ma.fields.Field) -> None:
        guard_field(field_obj)  # the instance's own copy of the field


ETAG_HEADER = {
    "description": "The version of what was read or written; send it back as `If-Match`",
    "schema": {"type": "string"},
}
IF_MATCH_HEADER = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "The ETag you last read: the update is refused (412) if it changed since. "
    "Optional (without it the update applies to whatever is current); compared weakly.",
    "schema": {"type": "string"},
}


class Blueprint(flask_smorest.Blueprint):
    """The project's Blueprint (one home for shared decorators)."""

    ARGUMENTS_PARSER = GuardedParser()

    def alt_response(self, status_code, response=None, *, schema=None, success=False, **kwargs):
        """An alternative response; an error one (4xx/5xx) has the one error body unless it
        names another, so a generated client parses every error alike."""
        if response is None and schema is None and not success and int(status_code) >= 400:
            schema = ErrorSchema
        return super().alt_response(
            status_code, response, schema=schema, success=success, **kwargs
        )

    def response(self, status_code, schema=None, *, etag: bool = False, headers=None, **kw):
        """A success response; `etag=True` documents the ETag it carries (`api.etags`)."""
        if etag:
            headers = {**(headers or {}), "ETag": ETAG_HEADER}
        return super().response(status_code, schema, headers=headers, **kw)

    def if_match(self):
        """Document an update's optional `If-Match` and its 412 (`api.etags`)."""

        def decorator(func):
            func = self.doc(parameters=[IF_MATCH_HEADER])(func)
            return self.alt_response(
                412, description="`If-Match` names a version that is no longer current: "
                "someone else changed it; read it again (nothing was changed)"
            )(func)

        return decorator

    def body_limit(self, max_bytes: int):
        """Declare the largest body a view method accepts (otherwise the app's
        `max_content_length`); a larger one is 413 before it is read."""

        def decorator(func):
            func.max_body_bytes = max_bytes
            return self.alt_response(
                413, description=f"The body is larger than {describe_size(max_bytes)}"
            )(func)

        return decorator


class Api(flask_smorest.Api):
    """The project's Api; errors are rendered by `api.errors`, documented with ErrorSchema."""

    ERROR_SCHEMA = ErrorSchema

    def _init_spec(self, **kwargs):
        super()._init_spec(**kwargs)
        for function in ATTRIBUTE_FUNCTIONS:  # the project's fields in the spec
            self.ma_plugin.converter.add_attribute_function(function)
