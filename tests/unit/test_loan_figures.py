"""Stories about one loan's figures: what the collector sees on a given day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.services.casefile.loan_figures import (
    BUCKETS,
    PaymentRecord,
    ScheduledInstalment,
    bucket_for,
    compute_figures,
)
from api.services.exceptions import InvalidInput

# A 6-month consumer loan: 1,000.00 yuan a month due on the 15th, of which 900.00 is principal.
MONTHLY = 100_000
PRINCIPAL = 90_000
DUES = [date(2024, m, 15) for m in range(1, 7)]
SCHEDULE = [
    ScheduledInstalment(seq=i + 1, due_on=d, amount_fen=MONTHLY, principal_fen=PRINCIPAL)
    for i, d in enumerate(DUES)
]


def pay(day: date, amount: int = MONTHLY) -> PaymentRecord:
    return PaymentRecord(paid_on=day, amount_fen=amount)


def on_time(n: int) -> list[PaymentRecord]:
    """The first n instalments, each paid on its due date."""
    return [pay(d) for d in DUES[:n]]


# --- buckets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [
        (0, "current"),
        (1, "M1"),
        (30, "M1"),
        (31, "M2"),
        (60, "M2"),
        (61, "M3"),
        (90, "M3"),
        (91, "M3+"),
        (400, "M3+"),
    ],
)
def test_bucket_boundaries(dpd, bucket):
    assert bucket_for(dpd) == bucket
    assert bucket in BUCKETS


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [
        (0, "current"),
        (1, "M1"),
        (30, "M1"),
        (31, "M2"),
        (60, "M2"),
        (61, "M3"),
        (90, "M3"),
        (91, "M3+"),
    ],
)
def test_debtor_who_never_paid_moves_through_the_buckets(dpd, bucket):
    # Only the first instalment exists, so each day past it is one day past due.
    schedule = [ScheduledInstalment(1, date(2024, 1, 15), MONTHLY, PRINCIPAL)]
    f = compute_figures(schedule, [], date(2024, 1, 15) + timedelta(days=dpd))
    assert f.days_past_due == dpd
    assert f.bucket == bucket
    assert f.periods_overdue == (1 if dpd else 0)


def test_bucket_rejects_negative_days():
    with pytest.raises(InvalidInput):
        bucket_for(-1)


# --- amounts ---------------------------------------------------------------------------------


def test_good_payer_mid_month_is_current_and_owes_the_rest():
    f = compute_figures(SCHEDULE, on_time(3), date(2024, 4, 1))
    assert f.total_due_fen == 6 * MONTHLY
    assert f.due_to_date_fen == 3 * MONTHLY
    assert f.paid_fen == 3 * MONTHLY
    assert f.overdue_fen == 0
    assert f.outstanding_fen == 3 * MONTHLY
    assert f.outstanding_principal_fen == 3 * PRINCIPAL
    assert (f.days_past_due, f.bucket, f.periods_overdue) == (0, "current", 0)
    assert f.oldest_unpaid_due_on == DUES[3]
    assert f.next_due_on == DUES[3]
    assert f.reminder_class == "A"
    assert not f.settled


def test_partial_payment_covers_interest_first_and_keeps_the_instalment_overdue():
    # April: 250.00 paid on 1,000.00 due -> the 100.00 interest is covered, 150.00 of principal.
    f = compute_figures(SCHEDULE, [*on_time(3), pay(DUES[3], 25_000)], date(2024, 4, 20))
    assert f.paid_fen == 325_000
    assert f.overdue_fen == 75_000
    assert f.outstanding_principal_fen == (PRINCIPAL - 15_000) + 2 * PRINCIPAL
    assert f.days_past_due == 5
    assert f.bucket == "M1"
    assert f.periods_overdue == 1
    assert f.oldest_unpaid_due_on == DUES[3]
    assert f.next_due_on == DUES[4]
    assert f.reminder_class == "C"  # currently unpaid past due


def test_partial_payment_smaller_than_interest_reduces_no_principal():
    f = compute_figures(SCHEDULE, [pay(DUES[0], 6_000)], date(2024, 1, 16))
    assert f.outstanding_principal_fen == 6 * PRINCIPAL
    assert f.overdue_fen == MONTHLY - 6_000


def test_overpayment_is_carried_to_the_next_instalments():
    # January: pays 2,500.00 at once -> Jan and Feb cleared, half of March prepaid.
    f = compute_figures(SCHEDULE, [pay(DUES[0], 250_000)], date(2024, 3, 1))
    assert f.overdue_fen == 0
    assert f.days_past_due == 0
    assert f.oldest_unpaid_due_on == DUES[2]
    assert f.next_due_on == DUES[2]
    # March got 500.00: 100.00 interest + 400.00 principal.
    assert f.outstanding_principal_fen == (PRINCIPAL - 40_000) + 3 * PRINCIPAL
    # Half-prepaid March is still open once its due date passes.
    later = compute_figures(SCHEDULE, [pay(DUES[0], 250_000)], date(2024, 3, 16))
    assert (later.days_past_due, later.periods_overdue, later.overdue_fen) == (1, 1, 50_000)


def test_payments_after_as_of_are_ignored():
    payments = [*on_time(2), pay(date(2024, 3, 20))]
    f = compute_figures(SCHEDULE, payments, date(2024, 3, 19))
    assert f.paid_fen == 2 * MONTHLY
    assert f.days_past_due == 4
    assert f.bucket == "M1"
    # The next day the payment counts.
    assert compute_figures(SCHEDULE, payments, date(2024, 3, 20)).days_past_due == 0


def test_payments_are_applied_in_date_order_whatever_the_input_order():
    payments = [pay(DUES[1]), pay(DUES[0])]
    f = compute_figures(SCHEDULE, payments[::-1], date(2024, 3, 1))
    assert f == compute_figures(SCHEDULE, payments, date(2024, 3, 1))
    assert f.reminder_class == "A"


def test_schedule_given_out_of_order_is_sorted_by_seq():
    f = compute_figures(list(reversed(SCHEDULE)), on_time(2), date(2024, 3, 1))
    assert f == compute_figures(SCHEDULE, on_time(2), date(2024, 3, 1))


def test_instalment_due_today_is_counted_as_due_but_not_past_due():
    f = compute_figures(SCHEDULE, on_time(2), DUES[2])
    assert f.due_to_date_fen == 3 * MONTHLY
    assert f.overdue_fen == MONTHLY
    assert f.days_past_due == 0
    assert f.periods_overdue == 0
    assert f.oldest_unpaid_due_on == DUES[2]
    assert f.next_due_on == DUES[3]  # strictly after as_of


def test_days_past_due_counts_from_the_oldest_unpaid_instalment():
    # Paid Jan only; Feb and Mar unpaid on 2024-04-01 -> 46 days since Feb 15.
    f = compute_figures(SCHEDULE, on_time(1), date(2024, 4, 1))
    assert f.days_past_due == 46
    assert f.bucket == "M2"
    assert f.periods_overdue == 2
    assert f.overdue_fen == 2 * MONTHLY


def test_settled_loan():
    f = compute_figures(SCHEDULE, on_time(6), date(2024, 7, 1))
    assert f.settled
    assert f.outstanding_fen == 0
    assert f.outstanding_principal_fen == 0
    assert f.oldest_unpaid_due_on is None
    assert f.next_due_on is None
    assert f.bucket == "current"


def test_early_payoff_is_settled_before_the_last_due_date():
    f = compute_figures(SCHEDULE, [pay(date(2024, 2, 1), 6 * MONTHLY)], date(2024, 2, 2))
    assert f.settled
    assert f.overdue_fen == 0
    assert f.next_due_on is None


def test_paying_more_than_the_loan_keeps_the_money_but_owes_nothing():
    f = compute_figures(SCHEDULE, [pay(date(2024, 1, 1), 7 * MONTHLY)], date(2024, 1, 2))
    assert f.paid_fen == 7 * MONTHLY
    assert f.outstanding_fen == 0
    assert f.settled


def test_empty_schedule():
    f = compute_figures([], [], date(2024, 1, 1))
    assert (f.total_due_fen, f.paid_fen, f.outstanding_fen, f.outstanding_principal_fen) == (
        0,
        0,
        0,
        0,
    )
    assert (f.bucket, f.reminder_class, f.settled) == ("current", "C", False)
    assert f.oldest_unpaid_due_on is None and f.next_due_on is None


# --- reminder classes ------------------------------------------------------------------------


def test_class_a_when_the_last_three_months_were_paid_on_time():
    assert compute_figures(SCHEDULE, on_time(4), date(2024, 5, 10)).reminder_class == "A"


def test_paying_before_the_due_date_is_on_time():
    early = [pay(d - timedelta(days=3)) for d in DUES[:4]]
    assert compute_figures(SCHEDULE, early, date(2024, 5, 10)).reminder_class == "A"


def test_paid_late_then_caught_up_is_current_but_class_b():
    # March paid 10 days late; everything else on time. On May 10 nothing is owed.
    payments = [pay(DUES[0]), pay(DUES[1]), pay(date(2024, 3, 25)), pay(DUES[3])]
    f = compute_figures(SCHEDULE, payments, date(2024, 5, 10))
    assert (f.days_past_due, f.bucket, f.overdue_fen) == (0, "current", 0)
    assert f.reminder_class == "B"


def test_class_b_allows_exactly_30_days_late():
    payments = [pay(DUES[0]), pay(DUES[1]), pay(DUES[2] + timedelta(days=30)), pay(DUES[3])]
    assert compute_figures(SCHEDULE, payments, date(2024, 5, 10)).reminder_class == "B"


def test_a_late_payment_older_than_three_months_no_longer_counts():
    # January paid 20 days late; by June 1 the window is Mar 1 .. May 31: Mar, Apr, May on time.
    payments = [pay(date(2024, 2, 4)), pay(DUES[1]), pay(DUES[2]), pay(DUES[3]), pay(DUES[4])]
    assert compute_figures(SCHEDULE, payments, date(2024, 4, 1)).reminder_class == "B"
    assert compute_figures(SCHEDULE, payments, date(2024, 6, 1)).reminder_class == "A"


def test_window_is_three_calendar_months_before_as_of():
    # Feb paid 5 days late. On May 15 the window starts Feb 15 (included); on May 16 it does not.
    payments = [pay(DUES[0]), pay(date(2024, 2, 20)), pay(DUES[2]), pay(DUES[3]), pay(DUES[4])]
    assert compute_figures(SCHEDULE, payments, date(2024, 5, 15)).reminder_class == "B"
    assert compute_figures(SCHEDULE, payments, date(2024, 5, 16)).reminder_class == "A"


def test_class_c_for_a_brand_new_loan_whose_first_instalment_is_ahead():
    f = compute_figures(SCHEDULE, [], date(2024, 1, 5))
    assert f.reminder_class == "C"
    assert f.days_past_due == 0
    assert f.next_due_on == DUES[0]


def test_class_c_for_a_habitual_m1_payer_even_when_caught_up():
    # Feb and Apr each paid 5 days late: two M1 episodes in three months, nothing owed now.
    payments = [pay(DUES[0]), pay(date(2024, 2, 20)), pay(DUES[2]), pay(date(2024, 4, 20))]
    f = compute_figures(SCHEDULE, payments, date(2024, 5, 10))
    assert f.days_past_due == 0
    assert f.reminder_class == "C"


def test_class_c_when_one_instalment_was_more_than_30_days_late_then_caught_up():
    # March cleared on April 15 (31 days late) together with April.
    payments = [pay(DUES[0]), pay(DUES[1]), pay(date(2024, 4, 15), 2 * MONTHLY)]
    f = compute_figures(SCHEDULE, payments, date(2024, 5, 10))
    assert (f.days_past_due, f.overdue_fen) == (0, 0)
    assert f.reminder_class == "C"


def test_class_c_while_an_instalment_is_unpaid_past_due():
    f = compute_figures(SCHEDULE, on_time(3), date(2024, 4, 16))
    assert f.days_past_due == 1
    assert f.reminder_class == "C"


def test_unpaid_past_due_is_class_c_even_outside_the_window():
    # The last instalment (June) was never paid; a year on, no due date lies in the window.
    f = compute_figures(SCHEDULE, on_time(5), date(2025, 6, 1))
    assert f.bucket == "M3+"
    assert f.reminder_class == "C"


# --- validation ------------------------------------------------------------------------------


def test_negative_instalment_amount_is_rejected():
    bad = [ScheduledInstalment(1, DUES[0], -1, 0)]
    with pytest.raises(InvalidInput) as exc:
        compute_figures(bad, [], date(2024, 1, 1))
    assert "schedule[0].amount_fen" in exc.value.fields


def test_principal_above_amount_is_rejected():
    bad = [ScheduledInstalment(1, DUES[0], 100, 101)]
    with pytest.raises(InvalidInput) as exc:
        compute_figures(bad, [], date(2024, 1, 1))
    assert "schedule[0].principal_fen" in exc.value.fields


def test_negative_payment_is_rejected_even_after_as_of():
    with pytest.raises(InvalidInput) as exc:
        compute_figures(SCHEDULE, [pay(DUES[0]), pay(date(2030, 1, 1), -5)], date(2024, 1, 1))
    assert list(exc.value.fields) == ["payments[1].amount_fen"]


def test_duplicate_seq_is_rejected():
    bad = [*SCHEDULE, ScheduledInstalment(3, date(2024, 12, 15), MONTHLY, PRINCIPAL)]
    with pytest.raises(InvalidInput) as exc:
        compute_figures(bad, [], date(2024, 1, 1))
    assert "schedule[6].seq" in exc.value.fields


@pytest.mark.parametrize("second_due", [date(2024, 1, 15), date(2024, 1, 14)])
def test_due_dates_must_increase_with_seq(second_due):
    bad = [
        ScheduledInstalment(1, date(2024, 1, 15), MONTHLY, PRINCIPAL),
        ScheduledInstalment(2, second_due, MONTHLY, PRINCIPAL),
    ]
    with pytest.raises(InvalidInput) as exc:
        compute_figures(bad, [], date(2024, 1, 1))
    assert exc.value.code == "invalid_input"
    assert any("due_on" in key for key in exc.value.fields)


# --- properties ------------------------------------------------------------------------------


@st.composite
def loans(draw):
    n = draw(st.integers(min_value=0, max_value=8))
    start = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2025, 1, 1)))
    gaps = draw(st.lists(st.integers(1, 45), min_size=n, max_size=n))
    schedule, due = [], start
    for seq, gap in enumerate(gaps, start=1):
        due += timedelta(days=gap)
        amount = draw(st.integers(0, 500_000))
        schedule.append(ScheduledInstalment(seq, due, amount, draw(st.integers(0, amount))))
    total = sum(i.amount_fen for i in schedule)
    payments, budget = [], total
    for _ in range(draw(st.integers(0, 10))):
        amount = draw(st.integers(0, budget))
        budget -= amount
        day = start + timedelta(days=draw(st.integers(-30, 400)))
        payments.append(PaymentRecord(day, amount))
    as_of = start + timedelta(days=draw(st.integers(-30, 450)))
    return schedule, payments, as_of


@given(loans())
def test_figures_add_up(loan):
    schedule, payments, as_of = loan
    f = compute_figures(schedule, payments, as_of)
    assert f.paid_fen + f.outstanding_fen == f.total_due_fen
    assert 0 <= f.overdue_fen <= f.due_to_date_fen <= f.total_due_fen
    assert 0 <= f.outstanding_principal_fen <= f.outstanding_fen
    assert f.bucket == bucket_for(f.days_past_due)
    assert f.reminder_class in {"A", "B", "C"}
    assert (f.days_past_due > 0) == (f.periods_overdue > 0)
    assert f.settled == (bool(schedule) and f.outstanding_fen == 0)
