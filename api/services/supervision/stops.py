"""The visits of a route plan, from cases: which address, when the debtor may be visited, how
long, and how much leaving the visit out would cost.

Priority (the weight of leaving an optional stop out; required stops are kept whenever they
fit at all) is the sum of:
- the bucket: current 10, M1 20, M2 30, M3 40, M3+ 50 (older debt first);
- a promise due: +30 when a repayment promise not yet kept has an amount due on the service
  day or in the 30 days before it (a promise due today, or one just broken);
- the amount overdue: +1 per 1,000 CNY (100,000 fen), at most +30.
So an M3 case with 12,000 CNY overdue and a promise due today scores 40 + 30 + 12 = 82, and
outweighs an M1 case with nothing due (20 + a few)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.config import Policy
from api.models import (
    Address,
    AddressKind,
    Bucket,
    Case,
    DebtorBlackout,
    PromiseStatus,
    RepaymentPromise,
)
from api.services.exceptions import InvalidInput
from api.services.supervision.routing.planner import Point, Stop, TimeWindow
from api.services.supervision.routing.windows import intersect, visit_window
from api.services.supervision.stop_rules import StopHours, trim

DEFAULT_VISIT_S = 30 * 60
BUCKET_WEIGHT = {
    Bucket.CURRENT: 10,
    Bucket.M1: 20,
    Bucket.M2: 30,
    Bucket.M3: 40,
    Bucket.M3_PLUS: 50,
}
PROMISE_DUE_WEIGHT = 30
PROMISE_LOOKBACK_DAYS = 30
AMOUNT_STEP_FEN = 100_000  # 1,000 CNY
AMOUNT_CAP = 30


@dataclass(frozen=True)
class StopRequest:
    """What the planner of the day asked for one case. `field` names it in error messages
    ("stops.2", "case_ids.0"), `case_field` its case ("stops.2.case_id", "case_ids.0")."""

    case_id: int
    field: str
    case_field: str
    address_id: int | None = None
    duration_s: int | None = None
    required: bool = False
    pinned: bool = False
    appointment: TimeWindow | None = None


def visit_hours(policy: Policy, case: Case) -> tuple[str, str]:
    """The debtor-local hours within which this case's debtor may be visited; `policy` is the
    case's own (`policy_for_case` at the start of the plan's day)."""
    return policy.visit_hours_start, policy.visit_hours_end


def debtor_zone(policy: Policy, case: Case) -> str:
    return case.debtor.timezone or policy.default_timezone


def choose_address(case: Case, address_id: int | None, field: str, case_field: str) -> Address:
    """The address asked for (it must be the debtor's and have coordinates), or else the
    debtor's own home, or the first of the debtor's addresses that has coordinates."""
    addresses = case.debtor.addresses
    if address_id is not None:
        chosen = next((a for a in addresses if a.id == address_id), None)
        if chosen is None:
            raise InvalidInput(
                f"Address {address_id} is not an address of case {case.id}'s debtor.",
                fields={f"{field}.address_id": ["not an address of this case's debtor"]},
            )
        if chosen.lat is None or chosen.lon is None:
            raise InvalidInput(
                f"Address {address_id} of case {case.id} has no coordinates to plan with.",
                fields={f"{field}.address_id": ["has no coordinates"]},
            )
        return chosen
    chosen = default_visit_address(addresses)
    if chosen is not None:
        return chosen
    raise InvalidInput(
        f"Case {case.id} ({case.contract_no}) has no address with coordinates: give it "
        "coordinates (or geocode it) before planning a visit.",
        fields={case_field: [f"case {case.id} has no address with coordinates"]},
    )


def default_visit_address(addresses: Sequence[Address]) -> Address | None:
    """Where a visit goes unless told otherwise: the debtor's own home, else the first of the
    debtor's own addresses with coordinates, else any address with them (None: none has)."""
    located = [a for a in addresses if a.lat is not None and a.lon is not None]
    own = [a for a in located if a.contact_id is None]
    home = [a for a in own if a.kind is AddressKind.HOME]
    return next((c[0] for c in (home, own, located) if c), None)


def stop_window(
    policy: Policy,
    case: Case,
    day: date,
    shift: TimeWindow,
    appointment: TimeWindow | None = None,
) -> TimeWindow:
    """The debtor's visit hours (debtor-local) that matter for a shift on `day`, intersected
    with the appointment. The debtor's calendar day may differ from the team's: of the
    debtor-local days around `day`, the one whose hours overlap the shift (and appointment)
    most is taken. An empty result is kept: the planner then says the window is closed."""
    zone = debtor_zone(policy, case)
    start, end = visit_hours(policy, case)
    target = intersect(shift, appointment)

    def overlap(window: TimeWindow) -> timedelta:
        both = intersect(window, target)
        return max(both.end - both.start, timedelta(0))

    windows = [visit_window(day + timedelta(days=d), zone, start, end) for d in (0, -1, 1)]
    best = max(windows, key=overlap)  # the first (debtor's same date) wins a tie
    return intersect(best, appointment)


def promise_due_case_ids(session: Session, case_ids: Iterable[int], day: date) -> set[int]:
    """Cases with a promise not yet kept that has an amount due on `day` or in the
    `PROMISE_LOOKBACK_DAYS` before it."""
    ids = list(set(case_ids))
    if not ids:
        return set()
    since = day - timedelta(days=PROMISE_LOOKBACK_DAYS)
    rows = session.execute(
        select(RepaymentPromise.case_id, RepaymentPromise.plan).where(
            RepaymentPromise.case_id.in_(ids),
            RepaymentPromise.status != PromiseStatus.KEPT,
            RepaymentPromise.first_due_on <= day,
            RepaymentPromise.last_due_on >= since,
        )
    ).all()
    due = set()
    for case_id, plan in rows:
        if any(since <= date.fromisoformat(i["due_on"]) <= day for i in json.loads(plan)):
            due.add(case_id)
    return due


def priority_of(case: Case, promise_due: bool) -> int:
    amount = min(AMOUNT_CAP, max(case.overdue_fen, 0) // AMOUNT_STEP_FEN)
    return BUCKET_WEIGHT[case.bucket] + (PROMISE_DUE_WEIGHT if promise_due else 0) + amount


def stop_key(case: Case) -> str:
    """The planner's key of a case's stop, worded for the reasons a supervisor reads."""
    return f"case {case.id} ({case.contract_no})"


def build_stop(
    policy: Policy,
    case: Case,
    asked: StopRequest,
    *,
    day: date,
    shift: TimeWindow,
    shift_key: str | None,
    promise_due: bool,
    default_duration_s: int = DEFAULT_VISIT_S,
    declared: Sequence[DebtorBlackout] = (),
) -> tuple[Stop, Address, StopHours]:
    """The stop of a case under its own `policy`, its window trimmed by the blackouts the
    debtor `declared`, and what the window was made of (stop_rules explains failures)."""
    address = choose_address(case, asked.address_id, asked.field, asked.case_field)
    zone = debtor_zone(policy, case)
    hours = stop_window(policy, case, day, shift, asked.appointment)
    window, cutting = trim(hours, list(declared), zone, address)
    duration_s = asked.duration_s or default_duration_s
    stop = Stop(
        key=stop_key(case),
        point=Point(address.lat, address.lon),
        duration_s=duration_s,
        window=window,
        required=asked.required or asked.pinned,
        priority=priority_of(case, promise_due),
        shift_key=shift_key,
        tz=zone,
    )
    judged = StopHours(case, asked.field, policy, zone, duration_s, asked.appointment, hours,
                       window, cutting)
    return stop, address, judged


def shift_window(day: date, zone: str, start: str, end: str) -> TimeWindow:
    """A team-local shift on `day`, as UTC (the same arithmetic as visit hours)."""
    return visit_window(day, zone, start, end)


def appointment_window(start: datetime, end: datetime, field: str) -> TimeWindow:
    if end <= start:
        raise InvalidInput(
            "An appointment must end after it starts.",
            fields={f"{field}.window.end": ["must be after start"]},
        )
    return TimeWindow(start, end)
