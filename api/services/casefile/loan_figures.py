"""Loan figures for a case file: amounts owed, days past due, bucket and reminder class.

Pure functions over a repayment schedule and the payments received; no Flask, no database.
Amounts are integer fen (1/100 yuan). Payments are applied first-in-first-out to instalments in
due order; within an instalment, interest and fees are covered before principal.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from api.services.exceptions import InvalidInput

BUCKETS = ("current", "M1", "M2", "M3", "M3+")
REMINDER_WINDOW_MONTHS = 3
M1_MAX_DAYS = 30


@dataclass(frozen=True)
class ScheduledInstalment:
    """One line of the repayment plan; `principal_fen` is the principal part of `amount_fen`."""

    seq: int
    due_on: date
    amount_fen: int
    principal_fen: int


@dataclass(frozen=True)
class PaymentRecord:
    """Money received on a loan."""

    paid_on: date
    amount_fen: int


@dataclass(frozen=True)
class LoanFigures:
    """The figures a collector needs for one loan on one day (see `compute_figures`)."""

    total_due_fen: int
    due_to_date_fen: int
    paid_fen: int
    overdue_fen: int
    outstanding_fen: int
    outstanding_principal_fen: int
    days_past_due: int
    periods_overdue: int
    bucket: str
    reminder_class: str
    settled: bool
    oldest_unpaid_due_on: date | None
    next_due_on: date | None


@dataclass(frozen=True)
class _Allocated:
    """An instalment after payments were applied: how much it received and when it was cleared."""

    inst: ScheduledInstalment
    applied_fen: int
    cleared_on: date | None  # None while not fully paid

    @property
    def is_paid(self) -> bool:
        return self.applied_fen >= self.inst.amount_fen

    def days_late(self, as_of: date) -> int:
        """Days between due date and clearing (or `as_of` while still open); 0 if on time."""
        end = self.cleared_on if self.is_paid else as_of
        if end is None:  # zero-amount instalment: nothing was ever owed
            return 0
        return max(0, (end - self.inst.due_on).days)


def bucket_for(days_past_due: int) -> str:
    """Delinquency bucket: current (0), M1 (1–30), M2 (31–60), M3 (61–90), M3+ (over 90)."""
    if days_past_due < 0:
        raise InvalidInput(
            "days past due cannot be negative", fields={"days_past_due": "must be >= 0"}
        )
    if days_past_due == 0:
        return "current"
    if days_past_due <= 30:
        return "M1"
    if days_past_due <= 60:
        return "M2"
    if days_past_due <= 90:
        return "M3"
    return "M3+"


def compute_figures(
    schedule: Sequence[ScheduledInstalment],
    payments: Sequence[PaymentRecord],
    as_of: date,
) -> LoanFigures:
    """Compute the figures of a loan as of `as_of` (payments dated later are ignored).

    Reminder class (pre-due reminder policy, seed 000) looks at instalments due in the window
    [as_of − 3 calendar months, as_of). **C** if no instalment is due yet (first instalment after
    `as_of`, or an empty schedule), or any instalment is unpaid past due, or an instalment in the
    window was paid more than 30 days late, or two or more were late ("habitual M1"). **B** if
    exactly one instalment in the window was paid 1–30 days late. **A** otherwise (all on time).

    Raises `InvalidInput` for negative amounts, principal above amount, duplicate `seq`, or due
    dates that do not strictly increase with `seq`.
    """
    ordered = _validated_schedule(schedule)
    counted = _validated_payments(payments, as_of)
    allocated = _allocate(ordered, counted)

    total_due = sum(i.amount_fen for i in ordered)
    due_to_date = sum(i.amount_fen for i in ordered if i.due_on <= as_of)
    paid = sum(p.amount_fen for p in counted)

    open_items = [a for a in allocated if not a.is_paid]
    oldest_unpaid = open_items[0].inst.due_on if open_items else None
    dpd = (as_of - oldest_unpaid).days if oldest_unpaid and oldest_unpaid < as_of else 0
    next_due = next((a.inst.due_on for a in open_items if a.inst.due_on > as_of), None)

    return LoanFigures(
        total_due_fen=total_due,
        due_to_date_fen=due_to_date,
        paid_fen=paid,
        overdue_fen=max(0, due_to_date - paid),
        outstanding_fen=max(0, total_due - paid),
        outstanding_principal_fen=sum(_principal_left(a) for a in allocated),
        days_past_due=dpd,
        periods_overdue=sum(1 for a in open_items if a.inst.due_on < as_of),
        bucket=bucket_for(dpd),
        reminder_class=_reminder_class(allocated, as_of),
        settled=bool(ordered) and not open_items,
        oldest_unpaid_due_on=oldest_unpaid,
        next_due_on=next_due,
    )


def _validated_schedule(schedule: Sequence[ScheduledInstalment]) -> list[ScheduledInstalment]:
    """Return the schedule sorted by `seq`, or raise `InvalidInput` listing every problem."""
    errors: dict[str, str] = {}
    seen: set[int] = set()
    for idx, inst in enumerate(schedule):
        key = f"schedule[{idx}]"
        if inst.seq in seen:
            errors[f"{key}.seq"] = f"duplicate seq {inst.seq}"
        seen.add(inst.seq)
        if inst.amount_fen < 0:
            errors[f"{key}.amount_fen"] = "must be >= 0"
        if inst.principal_fen < 0:
            errors[f"{key}.principal_fen"] = "must be >= 0"
        elif inst.principal_fen > inst.amount_fen >= 0:
            errors[f"{key}.principal_fen"] = "must not exceed amount_fen"
    ordered = sorted(schedule, key=lambda i: i.seq)
    for prev, cur in itertools.pairwise(ordered):
        if prev.seq != cur.seq and cur.due_on <= prev.due_on:
            errors[f"schedule.seq={cur.seq}.due_on"] = (
                f"must be after the due date of seq {prev.seq} ({prev.due_on.isoformat()})"
            )
    if errors:
        raise InvalidInput("invalid repayment schedule", fields=errors)
    return ordered


def _validated_payments(payments: Sequence[PaymentRecord], as_of: date) -> list[PaymentRecord]:
    """Return payments on or before `as_of` in date order, or raise on negative amounts."""
    errors = {
        f"payments[{idx}].amount_fen": "must be >= 0"
        for idx, p in enumerate(payments)
        if p.amount_fen < 0
    }
    if errors:
        raise InvalidInput("invalid payment", fields=errors)
    return sorted((p for p in payments if p.paid_on <= as_of), key=lambda p: p.paid_on)


def _allocate(
    ordered: Sequence[ScheduledInstalment], payments: Sequence[PaymentRecord]
) -> list[_Allocated]:
    """Apply payments FIFO to instalments; over-payment carries to the next instalment."""
    applied = [0] * len(ordered)
    cleared: list[date | None] = [None] * len(ordered)
    idx = 0
    for pay in payments:
        left = pay.amount_fen
        while idx < len(ordered):
            need = ordered[idx].amount_fen - applied[idx]
            take = min(need, left)
            applied[idx] += take
            left -= take
            if applied[idx] < ordered[idx].amount_fen:
                break  # payment exhausted inside this instalment
            if ordered[idx].amount_fen > 0:
                cleared[idx] = pay.paid_on
            idx += 1
        # anything still left once every instalment is paid is an over-payment; it stays in paid_fen
    return [_Allocated(i, a, c) for i, a, c in zip(ordered, applied, cleared, strict=True)]


def _principal_left(item: _Allocated) -> int:
    """Principal of an instalment not yet covered (interest and fees are covered first)."""
    non_principal = item.inst.amount_fen - item.inst.principal_fen
    covered = max(0, item.applied_fen - non_principal)
    return item.inst.principal_fen - covered


def _months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier, clamped to the end of a shorter month."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _reminder_class(allocated: Sequence[_Allocated], as_of: date) -> str:
    """A/B/C pre-due reminder class; the rule is documented on `compute_figures`."""
    if not allocated or allocated[0].inst.due_on > as_of:
        return "C"  # brand-new loan: the first instalment is still ahead
    if any(not a.is_paid and a.inst.due_on < as_of for a in allocated):
        return "C"  # currently past due
    start = _months_before(as_of, REMINDER_WINDOW_MONTHS)
    late = [
        days
        for a in allocated
        if start <= a.inst.due_on < as_of and (days := a.days_late(as_of)) > 0
    ]
    if len(late) >= 2 or any(days > M1_MAX_DAYS for days in late):
        return "C"
    return "B" if late else "A"
