"""The machinery of mutations and the first three types (contact attempts, notes, proposals).
Adding a type: a payload schema, an `apply` function, and a line in `mobile_sync.registry`.
`apply` raises a DomainError for a business refusal (answered `rejected`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.config import Policy
from api.extensions import Schema
from api.models import (
    AddressKind,
    Case,
    CaseNote,
    Channel,
    Contact,
    ContactAttempt,
    ContactOutcome,
    FieldProposal,
    ProposalKind,
    Relation,
)
from api.services.casefile.identifiers import normalize_phone
from api.services.exceptions import Conflict, InvalidInput
from api.services.geo import DATUMS


@dataclass
class MutationContext:
    """What a mutation may use: never the request, never Flask."""

    session: Session
    user_id: int
    device_id: str
    mutation_id: int
    client_time: datetime
    case: Case
    case_reassigned: bool
    policy: Policy
    cipher: Any = None  # api.services.identity.pii.PiiCipher
    blobs: Any = None  # api.services.evidence.storage.BlobStore
    verify_cosign: Callable[[str, datetime, datetime], int | None] | None = None
    clock_offset_s: float | None = None
    flags: list[str] = field(default_factory=list)

    def record_fields(self, record_id: str) -> dict:
        """The columns every device-created record carries."""
        return {
            "id": record_id,
            "case_id": self.case.id,
            "author_id": self.user_id,
            "device_id": self.device_id,
            "mutation_id": self.mutation_id,
            "client_time": self.client_time,
            "case_reassigned": self.case_reassigned,
        }


@dataclass(frozen=True)
class MutationType:
    schema: type[ma.Schema]
    model: type
    apply: Callable[[MutationContext, dict], object]


class RecordSchema(Schema):
    id = ma.fields.UUID(required=True, metadata={"description": "client-generated record id"})
    case_id = ma.fields.Integer(required=True)


# --- contact_attempt ----------------------------------------------------------------------


class ContactAttemptSchema(RecordSchema):
    channel = ma.fields.Enum(Channel, by_value=True, required=True)
    outcome = ma.fields.Enum(ContactOutcome, by_value=True, required=True)
    occurred_at = ma.fields.AwareDateTime(required=True)
    contact_id = ma.fields.Integer(
        load_default=None,
        metadata={"description": "the contact reached; omit when it was the debtor"},
    )
    duration_s = ma.fields.Integer(load_default=None, validate=ma.validate.Range(0, 86400))
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=2000))


def apply_contact_attempt(ctx: MutationContext, data: dict) -> ContactAttempt:
    if data["contact_id"] is not None:
        contact = ctx.session.get(Contact, data["contact_id"])
        if contact is None or contact.debtor_id != ctx.case.debtor_id:
            raise InvalidInput(
                "That contact is not one of this debtor's.",
                fields={"contact_id": ["not a contact of this case's debtor"]},
            )
    connected = data["outcome"] in (ContactOutcome.CONNECTED, ContactOutcome.PROMISED)
    over_limit = False
    if data["channel"] is Channel.CALL and connected:
        over_limit = (
            _connected_calls_that_day(ctx, data["occurred_at"])
            >= ctx.policy.max_connected_calls_per_day
        )
        if over_limit:
            ctx.flags.append("over_daily_call_limit")
    attempt = ContactAttempt(
        **ctx.record_fields(str(data["id"])),
        channel=data["channel"],
        outcome=data["outcome"],
        occurred_at=data["occurred_at"],
        contact_id=data["contact_id"],
        duration_s=data["duration_s"],
        note=data["note"],
        over_call_limit=over_limit,
    )
    ctx.session.add(attempt)
    return attempt


def _connected_calls_that_day(ctx: MutationContext, when: datetime) -> int:
    """Connected calls already recorded on the debtor's local calendar day of `when`."""
    zone = ZoneInfo(ctx.case.debtor.timezone or ctx.policy.default_timezone)
    local = when.astimezone(zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    debtor_cases = select(Case.id).where(Case.debtor_id == ctx.case.debtor_id)
    return (
        ctx.session.scalar(
            select(func.count())
            .select_from(ContactAttempt)
            .where(
                ContactAttempt.case_id.in_(debtor_cases),
                ContactAttempt.channel == Channel.CALL,
                ContactAttempt.outcome.in_([ContactOutcome.CONNECTED, ContactOutcome.PROMISED]),
                ContactAttempt.occurred_at >= start,
                ContactAttempt.occurred_at < start + timedelta(days=1),
            )
        )
        or 0
    )


# --- case_note ----------------------------------------------------------------------------


class CaseNoteSchema(RecordSchema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=4000))


def apply_case_note(ctx: MutationContext, data: dict) -> CaseNote:
    note = CaseNote(**ctx.record_fields(str(data["id"])), text=data["text"])
    ctx.session.add(note)
    return note


# --- field_proposal -----------------------------------------------------------------------


class ProposedPhoneSchema(Schema):
    phone = ma.fields.String(required=True)
    belongs_to = ma.fields.String(
        load_default="debtor", validate=ma.validate.OneOf(["debtor", "contact"])
    )
    contact_id = ma.fields.Integer(load_default=None)
    label = ma.fields.String(
        load_default="mobile", validate=ma.validate.OneOf(["mobile", "home", "work"])
    )


class ProposedAddressSchema(Schema):
    kind = ma.fields.Enum(AddressKind, by_value=True, required=True)
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=400))
    lat = ma.fields.Float(load_default=None, validate=ma.validate.Range(-90, 90))
    lon = ma.fields.Float(load_default=None, validate=ma.validate.Range(-180, 180))
    datum = ma.fields.String(load_default="WGS84", validate=ma.validate.OneOf(sorted(DATUMS)))


class ProposedContactSchema(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    relation = ma.fields.Enum(Relation, by_value=True, required=True)
    phone = ma.fields.String(load_default=None)
    knows_of_loan = ma.fields.Boolean(load_default=False)


PROPOSAL_SCHEMAS = {
    ProposalKind.PHONE: ProposedPhoneSchema,
    ProposalKind.ADDRESS: ProposedAddressSchema,
    ProposalKind.CONTACT: ProposedContactSchema,
}


class FieldProposalSchema(RecordSchema):
    kind = ma.fields.Enum(ProposalKind, by_value=True, required=True)
    data = ma.fields.Dict(required=True)
    note = ma.fields.String(load_default=None, validate=ma.validate.Length(max=2000))


def apply_field_proposal(ctx: MutationContext, data: dict) -> FieldProposal:
    try:
        proposed = PROPOSAL_SCHEMAS[data["kind"]]().load(data["data"])
    except ma.ValidationError as exc:
        raise InvalidInput(
            "The proposed record is not valid.",
            fields={f"data.{k}": v for k, v in exc.normalized_messages().items()},
        ) from exc
    if proposed.get("phone"):
        proposed["phone"] = normalize_phone(proposed["phone"], field="data.phone")
    if isinstance(proposed.get("kind"), AddressKind):
        proposed["kind"] = proposed["kind"].value
    if isinstance(proposed.get("relation"), Relation):
        proposed["relation"] = proposed["relation"].value
    proposal = FieldProposal(
        **ctx.record_fields(str(data["id"])),
        kind=data["kind"],
        data=json.dumps(proposed, ensure_ascii=False),
        note=data["note"],
    )
    ctx.session.add(proposal)
    return proposal


def ensure_new_record(session: Session, model: type, record_id: str) -> None:
    if session.get(model, record_id) is not None:
        raise Conflict("A record with this id already exists.", fields={"id": ["already used"]})
