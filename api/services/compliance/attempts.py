"""Attempt caps per debtor: at most `daily_attempt_cap` attempts on a debtor-local calendar
day and `weekly_attempt_cap` in any 7 consecutive days, counting what `attempts_counted` says
(connected calls, every call, or calls and visits). The record that goes over a cap is kept
and flagged.

Exact under concurrency: the debtor's row is locked before counting (`api.services.row_locks`),
so two phones filing at once count one after the other."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.config import Policy
from api.models import Case, Channel, ContactAttempt, ContactOutcome, VisitReport
from api.services.row_locks import lock_debtor

CONNECTED = (ContactOutcome.CONNECTED, ContactOutcome.PROMISED)
WEEK = timedelta(days=7)


def counts_as_attempt(policy: Policy, channel: Channel | None, outcome=None) -> bool:
    """Whether a contact attempt (`channel`, `outcome`) or, with `channel` None, a visit
    report is an attempt the caps count."""
    counted = policy.attempts_counted
    if channel is None or channel is Channel.VISIT_ATTEMPT:
        return counted == "calls_and_visits"
    if channel is not Channel.CALL:
        return False
    return counted != "connected_calls" or outcome in CONNECTED


def attempt_times(session: Session, policy: Policy, debtor_id: int,
                  since: datetime, until: datetime) -> list[datetime]:
    """When the debtor's counted attempts already recorded in [since, until) happened."""
    cases = select(Case.id).where(Case.debtor_id == debtor_id)
    calls = select(ContactAttempt.occurred_at).where(
        ContactAttempt.case_id.in_(cases),
        ContactAttempt.occurred_at >= since,
        ContactAttempt.occurred_at < until,
    )
    if policy.attempts_counted == "calls_and_visits":
        calls = calls.where(ContactAttempt.channel.in_((Channel.CALL, Channel.VISIT_ATTEMPT)))
    else:
        calls = calls.where(ContactAttempt.channel == Channel.CALL)
    if policy.attempts_counted == "connected_calls":
        calls = calls.where(ContactAttempt.outcome.in_(CONNECTED))
    times = list(session.scalars(calls))
    if policy.attempts_counted == "calls_and_visits":  # a correction is the same visit
        times += session.scalars(select(VisitReport.started_at).where(
            VisitReport.case_id.in_(cases),
            VisitReport.supersedes_id.is_(None),
            VisitReport.started_at >= since,
            VisitReport.started_at < until,
        ))
    return times


def cap_flags(session: Session, policy: Policy, debtor_id: int, at: datetime,
              zone: str) -> list[str]:
    """The cap flags of a new counted attempt at `at` (the debtor's row is locked first)."""
    if policy.daily_attempt_cap is None and policy.weekly_attempt_cap is None:
        return []
    lock_debtor(session, debtor_id)
    session.flush()
    flags = []
    if policy.daily_attempt_cap is not None:
        local = at.astimezone(ZoneInfo(zone))
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + timedelta(days=1)  # wall-clock arithmetic: the next local midnight
        if len(attempt_times(session, policy, debtor_id, start, end)) >= policy.daily_attempt_cap:
            flags.append("over_daily_attempt_cap")
    if policy.weekly_attempt_cap is not None:
        times = attempt_times(session, policy, debtor_id, at - WEEK + timedelta(microseconds=1),
                              at + WEEK)
        if busiest_week_around(times, at) >= policy.weekly_attempt_cap:
            flags.append("over_weekly_attempt_cap")
    return flags


def busiest_week_around(times: list[datetime], at: datetime) -> int:
    """The most of `times` that fall in one 7-day window [s, s + 7 days) that also holds `at`:
    an attempt filed late is judged against the attempts on either side of it."""
    tick = timedelta(microseconds=1)
    # The count changes only where a window's start passes an attempt or its end reaches one.
    starts = {at - WEEK + tick, at} | {t for t in times if at - WEEK < t <= at}
    starts |= {t - WEEK + tick for t in times if at < t < at + WEEK}
    return max(sum(1 for t in times if s <= t < s + WEEK) for s in starts)
