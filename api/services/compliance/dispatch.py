"""Who may be sent to a case, and when nobody may: the checks made at every dispatch point (a
case given to a collector, a route plan, a re-plan), each judged under the case's policy.

- `collector_authorised`: with `collector_authorisation_required`, the collector holds an
  authorisation for the case's lender (or `*`) in its jurisdiction that is valid on the
  dispatch day: from `valid_from` through `expires_on` (the last valid day), not revoked.
- `open_complaint_no_dispatch`: with `block_dispatch_on_open_complaint`, no complaint about the
  case is open or assigned.

`dispatch_refusals` answers every reason at once (two queries whatever the number of cases),
so a bulk request can name every offending case; `refuse` turns them into one `RuleBreach`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.config import Policy
from api.models import Case, CollectorAuthorisation, Complaint, User
from api.models.complaints import OPEN_COMPLAINT
from api.models.compliance import ANY_LENDER
from api.services.compliance.breaches import RuleBreach
from api.services.compliance.policies import policy_for_case

AUTHORISED = "collector_authorised"
COMPLAINT = "open_complaint_no_dispatch"


@dataclass(frozen=True)
class Refusal:
    """Why `case_id` may not go to `collector_id` (None: to nobody, whoever it is)."""

    case_id: int
    collector_id: int | None
    rule: str
    policy: Policy
    sentence: str


class PolicyBook:
    """The policy of each case at one moment, looked up once per (policy, jurisdiction,
    lender) within a request. Takes anything with a case's `policy_id`, `jurisdiction` and
    `lender`."""

    def __init__(self, session: Session, at: datetime):
        self.session, self.at, self._known = session, at, {}

    def __call__(self, case: Case) -> Policy:
        key = (case.policy_id, case.jurisdiction, case.lender)
        if key not in self._known:
            self._known[key] = policy_for_case(self.session, case, self.at)
        return self._known[key]


def dispatch_day(collector: User, at: datetime) -> date:
    """The day a case given at `at` is dispatched on: the collector's team's local day."""
    zone = collector.team.timezone if collector.team is not None else "Asia/Shanghai"
    return at.astimezone(ZoneInfo(zone)).date()


def authorisations_of(
    session: Session, collector_ids: Iterable[int]
) -> dict[int, list[CollectorAuthorisation]]:
    """Every authorisation each collector was ever granted, newest first."""
    ids = sorted(set(collector_ids))
    held: dict[int, list[CollectorAuthorisation]] = defaultdict(list)
    if ids:
        for row in session.scalars(
            select(CollectorAuthorisation)
            .where(CollectorAuthorisation.collector_id.in_(ids))
            .order_by(CollectorAuthorisation.granted_at.desc(), CollectorAuthorisation.id.desc())
        ):
            held[row.collector_id].append(row)
    return held


def valid_on(row: CollectorAuthorisation, day: date) -> bool:
    return (
        row.revoked_at is None
        and row.valid_from <= day
        and (row.expires_on is None or day <= row.expires_on)
    )


def authorisation_problem(
    collector: User, rows: list[CollectorAuthorisation], lender: str, jurisdiction: str, day: date
) -> str | None:
    """None when one of `rows` covers the lender and jurisdiction on `day`; else why not, in
    words a supervisor understands (naming the newest certificate that would have covered it)."""
    matching = [r for r in rows
                if r.jurisdiction == jurisdiction and r.lender in (lender, ANY_LENDER)]
    if any(valid_on(r, day) for r in matching):
        return None
    who = f"Collector {collector.full_name}"
    scope = f"for lender {lender} in {jurisdiction}"
    if not matching:
        return f"{who} holds no authorisation {scope}."
    row = matching[0]
    certificate = f"{who}'s certificate {row.certificate_no} {scope}"
    if row.revoked_at is not None:
        return f"{certificate} was revoked on {row.revoked_at.date().isoformat()}."
    if row.expires_on is not None and row.expires_on < day:
        return f"{certificate} expired on {row.expires_on.isoformat()}."
    return f"{certificate} is valid only from {row.valid_from.isoformat()}, not on {day}."


def authorised(
    policy: Policy, collector: User, rows: list[CollectorAuthorisation], case: Case, day: date
) -> bool:
    """May `collector` (holding `rows`) be sent to `case` on `day` under `policy`?"""
    return not policy.collector_authorisation_required or authorisation_problem(
        collector, rows, case.lender, case.jurisdiction, day) is None


def open_complaints(session: Session, case_ids: Iterable[int]) -> dict[int, Complaint]:
    """The oldest open (or assigned) complaint about each case that has one."""
    ids = sorted(set(case_ids))
    found: dict[int, Complaint] = {}
    for start in range(0, len(ids), 500):
        for row in session.scalars(
            select(Complaint)
            .where(Complaint.case_id.in_(ids[start : start + 500]),
                   Complaint.status.in_(OPEN_COMPLAINT))
            .order_by(Complaint.received_at.desc(), Complaint.id.desc())
        ):
            found[row.case_id] = row  # the last one written is the oldest
    return found


def complaint_sentence(case: Case, complaint: Complaint) -> str:
    return (
        f"Case {case.contract_no} has an open complaint (no. {complaint.id}, received "
        f"{complaint.received_at.date().isoformat()}): nobody may be sent until it is closed."
    )


def dispatch_refusals(
    session: Session,
    dispatches: Iterable[tuple[Case, User]],
    *,
    day: date,
    at: datetime,
    policies: PolicyBook | None = None,
) -> list[Refusal]:
    """Every reason the (case, collector) pairs may not be dispatched on `day` (under each
    case's policy at `at`), in the order given; a complaint once per case."""
    pairs = list(dispatches)
    policies = policies or PolicyBook(session, at)
    held = authorisations_of(session, (c.id for _, c in pairs))
    complaints = open_complaints(session, (case.id for case, _ in pairs))
    out, seen = [], set()
    for case, collector in pairs:
        policy = policies(case)
        complaint = complaints.get(case.id)
        if complaint is not None and policy.block_dispatch_on_open_complaint \
                and case.id not in seen:
            out.append(Refusal(case.id, None, COMPLAINT, policy,
                               complaint_sentence(case, complaint)))
        seen.add(case.id)
        if policy.collector_authorisation_required:
            problem = authorisation_problem(
                collector, held.get(collector.id, []), case.lender, case.jurisdiction, day)
            if problem is not None:
                out.append(Refusal(case.id, collector.id, AUTHORISED, policy, problem))
    return out


def refuse(
    refusals: list[Refusal],
    field_of: Callable[[Refusal], str],
    *,
    message: str | None = None,
    name_cases: bool = False,
    also: dict[str, list[str]] | None = None,
) -> None:
    """Raise one `RuleBreach` for every refusal (the first names the rule and the policy): each
    sentence once under the field `field_of` gives it, followed by the cases it stops when
    `name_cases`; `also` adds other problems of the request."""
    if not refusals:
        return
    grouped: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in refusals:
        cases = grouped[(field_of(r), r.sentence)]
        if r.case_id not in cases:
            cases.append(r.case_id)
    fields: dict[str, list[str]] = {k: list(v) for k, v in (also or {}).items()}
    for (name, sentence), case_ids in grouped.items():
        noun = "case" if len(case_ids) == 1 else "cases"
        text = f"{sentence} ({noun} {', '.join(map(str, case_ids))})" if name_cases else sentence
        fields.setdefault(name, []).append(text)
    first = refusals[0]
    raise RuleBreach(first.rule, first.policy, message or first.sentence, fields=fields)


def check_dispatch(
    session: Session,
    dispatches: Iterable[tuple[Case, User]],
    *,
    day: date,
    at: datetime,
    field_of: Callable[[Refusal], str],
    message: str | None = None,
) -> None:
    """Refuse (one `RuleBreach` naming every reason) unless every pair may be dispatched."""
    refuse(dispatch_refusals(session, dispatches, day=day, at=at), field_of, message=message)
