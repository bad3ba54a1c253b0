"""Which cases of a team need a field visit, by which rule, and which collector should go.

A visit is warranted when calls failed, a promised date has passed or falls today, contact is
lost, the arrears are serious, or the business-debtor playbook says so (DOMAIN.md, seed 000).
Each finding names its rule (a stable id and a sentence) and its evidence. The collector is
chosen among the team's active collectors by distance from their base to the address to visit
plus their load (open cases held, and those already suggested to them in this list), with the
figures. Only a collector the case's policy lets be sent is suggested (compliance.dispatch:
authorised for the case's lender and jurisdiction today); a case nobody may be sent to (an
open complaint, or nobody authorised) is listed with no collector and the reason. A
supervisor accepts by POSTing the cases to `/assignments` with reason "suggestion:<rule id>",
or edits the choice first. Read-only: nothing is assigned here."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from pyproj import Geod
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from api.models import (
    Address,
    AddressKind,
    Case,
    Channel,
    ContactAttempt,
    ContactOutcome,
    Debtor,
    FieldProposal,
    Product,
    PromiseStatus,
    ProposalKind,
    ProposalStatus,
    RepaymentPromise,
    Role,
    Team,
    User,
    VisitReport,
)
from api.models.cases import CLOSED_STATUSES
from api.models.types import utcnow
from api.services.compliance import dispatch
from api.services.exceptions import Forbidden, InvalidInput
from api.services.identity import audit
from api.services.identity.access import visible_cases
from api.services.identity.accounts import Principal


@dataclass(frozen=True)
class Thresholds:
    """Every number the rules and the collector choice use, in one place (issue 10 moves them
    into policy data)."""

    calls_failed_min: int = 3  # failed calls ...
    calls_failed_days: int = 7  # ... within this many days, none connected since
    contact_lost_calls: int = 3  # the debtor's last N calls all reached a dead number
    contact_lost_days: int = 30  # ... within this many days
    promise_broken_days: int = 30  # a promise missed at most this many days ago, no visit since
    serious_dpd: int = 31  # M2 onwards: "31-90 days serious: visits" (DOMAIN.md stages)
    serious_visit_gap_days: int = 14  # ... and no field visit for this many days
    business_day0_dpd: int = 1  # the playbook's day 0 is the first day past due
    business_second_visit_day: int = 4  # "day 4: visit again, call the counter-guarantor"
    business_playbook_last_dpd: int = 30  # after this the serious-arrears rule takes over
    km_per_open_case: float = 0.1  # one more open case held weighs as much as 100 m of travel
    candidates: int = 3  # collectors listed per case, best first


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Rule:
    id: str
    rank: int  # lower comes first in the list
    template: str

    def sentence(self, t: Thresholds) -> str:
        return self.template.format(t=t, day4_dpd=t.business_day0_dpd + t.business_second_visit_day)


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("promise_due", 1, "A repayment promise falls due today (debtor-local): visit to "
             "collect or confirm it."),
        Rule("promise_broken", 2, "A repayment promise was broken (or only partly kept) within "
             "the last {t.promise_broken_days} days and nobody has visited since its date."),
        Rule("business_first_visit", 3, "Business debtor, playbook day 0 (from "
             "{t.business_day0_dpd} day past due): visit the business site at once."),
        Rule("business_second_visit", 4, "Business debtor, playbook day "
             "{t.business_second_visit_day} ({day4_dpd} days past due): visit the site again "
             "and call the counter-guarantor."),
        Rule("contact_lost", 5, "Contact is lost: the debtor's last {t.contact_lost_calls} "
             "calls within {t.contact_lost_days} days reached a dead number (wrong number or "
             "switched off), the debtor has no phone on file, or a new address was learnt in "
             "the field; nobody has visited since."),
        Rule("calls_failed", 6, "Calls failed: {t.calls_failed_min} or more unanswered calls "
             "within {t.calls_failed_days} days, none connected and no visit since."),
        Rule("serious_arrears", 7, "{t.serious_dpd} or more days past due (M2 onwards) and no "
             "field visit for {t.serious_visit_gap_days} days or more."),
    )
}
FAILED_CALLS = (
    ContactOutcome.NO_ANSWER,
    ContactOutcome.BUSY,
    ContactOutcome.POWERED_OFF,
    ContactOutcome.WRONG_NUMBER,
)
DEAD_NUMBER = (ContactOutcome.WRONG_NUMBER, ContactOutcome.POWERED_OFF)
REACHED = (ContactOutcome.CONNECTED, ContactOutcome.PROMISED, ContactOutcome.REFUSED)
STILL_DUE = (PromiseStatus.PENDING, PromiseStatus.PARTLY_KEPT)  # a plan date can still be met
BROKEN_PROMISES = (PromiseStatus.BROKEN, PromiseStatus.PARTLY_KEPT)
# Which address a visit goes to, by kind: the business site first for the playbook rules.
VISIT_ORDER = (AddressKind.HOME, AddressKind.WORK, AddressKind.WORKSITE, AddressKind.OTHER,
               AddressKind.HOUSEHOLD_REGISTRATION)
BUSINESS_ORDER = (AddressKind.WORKSITE, AddressKind.WORK, AddressKind.HOME, AddressKind.OTHER,
                  AddressKind.HOUSEHOLD_REGISTRATION)
_GEOD = Geod(ellps="WGS84")


@dataclass
class Finding:
    rule: str
    detail: str


@dataclass
class _Case:
    """What the rules read of one case (plain rows, not ORM objects)."""

    id: int
    contract_no: str
    product: Product
    bucket: str
    days_past_due: int
    overdue_fen: int
    figures_as_of: date | None
    collector_id: int | None
    debtor_id: int
    debtor_name: str
    timezone: str
    has_phone: bool
    lender: str = "default"
    jurisdiction: str = "CN"
    policy_id: int | None = None
    calls: list = field(default_factory=list)  # (occurred_at, outcome, contact_id), oldest first
    last_visit: date | None = None  # debtor-local day of the latest visit report or attempt
    promise: tuple | None = None  # the latest promise: (status, [(due_on, amount_fen)])
    address_proposed_on: date | None = None
    business: bool = False
    findings: list[Finding] = field(default_factory=list)


def suggest_visits(
    session: Session,
    principal: Principal,
    *,
    team_id: int | None,
    rules: list[str] | None = None,
    unassigned: bool | None = None,
    page: int = 1,
    page_size: int = 50,
    now: datetime | None = None,
    thresholds: Thresholds = THRESHOLDS,
) -> tuple[list[dict], int]:
    """One page of the team's cases that need a field visit (most urgent rule first, then days
    past due and amount overdue), each with its rules and a suggested collector; and the total.
    The page's cases are audited (names and addresses are personal data)."""
    team_id = _team_of(session, principal, team_id)
    now = now or utcnow()
    cases = _load(session, principal, team_id, now, thresholds)
    for case in cases.values():
        case.findings = _findings(case, now, thresholds)
    wanted = [
        c for c in cases.values()
        if c.findings
        and (not rules or any(f.rule in rules for f in c.findings))
        and (unassigned is None or (c.collector_id is None) == unassigned)
    ]
    wanted.sort(key=lambda c: (min(RULES[f.rule].rank for f in c.findings),
                               -c.days_past_due, -c.overdue_fen, c.id))
    addresses = _visit_addresses(session, wanted)
    choices = _choose_collectors(session, team_id, wanted, addresses, thresholds, now)
    start = (page - 1) * page_size
    shown = wanted[start : start + page_size]
    items = [_item(c, addresses.get(c.id), choices[c.id], thresholds) for c in shown]
    if items:
        audit.record(session, principal, "assignment.suggestions",
                     detail={"case_ids": [c.id for c in shown], "team_id": team_id})
    return items, len(wanted)


