"""The offline-sync protocol's requests and answers (see docs/sync.md)."""

import marshmallow as ma

from api.extensions import Schema

MAX_BATCH = 200  # mutations per push (docs/sync.md)
MAX_PUSH_BYTES = 8 * 1024 * 1024  # a push's body: 200 of the largest visit reports fit


class PullArgsSchema(Schema):
    cursor = ma.fields.String(
        validate=ma.validate.Length(max=512),
        metadata={"description": "the cursor of the previous page; omit to bootstrap"},
    )
    limit = ma.fields.Integer(load_default=300, validate=ma.validate.Range(min=1, max=1000))
    ref_version = ma.fields.String(
        validate=ma.validate.Length(max=64),
        metadata={
            "description": "version of the reference data the phone holds; a different one "
            "brings the current reference data"
        },
    )


class ChangeSchema(Schema):
    op = ma.fields.String(metadata={"example": "put", "description": "put | remove"})
    entity = ma.fields.String(metadata={"example": "case"})
    id = ma.fields.Integer(metadata={"example": 4711})
    data = ma.fields.Dict(metadata={"description": "the whole case document (put only)"})


class PullPageSchema(Schema):
    cursor = ma.fields.String(metadata={"example": "WzEsMSwidTciLCJkZWx0YSIsOTEyLDQ0LDBd"})
    has_more = ma.fields.Boolean()
    bootstrap = ma.fields.Boolean()
    last_mutation_id = ma.fields.Integer(
        metadata={"description": "every mutation of this device up to this id is committed"}
    )
    reference = ma.fields.Dict(
        metadata={"description": "present on bootstrap or when the phone's ref_version is stale"}
    )
    changes = ma.fields.List(ma.fields.Nested(ChangeSchema))


class MutationSchema(Schema):
    mutation_id = ma.fields.Integer(
        required=True,
        validate=ma.validate.Range(min=1),
        metadata={"description": "per device, 1, 2, 3… with no gaps, kept across restarts"},
    )
    type = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=40),
        metadata={"example": "contact_attempt"},
    )
    client_time = ma.fields.AwareDateTime(
        required=True,
        metadata={"description": "the phone's clock when the record was made (with offset)"},
    )
    payload = ma.fields.Dict(required=True)


class PushSchema(Schema):
    device_id = ma.fields.UUID(required=True)
    device_time = ma.fields.AwareDateTime(metadata={
        "description": "the phone's clock when sending; a large offset is flagged on records"})
    mutations = ma.fields.List(
        ma.fields.Nested(MutationSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_BATCH),
    )

    @ma.pre_load
    def at_most_a_batch(self, data, **kwargs):
        """Counted before any mutation is loaded: a huge list costs nothing to refuse."""
        mutations = data.get("mutations") if isinstance(data, dict) else None
        if isinstance(mutations, list) and len(mutations) > MAX_BATCH:
            raise ma.ValidationError(
                {"mutations": [f"at most {MAX_BATCH} per push; send the rest in another"]}
            )
        return data

    @ma.validates_schema
    def increasing(self, data, **kwargs):
        ids = [m["mutation_id"] for m in data.get("mutations", [])]
        if ids != sorted(set(ids)):
            raise ma.ValidationError({"mutations": ["mutation ids must increase strictly"]})


class MutationResultSchema(Schema):
    mutation_id = ma.fields.Integer()
    status = ma.fields.String(
        metadata={"description": "applied | duplicate | rejected | gap | not_applied"}
    )
    record_id = ma.fields.String()
    flags = ma.fields.List(ma.fields.String())
    code = ma.fields.String()
    message = ma.fields.String()
    fields = ma.fields.Dict()
    expected_mutation_id = ma.fields.Integer()
    original = ma.fields.Dict(metadata={"description": "duplicate: the first answer"})


class PushResultSchema(Schema):
    results = ma.fields.List(ma.fields.Nested(MutationResultSchema))
    last_mutation_id = ma.fields.Integer()
