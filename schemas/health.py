"""Liveness and readiness bodies (for load balancers and orchestrators)."""

import marshmallow as ma

from api.extensions import Schema

STATES = ("ok", "failing")


class LivenessSchema(Schema):
    status = ma.fields.String(metadata={"example": "ok"})


class CheckSchema(Schema):
    state = ma.fields.String(validate=ma.validate.OneOf(STATES), metadata={"example": "ok"})
    detail = ma.fields.String(metadata={"example": "at revision ae731127ba76"})


class ReadinessChecksSchema(Schema):
    database = ma.fields.Nested(CheckSchema, metadata={
        "description": "Answers, and is at the newest migration of this code"})
    blob_store = ma.fields.Nested(CheckSchema, metadata={
        "description": "The file store answers (the directory is writable; S3: the bucket "
                       "answers HEAD)"})


class ReadinessSchema(Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(("ready", "not_ready")),
                              metadata={"example": "ready"})
    checks = ma.fields.Nested(ReadinessChecksSchema)
