"""Contact attempts (calls, SMS, knocks on the door) and case notes."""

from __future__ import annotations

import json
from datetime import datetime

from api.models import CaseNote, Channel, Contact, ContactAttempt, ContactOutcome
from api.services.compliance import attempts, blackouts, checks, contact_rules
from api.services.exceptions import InvalidInput
from api.services.fieldwork.context import FieldContext


def record_contact_attempt(ctx: FieldContext, data: dict) -> ContactAttempt:
    """A call, SMS or visit attempt, flagged outside contact hours, in a blackout or over an
    attempt cap (api.services.compliance); a flag never refuses it."""
    if data["contact_id"] is not None:
        contact = ctx.session.get(Contact, data["contact_id"])
        if contact is None or contact.debtor_id != ctx.case.debtor_id:
            raise InvalidInput(
                "That contact is not one of this debtor's.",
                fields={"contact_id": ["not a contact of this case's debtor"]},
            )
    contact_rules.check_contact_attempt(ctx, data)
    ctx.flags += attempt_flags(ctx, data["channel"], data["outcome"], data["occurred_at"])
    attempt = ContactAttempt(
        **ctx.record_fields(str(data["id"])),
        channel=data["channel"],
        outcome=data["outcome"],
        occurred_at=data["occurred_at"],
        contact_id=data["contact_id"],
        duration_s=data["duration_s"],
        note=data["note"],
        flags=json.dumps(ctx.flags),
    )
    ctx.session.add(attempt)
    return attempt


def attempt_flags(ctx: FieldContext, channel: Channel, outcome: ContactOutcome,
                  when: datetime) -> list[str]:
    """Contact hours (calls and messages), the debtor's time blackouts, and the attempt caps."""
    flags = []
    if channel in (Channel.CALL, Channel.SMS) and not checks.within_contact_hours(
            when, ctx.timezone, ctx.policy):
        flags.append("outside_contact_hours")
    if blackouts.breaks_blackout(blackouts.of_debtor(ctx.session, ctx.case.debtor_id),
                                 ctx.timezone, when, when):
        flags.append("in_blackout")
    if attempts.counts_as_attempt(ctx.policy, channel, outcome):
        flags += attempts.cap_flags(ctx.session, ctx.policy, ctx.case.debtor_id, when,
                                    ctx.timezone)
    return flags


def add_note(ctx: FieldContext, data: dict) -> CaseNote:
    note = CaseNote(**ctx.record_fields(str(data["id"])), text=data["text"])
    ctx.session.add(note)
    return note