def rule_catalogue(thresholds: Thresholds = THRESHOLDS) -> list[dict]:
    return [{"id": r.id, "sentence": r.sentence(thresholds)}
            for r in sorted(RULES.values(), key=lambda r: r.rank)]


def _team_of(session: Session, principal: Principal, team_id: int | None) -> int:
    """Supervisors: their own team (another is refused); administrators must name one."""
    if principal.role is Role.SUPERVISOR:
        if team_id not in (None, principal.team_id):
            raise Forbidden("Supervisors see only their own team.",
                            fields={"team_id": ["not your team"]})
        return principal.team_id
    if principal.role is not Role.ADMIN:
        raise Forbidden("Only supervisors and administrators see assignment suggestions.")
    if team_id is None:
        raise InvalidInput("Name the team.", fields={"team_id": ["required for administrators"]})
    if session.get(Team, team_id) is None:
        raise InvalidInput("No such team.", fields={"team_id": ["no such team"]})
    return team_id


def team_open_cases(principal: Principal, team_id: int) -> Select:
    """The ids of the team's open cases the principal may see."""
    return visible_cases(principal, select(Case.id)).where(
        Case.team_id == team_id, Case.status.not_in(CLOSED_STATUSES)
    )


def _load(
    session: Session, principal: Principal, team_id: int, now: datetime, t: Thresholds
) -> dict[int, _Case]:
    """The team's open cases and what the rules need of them, in six queries."""
    return _load_cases(session, team_open_cases(principal, team_id), now, t)


