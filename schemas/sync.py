"""The offline-sync protocol's requests and answers (see docs/sync.md)."""

import marshmallow as ma

from api.extensions import Schema
from api.models import (
    AddressKind,
    Channel,
    ContactOutcome,
    EvidenceKind,
    NextStep,
    ProposalKind,
    Relation,
    VisitOutcome,
    vocabulary,
)
from api.services.geo import DATUMS
from schemas.mutations import MutationField
from schemas.policies import PolicyRulesSchema

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
    op = ma.fields.String(
        validate=ma.validate.OneOf(["put", "remove"]),
        metadata={"example": "put", "description": "`put` the whole document, or `remove` it"},
    )
    entity = ma.fields.String(
        metadata={"example": "case", "description": "`case`, or `route` (a route plan of the "
                  "collector's; docs/sync.md): ids are unique per entity"}
    )
    id = ma.fields.Integer(metadata={"example": 4711})
    data = ma.fields.Dict(metadata={"description": "the whole document (put only)"})


def _codes(values, used_by: str) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(list(values))),
        required=True,
        metadata={"description": f"the values of {used_by}"},
    )


def _labelled(table: dict[str, str], description: str) -> ma.fields.Dict:
    """A code → label table: every code is a property, so the spec lists them."""
    return ma.fields.Dict(
        required=True,
        metadata={
            "description": description,
            "properties": {
                code: {"type": "string", "example": label} for code, label in table.items()
            },
            "required": list(table),
            "additionalProperties": False,
        },
    )


class PhonePolicyVersionSchema(Schema):
    version = ma.fields.Integer(required=True)
    effective_from = ma.fields.AwareDateTime(required=True)
    rules = ma.fields.Nested(PolicyRulesSchema, required=True)


class PhonePolicySchema(Schema):
    """A policy and its versions in effect from now on; `id` null: a built-in preset."""

    id = ma.fields.Integer(required=True, allow_none=True)
    name = ma.fields.String(required=True, metadata={"example": "cn-default"})
    jurisdiction = ma.fields.String(required=True, metadata={"example": "CN"})
    lender = ma.fields.String(required=True, metadata={"example": "*"})
    versions = ma.fields.List(ma.fields.Nested(PhonePolicyVersionSchema), required=True)


class ReferenceDataSchema(Schema):
    """The closed vocabularies a phone files with, and the policy it is held to."""

    version = ma.fields.String(
        required=True, metadata={"description": "send it back as `ref_version`"}
    )
    channels = _codes((c.value for c in Channel), "`contact_attempt.channel`")
    contact_outcomes = _codes((o.value for o in ContactOutcome), "`contact_attempt.outcome`")
    delinquency_reasons = _labelled(
        vocabulary.DELINQUENCY_REASONS, "`visit_report.reason`: code → label"
    )
    unreachable_reasons = _labelled(
        vocabulary.UNREACHABLE_REASONS, "`reachability.reason`: code → label"
    )
    relations = _codes((r.value for r in Relation), "a proposed contact's `relation`")
    address_kinds = _codes((k.value for k in AddressKind), "a proposed address's `kind`")
    proposal_kinds = _codes((k.value for k in ProposalKind), "`field_proposal.kind`")
    visit_outcomes = _codes((o.value for o in VisitOutcome), "`visit_report.outcome`")
    met = _codes(vocabulary.MET, "`visit_report.met`")
    next_steps = _codes((s.value for s in NextStep), "`visit_report.next_step`")
    file_kinds = _codes((k.value for k in EvidenceKind), "a file declaration's `kind`")
    file_mimes = _codes(vocabulary.FILE_MIMES, "a file declaration's `mime`")
    notice_types = _codes(vocabulary.NOTICE_TYPES, "`notice_served.notice_type`")
    served_to_roles = _codes(vocabulary.SERVED_TO_ROLES, "`notice_served.served_to_role`")
    service_methods = _codes(vocabulary.SERVICE_METHODS, "`notice_served.method`")
    promise_methods = _codes(vocabulary.PROMISE_METHODS, "`repayment_promise.method`")
    receipt_methods = _codes(vocabulary.RECEIPT_METHODS, "`field_receipt.method`")
    fix_providers = _codes(vocabulary.FIX_PROVIDERS, "a GPS fix's `provider`")
    datums = _codes(DATUMS, "the datum of a GPS fix or a proposed address")
    phone_labels = _codes(vocabulary.PHONE_LABELS, "a proposed phone's `label`")
    phone_owners = _codes(vocabulary.PHONE_OWNERS, "a proposed phone's `belongs_to`")
    flags = _labelled(vocabulary.FLAGS, "the flags a record may carry: code → meaning")
    policies = ma.fields.List(ma.fields.Nested(PhonePolicySchema), required=True, metadata={
        "description": "a case's policy: the one with the document's `policy_id`, else its "
        "lender's in its jurisdiction, else the jurisdiction's (`lender` `*`); its version: "
        "the latest whose `effective_from` is not after the moment judged (docs/sync.md)"})


