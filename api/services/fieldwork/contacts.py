"""Contact attempts (calls, SMS, knocks on the door) and case notes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from api.models import Case, CaseNote, Channel, Contact, ContactAttempt, ContactOutcome
from api.services.compliance import contact_rules
from api.services.exceptions import InvalidInput
from api.services.fieldwork.context import FieldContext

CONNECTED = (ContactOutcome.CONNECTED, ContactOutcome.PROMISED)


def record_contact_attempt(ctx: FieldContext, data: dict) -> ContactAttempt:
    """A call, SMS or visit attempt; a connected call over the daily limit is flagged."""
    if data["contact_id"] is not None:
        contact = ctx.session.get(Contact, data["contact_id"])
        if contact is None or contact.debtor_id != ctx.case.debtor_id:
            raise InvalidInput(
                "That contact is not one of this debtor's.",
                fields={"contact_id": ["not a contact of this case's debtor"]},
            )
    while_reachable = contact_rules.check_contact_attempt(ctx, data)
    over_limit = False
    if data["channel"] is Channel.CALL and data["outcome"] in CONNECTED:
        over_limit = (
            connected_calls_that_day(ctx, data["occurred_at"])
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
        contact_while_reachable=while_reachable,
    )
    ctx.session.add(attempt)
    return attempt


def connected_calls_that_day(ctx: FieldContext, when: datetime) -> int:
    """Connected calls already recorded on the debtor's local calendar day of `when`."""
    local = when.astimezone(ZoneInfo(ctx.timezone))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    debtor_cases = select(Case.id).where(Case.debtor_id == ctx.case.debtor_id)
    return (
        ctx.session.scalar(
            select(func.count())
            .select_from(ContactAttempt)
            .where(
                ContactAttempt.case_id.in_(debtor_cases),
                ContactAttempt.channel == Channel.CALL,
                ContactAttempt.outcome.in_(CONNECTED),
                ContactAttempt.occurred_at >= start,
                ContactAttempt.occurred_at < start + timedelta(days=1),
            )
        )
        or 0
    )


def add_note(ctx: FieldContext, data: dict) -> CaseNote:
    note = CaseNote(**ctx.record_fields(str(data["id"])), text=data["text"])
    ctx.session.add(note)
    return note