def _load_cases(session: Session, ids, now: datetime, t: Thresholds) -> dict[int, _Case]:
    """What the rules need of the cases `ids` (a list or a select of case ids)."""
    rows = session.execute(
        select(Case.id, Case.contract_no, Case.product, Case.bucket, Case.days_past_due,
               Case.overdue_fen, Case.figures_as_of, Case.collector_id, Case.debtor_id,
               Debtor.name, Debtor.timezone, Debtor.mobile_phone, Debtor.home_phone,
               Debtor.work_phone, Case.lender, Case.jurisdiction, Case.policy_id)
        .join(Debtor, Debtor.id == Case.debtor_id)
        .where(Case.id.in_(ids))
    ).all()
    cases = {
        r.id: _Case(r.id, r.contract_no, r.product, r.bucket, r.days_past_due, r.overdue_fen,
                    r.figures_as_of, r.collector_id, r.debtor_id, r.name, r.timezone,
                    bool(r.mobile_phone or r.home_phone or r.work_phone),
                    lender=r.lender, jurisdiction=r.jurisdiction, policy_id=r.policy_id,
                    business=r.product is Product.MACHINERY_FINANCE)
        for r in rows
    }
    if not cases:
        return cases
    since = now - timedelta(days=max(  # far enough back for every rule's window
        t.calls_failed_days, t.contact_lost_days, t.serious_visit_gap_days,
        t.promise_broken_days + 1, t.business_playbook_last_dpd) + 1)
    for case_id, channel, outcome, contact_id, at in session.execute(
        select(ContactAttempt.case_id, ContactAttempt.channel, ContactAttempt.outcome,
               ContactAttempt.contact_id, ContactAttempt.occurred_at)
        .where(ContactAttempt.case_id.in_(ids),
               ContactAttempt.channel.in_((Channel.CALL, Channel.VISIT_ATTEMPT)),
               ContactAttempt.occurred_at >= since)
        .order_by(ContactAttempt.occurred_at)
    ):
        case = cases[case_id]
        if channel is Channel.CALL:
            case.calls.append((at, outcome, contact_id))
        else:  # a visit attempt (nobody home, moved...) is a visit made
            case.last_visit = _latest(case.last_visit, _local_day(at, case.timezone))
    for case_id, day in session.execute(
        select(VisitReport.case_id, func.max(VisitReport.local_day))
        .where(VisitReport.case_id.in_(ids)).group_by(VisitReport.case_id)
    ):
        cases[case_id].last_visit = _latest(cases[case_id].last_visit, day)
    for case_id, status, plan in session.execute(
        select(RepaymentPromise.case_id, RepaymentPromise.status, RepaymentPromise.plan)
        .where(RepaymentPromise.case_id.in_(ids))
        .order_by(RepaymentPromise.signed_at, RepaymentPromise.id)
    ):  # the latest wins: a newer promise replaces a broken one
        cases[case_id].promise = (status, [(date.fromisoformat(i["due_on"]), i["amount_fen"])
                                           for i in json.loads(plan)])
    for case_id, received in session.execute(
        select(FieldProposal.case_id, func.min(FieldProposal.received_at))
        .where(FieldProposal.case_id.in_(ids), FieldProposal.kind == ProposalKind.ADDRESS,
               FieldProposal.status == ProposalStatus.PENDING)
        .group_by(FieldProposal.case_id)
    ):
        cases[case_id].address_proposed_on = _local_day(received, cases[case_id].timezone)
    worksite_debtors = set(session.scalars(
        select(Address.debtor_id).where(
            Address.kind == AddressKind.WORKSITE,
            Address.debtor_id.in_(select(Case.debtor_id).where(Case.id.in_(ids))),
        )
    ))
    for case in cases.values():
        case.business = case.business or case.debtor_id in worksite_debtors
    return cases