class PullPageSchema(Schema):
    cursor = ma.fields.String(metadata={"example": "WzEsMSwidTciLCJkZWx0YSIsOTEyLDQ0LDBd"})
    has_more = ma.fields.Boolean()
    bootstrap = ma.fields.Boolean()
    last_mutation_id = ma.fields.Integer(
        metadata={"description": "every mutation of this device up to this id is committed"}
    )
    reference = ma.fields.Nested(
        ReferenceDataSchema,
        metadata={"description": "present on bootstrap or when the phone's ref_version is stale"},
    )
    changes = ma.fields.List(ma.fields.Nested(ChangeSchema))


class PushSchema(Schema):
    device_id = ma.fields.UUID(required=True)
    device_time = ma.fields.AwareDateTime(
        metadata={
            "description": "the phone's clock when sending; a large offset is flagged on records"
        }
    )
    mutations = ma.fields.List(
        MutationField(),
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


PUSH_STATUSES = {
    "applied": "stored now; `flags` name exceptions found (never a refusal)",
    "duplicate": "stored earlier (our answer was lost); `original` repeats the first answer",
    "rejected": "a business refusal or a payload not matching its type (`code`, `message`, "
    "`fields`); the number is used up",
    "gap": "`expected_mutation_id` must come first",
    "not_applied": "after a gap or a transient failure; nothing happened, resend later",
}


def _described(table: dict[str, str]) -> str:
    return "\n".join(f"- `{code}`: {meaning}" for code, meaning in table.items())


class MutationResultSchema(Schema):
    mutation_id = ma.fields.Integer()
    status = ma.fields.String(
        validate=ma.validate.OneOf(list(PUSH_STATUSES)),
        metadata={"description": _described(PUSH_STATUSES)},
    )
    record_id = ma.fields.String()
    flags = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(list(vocabulary.FLAGS))),
        metadata={
            "description": "exceptions found on the record, for review (a flag never "
            "blocks a save):\n" + _described(vocabulary.FLAGS)
        },
    )
    code = ma.fields.String()
    message = ma.fields.String()
    fields = ma.fields.Dict(
        metadata={"description": "rejected: what is wrong, by field (`payload.…`)"}
    )
    rule = ma.fields.String(
        metadata={"description": "rejected as `rule_breach`: the rule's id (docs/compliance)"}
    )
    policy = ma.fields.String(metadata={"description": "rule_breach: the policy's name"})
    policy_version = ma.fields.Integer(
        metadata={"description": "rule_breach: the policy version that applied"}
    )
    expected_mutation_id = ma.fields.Integer()
    original = ma.fields.Dict(metadata={"description": "duplicate: the first answer"})


class PushResultSchema(Schema):
    results = ma.fields.List(ma.fields.Nested(MutationResultSchema))
    last_mutation_id = ma.fields.Integer()
