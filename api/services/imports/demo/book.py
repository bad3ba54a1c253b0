"""The lender's files of the demo book: a cases document and a day's payments file."""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Iterator
from datetime import date
from typing import Any

from api.services.casefile.loan_figures import bucket_for
from api.services.imports.demo.loans import figures_of, random_loan
from api.services.imports.demo.people import random_debtor
from api.services.imports.demo.places import DEFAULT_TEAMS, Place, team_places
from api.services.imports.demo.vehicles import collateral_records

CASES_FORMAT = "fieldvisit.cases.v1"
PAYMENTS_FORMAT = "fieldvisit.payments.v1"


def _case(rng: random.Random, n: int, place: Place, team_code: str, as_of: date,
          ids: set[str], debtor_of: dict | None) -> dict[str, Any]:
    product = rng.choices(("consumer_loan", "car_loan", "machinery_finance"), (50, 35, 15))[0]
    if debtor_of is not None:  # a repeat borrower takes the same kind of loan again
        product = debtor_of["product"]
    loan = random_loan(rng, product, as_of, n)
    if debtor_of is None:
        debtor, contacts, addresses = random_debtor(rng, n, place, product, as_of, ids)
    else:  # a second loan of the same debtor: the same person, as the lender sends it again
        debtor, contacts, addresses = (json.loads(json.dumps(debtor_of[k]))
                                       for k in ("debtor", "contacts", "addresses"))
    case: dict[str, Any] = {
        "contract_no": f"HT-{loan['disbursed_on']:%Y}-{n:06d}", "product": product,
        "currency": "CNY", "principal_fen": loan["principal_fen"],
        "disbursed_on": loan["disbursed_on"].isoformat(), "status": "active",
        "lender_bucket": None, "penalty_fen": 0, "fees_fen": 0,
        "penalty_basis": "0.05% per day on the overdue amount", "team_code": team_code,
        "debtor": debtor, "contacts": contacts, "addresses": addresses,
        "collateral": collateral_records(rng, product, place, loan["disbursed_on"].year,
                                         as_of, addresses),
        "schedule": loan["schedule"], "payments": loan["payments"],
    }
    figures = figures_of(case, as_of)
    dpd = figures.days_past_due
    case["penalty_fen"] = figures.overdue_fen * 5 * dpd // 10_000
    case["fees_fen"] = rng.choice((0, 5_000, 20_000)) if dpd > 30 else 0
    # The lender's bucket is from its own overnight run: now and then a day behind.
    case["lender_bucket"] = bucket_for(max(0, dpd - (rng.random() < 0.05)))
    if loan["partly"]:
        case["status"] = "partly_paid"
    elif dpd > 90 and rng.random() < 0.3:
        case["status"] = "legal"
    elif 0 < dpd <= 60 and rng.random() < 0.15:
        case["status"] = "promised"
    return case


def generate_cases_file(n_cases: int, *, seed: int = 7, as_of: date,
                        teams: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """A lender "cases" document (fieldvisit.cases.v1) of `n_cases` loans as of `as_of`.

    `teams` are (team code, places group) pairs: cases lie around the places of those groups
    and carry the code of the team covering their place (default: one team per group). About
    3% of cases are a second loan of an earlier debtor. No `collector_username` is set.
    """
    return {"format": CASES_FORMAT, "as_of": as_of.isoformat(),
            "cases": list(iter_cases(n_cases, seed=seed, as_of=as_of, teams=teams))}


def iter_cases(n_cases: int, *, seed: int = 7, as_of: date,
               teams: list[tuple[str, str]] | None = None,
               remember: int | None = None) -> Iterator[dict[str, Any]]:
    """The cases of `generate_cases_file`, one at a time. `remember`: a second loan is of one
    of the last `remember` debtors (None: of any earlier one, as in `generate_cases_file`),
    so that a file of millions of cases can be written in constant memory."""
    rng = random.Random(seed)
    weighted = team_places(teams or DEFAULT_TEAMS)
    weights = [w for _, _, w in weighted]
    places: dict[int, Place] = {}
    for p, _, _ in weighted:
        places.setdefault(p.geonameid, p)
    ids: set[str] = set()
    earlier_cases: deque[tuple[dict[str, Any], Place]] | list = (
        [] if remember is None else deque(maxlen=remember))
    for n in range(1, n_cases + 1):
        if earlier_cases and rng.random() < 0.03:
            earlier, place = rng.choice(earlier_cases)
            place = places[place.geonameid]
            code = earlier["team_code"]
        else:
            earlier = None
            place, code, _ = rng.choices(weighted, weights)[0]
        case = _case(rng, n, place, code, as_of, ids, earlier)
        earlier_cases.append((case, place))
        yield case


def generate_payments_file(cases_doc: dict[str, Any], *, seed: int = 7,
                           as_of: date) -> dict[str, Any]:
    """The lender's daily payments file: money received on `as_of` for a random 10% of cases,
    with the balances (penalty, fees, status) the lender's core system reports after it."""
    rng = random.Random(seed * 7919 + as_of.toordinal())
    cases = cases_doc["cases"]
    picked = sorted(rng.sample(range(len(cases)), max(1, len(cases) // 10)) if cases else [])
    payments, balances = [], []
    for k, idx in enumerate(picked):
        case = cases[idx]
        figures = figures_of(case, as_of)
        next_amount = next((i["amount_fen"] for i in case["schedule"]
                            if date.fromisoformat(i["due_on"]) >= as_of), 0)
        if figures.overdue_fen == 0:
            amount = next_amount or figures.outstanding_fen
        else:
            amount = rng.choice((figures.overdue_fen, next_amount or figures.overdue_fen,
                                 figures.overdue_fen * rng.randint(10, 60) // 100))
        amount = max(100, min(amount, figures.outstanding_fen or amount))
        payments.append({"contract_no": case["contract_no"],
                         "ref": f"P{as_of:%Y%m%d}-{k + 1:05d}", "paid_on": as_of.isoformat(),
                         "amount_fen": amount,
                         "method": rng.choice(("bank_transfer", "wechat_pay", "alipay", "cash"))})
        cleared = amount >= figures.overdue_fen
        status = case["status"] if case["status"] == "legal" else (
            "active" if cleared else "partly_paid")
        balances.append({"contract_no": case["contract_no"],
                         "penalty_fen": 0 if cleared else case["penalty_fen"],
                         "fees_fen": case["fees_fen"], "status": status})
    return {"format": PAYMENTS_FORMAT, "as_of": as_of.isoformat(), "payments": payments,
            "balances": balances}