def _findings(c: _Case, now: datetime, t: Thresholds) -> list[Finding]:
    today = now.astimezone(_zone(c.timezone)).date()
    visited = c.last_visit

    def visited_on_or_after(day: date) -> bool:
        return visited is not None and visited >= day

    out: list[Finding] = []
    if c.promise is not None:
        status, plan = c.promise
        due_today = sum(amount for due_on, amount in plan if due_on == today)
        if due_today and status in STILL_DUE:
            out.append(Finding("promise_due", f"{due_today} fen promised for today, {today}"))
        missed = [due_on for due_on, _ in plan if due_on < today]
        if status in BROKEN_PROMISES and missed:
            day = max(missed)
            if (today - day).days <= t.promise_broken_days and not visited_on_or_after(
                    day + timedelta(days=1)):
                ago = (today - day).days
                out.append(Finding("promise_broken", f"{status.value}: promised for {day}, "
                                   f"{ago} days ago; last visit {visited or 'never'}"))
    if c.business and c.days_past_due >= t.business_day0_dpd:
        as_of = c.figures_as_of or today
        day0 = as_of - timedelta(days=c.days_past_due - t.business_day0_dpd)
        second = t.business_day0_dpd + t.business_second_visit_day
        if c.days_past_due < second and not visited_on_or_after(day0):
            out.append(Finding("business_first_visit", f"{c.days_past_due} days past due "
                               f"(day 0 was {day0}); no visit since"))
        elif second <= c.days_past_due <= t.business_playbook_last_dpd:
            day4 = day0 + timedelta(days=t.business_second_visit_day)
            if not visited_on_or_after(day4):
                out.append(Finding("business_second_visit", f"{c.days_past_due} days past due "
                                   f"(day {t.business_second_visit_day} was {day4}); last visit "
                                   f"{visited or 'never'}"))
    lost = _contact_lost(c, now, today, t)
    if lost:
        out.append(Finding("contact_lost", lost))
    failed = _calls_failed(c, now, t)
    if failed:
        out.append(Finding("calls_failed", failed))
    if c.days_past_due >= t.serious_dpd and (
            visited is None or (today - visited).days >= t.serious_visit_gap_days):
        since = "never visited" if visited is None else (
            f"last visit {visited}, {(today - visited).days} days ago")
        out.append(Finding("serious_arrears", f"{c.days_past_due} days past due ({c.bucket}); "
                           f"{since}"))
    return out


def _contact_lost(c: _Case, now: datetime, today: date, t: Thresholds) -> str | None:
    def not_visited_since(day: date) -> bool:
        return c.last_visit is None or c.last_visit < day

    window = now - timedelta(days=t.contact_lost_days)
    debtor_calls = [(at, o) for at, o, contact in c.calls if contact is None and at >= window]
    last = debtor_calls[-t.contact_lost_calls:]
    if (len(last) == t.contact_lost_calls and all(o in DEAD_NUMBER for _, o in last)
            and not_visited_since(_local_day(last[0][0], c.timezone))):
        outcomes = ", ".join(sorted({o.value for _, o in last}))
        return f"the debtor's last {len(last)} calls since {last[0][0]:%Y-%m-%d}: {outcomes}"
    if not c.has_phone and (c.last_visit is None
                            or (today - c.last_visit).days >= t.contact_lost_days):
        return "no phone on file for the debtor; last visit " + str(c.last_visit or "never")
    if c.address_proposed_on is not None and not_visited_since(c.address_proposed_on):
        return f"a new address was proposed in the field on {c.address_proposed_on}"
    return None


def contact_lost(
    session: Session, case_ids: list[int], now: datetime | None = None,
    thresholds: Thresholds = THRESHOLDS,
) -> dict[int, str]:
    """{case id: why} for the cases whose contact looks lost (the `contact_lost` rule): what
    suggests marking the debtor unreachable (fieldwork.reachability); never marks it."""
    now = now or utcnow()
    out = {}
    for case in _load_cases(session, case_ids, now, thresholds).values():
        today = now.astimezone(_zone(case.timezone)).date()
        why = _contact_lost(case, now, today, thresholds)
        if why:
            out[case.id] = why
    return out


