"""The ground floor: the SQLAlchemy base and `db`, and the project's flask-smorest subclasses."""

from __future__ import annotations

import flask_smorest
import marshmallow as ma
from flask import current_app
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from api.input_guards import GuardedParser, describe_size, guard_field
from schemas.errors import ErrorSchema

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


class AppSession(FlaskSession):
    """The application's session: the change-log hooks are bound to this class, and each
    session carries its app's PII cipher in `info`, so a CLI command or a job publishes its
    changes exactly as a request does."""

    def __init__(self, db: SQLAlchemy, **kwargs):
        super().__init__(db, **kwargs)
        cipher = current_app.extensions.get("fieldvisit.pii")
        if cipher is not None:
            self.info[SESSION_CIPHER] = cipher


db = SQLAlchemy(model_class=Base, session_options={"class_": AppSession})


class Schema(ma.Schema):
    """Every API schema: unknown fields are an error, never silently dropped; text must be
    storable (no NUL, no lone surrogate) and integers must fit 64 bits (`api.input_guards`)."""

    class Meta:
        unknown = ma.RAISE
        ordered = True

    def on_bind_field(self, field_name: str, field_obj: ma.fields.Field) -> None:
        guard_field(field_obj)  # the instance's own copy of the field


class Blueprint(flask_smorest.Blueprint):
    """The project's Blueprint (one home for shared decorators)."""

    ARGUMENTS_PARSER = GuardedParser()

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
