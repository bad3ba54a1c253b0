"""The ground floor: the SQLAlchemy base and `db`, and the project's flask-smorest subclasses."""

from __future__ import annotations

import flask_smorest
import marshmallow as ma
from flask import current_app
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

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
    """Every API schema: unknown fields are an error, never silently dropped."""

    class Meta:
        unknown = ma.RAISE
        ordered = True


class Blueprint(flask_smorest.Blueprint):
    """The project's Blueprint (one home for shared decorators)."""


class Api(flask_smorest.Api):
    """The project's Api; errors are rendered by `api.errors`, documented with ErrorSchema."""

    ERROR_SCHEMA = ErrorSchema

    def _init_spec(self, **kwargs):
        super()._init_spec(**kwargs)
        for function in ATTRIBUTE_FUNCTIONS:  # the project's fields in the spec
            self.ma_plugin.converter.add_attribute_function(function)