def _calls_failed(c: _Case, now: datetime, t: Thresholds) -> str | None:
    window = now - timedelta(days=t.calls_failed_days)
    recent = [(at, o) for at, o, _ in c.calls if at >= window]
    reached = [i for i, (_, o) in enumerate(recent) if o in REACHED]
    failed = [(at, o) for at, o in recent[reached[-1] + 1 if reached else 0 :] if o in FAILED_CALLS]
    if len(failed) < t.calls_failed_min:
        return None
    first = _local_day(failed[0][0], c.timezone)
    if c.last_visit is not None and c.last_visit >= first:
        return None
    return (f"{len(failed)} failed calls since {first} (none connected); last visit "
            f"{c.last_visit or 'never'}")


def _visit_addresses(session: Session, cases: list[_Case]) -> dict[int, Address]:
    """Each case's address to visit: the first located one by kind (the business site first
    for the playbook rules), a confirmed one before an unconfirmed one."""
    by_debtor: dict[int, list[Address]] = defaultdict(list)
    debtor_ids = {c.debtor_id for c in cases}
    for chunk in _chunks(sorted(debtor_ids), 500):
        for address in session.scalars(
            select(Address).where(Address.debtor_id.in_(chunk), Address.lat.is_not(None),
                                  Address.lon.is_not(None))
        ):
            by_debtor[address.debtor_id].append(address)
    out = {}
    for c in cases:
        business = any(f.rule.startswith("business_") for f in c.findings)
        order = BUSINESS_ORDER if business else VISIT_ORDER
        located = sorted(by_debtor.get(c.debtor_id, ()), key=lambda a: (
            order.index(a.kind), a.confirmed_at is None, a.id))
        if located:
            out[c.id] = located[0]
    return out


@dataclass
class _Collector:
    id: int
    full_name: str
    base: tuple[float, float] | None
    open_cases: int
    planned: int = 0  # suggested to them earlier in this list


def open_case_counts(session: Session, collector_ids) -> dict[int, int]:
    """How many open (not settled or written-off) cases each collector holds."""
    ids = list(collector_ids)
    counts = dict.fromkeys(ids, 0)
    for chunk in _chunks(ids, 500):
        counts.update(session.execute(
            select(Case.collector_id, func.count())
            .where(Case.collector_id.in_(chunk), Case.status.not_in(CLOSED_STATUSES))
            .group_by(Case.collector_id)
        ).all())
    return counts


def _choose_collectors(
    session: Session, team_id: int, cases: list[_Case], addresses: dict[int, Address],
    t: Thresholds, now: datetime,
) -> dict[int, dict]:
    """Greedy in list order: each case to the collector with the lowest cost, km from base
    plus `km_per_open_case` per case held or already suggested; a case already held by an
    active collector of the team stays with them. Only collectors who may be sent to the case
    today are considered."""
    users = session.execute(
        select(User.id, User.full_name, User.base_lat, User.base_lon)
        .where(User.team_id == team_id, User.role == Role.COLLECTOR, User.is_active.is_(True))
        .order_by(User.id)
    ).all()
    counts = open_case_counts(session, [u.id for u in users])
    team = [_Collector(u.id, u.full_name,
                       (u.base_lat, u.base_lon) if u.base_lat is not None else None, counts[u.id])
            for u in users]
    by_id = {m.id: m for m in team}
    distances = _distance_matrix(cases, addresses, team)
    today = now.astimezone(_zone(session.get(Team, team_id).timezone)).date()
    policies = dispatch.PolicyBook(session, now)
    held = dispatch.authorisations_of(session, by_id)
    complaints = dispatch.open_complaints(session, [c.id for c in cases])
    out: dict[int, dict] = {}
    for row, case in enumerate(cases):
        policy = policies(case)
        complaint = complaints.get(case.id) if policy.block_dispatch_on_open_complaint else None
        may = [k for k in range(len(team))
               if dispatch.authorised(policy, team[k], held.get(team[k].id, []), case, today)]
        if complaint is not None or not may:
            blocked = (dispatch.complaint_sentence(case, complaint) if complaint is not None
                       else f"No collector of the team may be sent: none is authorised for "
                       f"lender {case.lender} in {case.jurisdiction} on {today}.")
            out[case.id] = {"suggested": None, "candidates": [], "blocked": blocked}
            continue
        ranked = sorted(
            may,
            key=lambda k: (math.isnan(distances[row][k]),
                           _cost(distances[row][k], team[k], t), team[k].id),
        )
        holder = by_id.get(case.collector_id)
        if holder is not None and team.index(holder) not in may:
            holder = None
        best = team.index(holder) if holder else ranked[0]
        figures = [_figures(team[k], distances[row][k], t) for k in ranked[: t.candidates]]
        choice = _figures(team[best], distances[row][best], t)
        choice["why"] = _why(choice, holder is not None, ranked, best, distances[row], team, t,
                             pool=[team[k] for k in may])
        if holder is None:
            team[best].planned += 1
        out[case.id] = {"suggested": choice, "candidates": figures, "blocked": None}
    return out


