"""The ground floor: the SQLAlchemy base and `db`, and the project's flask-smorest subclasses."""

from __future__ import annotations

import flask_smorest
import marshmallow as ma
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

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


db = SQLAlchemy(model_class=Base)


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
