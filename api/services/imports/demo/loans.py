"""Loans of the demo book: products, amortised schedules and payment histories."""

from __future__ import annotations

import calendar
import random
from datetime import date, timedelta
from typing import Any

from api.services.casefile.loan_figures import PaymentRecord, ScheduledInstalment, compute_figures


def _add_months(day: date, months: int, anchor_day: int) -> date:
    y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(y, m + 1, min(anchor_day, calendar.monthrange(y, m + 1)[1]))


# product -> (principal range in yuan, monthly rate, tenors in months)
_PRODUCTS = {
    "consumer_loan": ((5_000, 200_000), 0.012, (6, 12, 12, 24)),
    "car_loan": ((60_000, 300_000), 0.0045, (12, 24, 36, 36)),
    "machinery_finance": ((300_000, 1_200_000), 0.006, (12, 24, 36)),
}
# (bucket, share of the book, days past due range)
_BUCKET_MIX = (("current", 0.20, 0, 0), ("M1", 0.25, 1, 30), ("M2", 0.25, 31, 60),
               ("M3", 0.15, 61, 90), ("M3+", 0.15, 91, 720))


def _amortise(principal_fen: int, rate: float, n: int) -> list[tuple[int, int]]:
    """(amount, principal part) of n equal monthly instalments; the last one takes the rest."""
    payment = round(principal_fen * rate / (1 - (1 + rate) ** -n))
    left, out = principal_fen, []
    for i in range(n):
        interest = round(left * rate)
        part = left if i == n - 1 else min(left, payment - interest)
        out.append((part + interest, part))
        left -= part
    return out


def random_days_past_due(rng: random.Random) -> int:
    _, _, lo, hi = rng.choices(_BUCKET_MIX, [b[1] for b in _BUCKET_MIX])[0]
    if hi > 90:
        return min(hi, lo + int(rng.expovariate(1 / 90)))
    return rng.randint(lo, hi)


def random_loan(rng: random.Random, product: str, as_of: date, case_no: int) -> dict[str, Any]:
    """Schedule and payments whose first unpaid instalment fell due `dpd` days before as_of."""
    (lo, hi), rate, tenors = _PRODUCTS[product]
    principal = rng.randint(lo // 1000, hi // 1000) * 1000 * 100
    n = rng.choice(tenors)
    dpd = random_days_past_due(rng)
    # u: due date of the first unpaid instalment (in the future for a current loan).
    u = as_of - timedelta(days=dpd) if dpd else as_of + timedelta(days=rng.randint(0, 27))
    paid_count = rng.randint(0, min(n - 1, 24))
    anchor = u.day
    dues = [_add_months(u, j - paid_count, anchor) for j in range(n)]
    plan = _amortise(principal, rate, n)
    schedule = [{"seq": j + 1, "due_on": dues[j].isoformat(), "amount_fen": amt,
                 "principal_fen": part} for j, (amt, part) in enumerate(plan)]
    payments: list[dict[str, Any]] = []
    methods = ("auto_debit", "bank_transfer", "wechat_pay", "alipay", "cash")
    for j in range(paid_count):
        late = rng.randint(1, 20) if rng.random() < 0.15 else -rng.randint(0, 3)
        paid_on = min(dues[j] + timedelta(days=late), as_of)
        payments.append({"ref": f"P{case_no:06d}-{j + 1:02d}", "paid_on": paid_on.isoformat(),
                         "amount_fen": plan[j][0], "method": rng.choice(methods)})
    partly = dpd > 0 and rng.random() < 0.2
    if partly:
        paid_on = u + timedelta(days=rng.randint(1, dpd))
        payments.append({"ref": f"P{case_no:06d}-{paid_count + 1:02d}",
                         "paid_on": paid_on.isoformat(),
                         "amount_fen": plan[paid_count][0] * rng.randint(20, 70) // 100,
                         "method": rng.choice(methods)})
    return {"principal_fen": principal, "disbursed_on": _add_months(u, -paid_count - 1, anchor),
            "schedule": schedule, "payments": payments, "partly": partly}


def figures_of(case: dict[str, Any], as_of: date):
    """Loan figures of a generated case (the same computation the import makes)."""
    return compute_figures(
        [ScheduledInstalment(i["seq"], date.fromisoformat(i["due_on"]), i["amount_fen"],
                             i["principal_fen"]) for i in case["schedule"]],
        [PaymentRecord(date.fromisoformat(p["paid_on"]), p["amount_fen"])
         for p in case["payments"]],
        as_of,
    )