def _distance_matrix(cases, addresses, team) -> list[list[float]]:
    """Geodesic metres (WGS-84) from each case's visit address to each base; NaN if either
    is unknown. One vectorised `Geod.inv` call (pyproj): milliseconds for thousands of pairs."""
    matrix = [[math.nan] * len(team) for _ in cases]
    pairs = [(i, k) for i, c in enumerate(cases) if c.id in addresses
             for k, m in enumerate(team) if m.base is not None]
    if not pairs:
        return matrix
    points = [addresses[cases[i].id] for i, _ in pairs]
    _, _, metres = _GEOD.inv([team[k].base[1] for _, k in pairs],
                             [team[k].base[0] for _, k in pairs],
                             [p.lon for p in points], [p.lat for p in points])
    for (i, k), m in zip(pairs, metres, strict=True):
        matrix[i][k] = float(m)
    return matrix


def _cost(distance_m: float, m: _Collector, t: Thresholds) -> float:
    load = t.km_per_open_case * (m.open_cases + m.planned)
    return load if math.isnan(distance_m) else distance_m / 1000 + load


def _figures(m: _Collector, distance_m: float, t: Thresholds) -> dict:
    return {
        "collector_id": m.id,
        "full_name": m.full_name,
        "distance_m": None if math.isnan(distance_m) else round(float(distance_m), 1),
        "open_cases": m.open_cases,
        "planned": m.planned,
        "cost": round(_cost(distance_m, m, t), 3),
    }


def _why(
    choice: dict, holds: bool, ranked: list[int], best: int, row: list[float],
    team: list[_Collector], t: Thresholds, pool: list[_Collector],
) -> str:
    """Why `team[best]` was chosen among `pool`, the collectors who may be sent."""
    load = f"{choice['open_cases']} open cases"
    if choice["planned"]:
        load += f" (+{choice['planned']} suggested above)"
    where = ("base or address not located" if choice["distance_m"] is None
             else f"{choice['distance_m'] / 1000:.1f} km from base")
    if holds:
        return f"already holds the case; {where}; {load}"
    located = [k for k in ranked if not math.isnan(row[k])]
    nearest = (f", the nearest of {len(located)} located"
               if located and located[0] == best and len(located) > 1 else "")
    lightest = min(pool, key=lambda m: (m.open_cases + m.planned, m.id)) is team[best]
    authorised = "" if len(pool) == len(team) else " authorised"
    return (f"lowest cost of {len(pool)}{authorised} collectors (km from base + "
            f"{t.km_per_open_case:g} per open case): {where}{nearest}; {load}"
            + (", the lightest load" if lightest and len(pool) > 1 else ""))


def _item(c: _Case, address: Address | None, choice: dict, t: Thresholds) -> dict:
    first = min(c.findings, key=lambda f: RULES[f.rule].rank)
    return {
        "case_id": c.id,
        "contract_no": c.contract_no,
        "debtor_name": c.debtor_name,
        "bucket": c.bucket,
        "days_past_due": c.days_past_due,
        "overdue_fen": c.overdue_fen,
        "collector_id": c.collector_id,
        "address": None if address is None else {
            "id": address.id, "kind": address.kind, "text": address.text,
            "lat": address.lat, "lon": address.lon,
        },
        "rules": [{"id": f.rule, "sentence": RULES[f.rule].sentence(t), "detail": f.detail}
                  for f in sorted(c.findings, key=lambda f: RULES[f.rule].rank)],
        "suggested_collector": choice["suggested"],
        "candidates": choice["candidates"],
        "dispatch_blocked": choice["blocked"],
        "accept_reason": f"suggestion:{first.rule}",
    }


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_day(at: datetime, timezone: str) -> date:
    return at.astimezone(_zone(timezone)).date()


def _latest(a: date | None, b: date | None) -> date | None:
    return b if a is None else a if b is None else max(a, b)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]
