"""The compliance rules a stop's window keeps, and why a stop that did not fit failed.

Each stop's window is the debtor's visit hours under the case's own policy (debtor-local),
cut to the appointment, then trimmed by the debtor's blackouts to the largest interval they
leave. When the planner cannot fit a required stop because of that window, the plan is refused
with a `RuleBreach` (`visit_hours` or `blackout`) naming the stop; an optional stop the
blackouts close is left unplanned with the reason `blackout`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from api.config import Policy
from api.models import Address, Case, DebtorBlackout
from api.services.compliance import blackouts
from api.services.compliance.breaches import RuleBreach
from api.services.supervision.routing.planner import WINDOW_CLOSED, Plan, TimeWindow, Unplanned
from api.services.supervision.routing.windows import intersect

BLACKOUT = "blackout"  # RouteStop.unplanned_reason of a stop the debtor's blackouts close


@dataclass(frozen=True)
class StopHours:
    """What one stop's window was made of, to explain a failure."""

    case: Case
    field: str  # "stops.2"
    policy: Policy
    zone: str
    duration_s: int
    asked: TimeWindow | None  # the appointment; None: any time
    hours: TimeWindow  # the policy's visit hours, cut to the appointment
    window: TimeWindow  # after the blackouts (empty when they leave nothing)
    declared: tuple[DebtorBlackout, ...]  # the blackouts that cut it


def trim(hours: TimeWindow, declared: list[DebtorBlackout], zone: str,
         address: Address | None) -> tuple[TimeWindow, tuple[DebtorBlackout, ...]]:
    """The largest part of `hours` the blackouts at `address` leave (empty when none), and
    the blackouts that cut into it."""
    cutting = tuple(b for b in declared if any(
        w.start < hours.end and hours.start < w.end
        for w in blackouts.blocked([b], zone, hours, address)))
    if not cutting:
        return hours, ()
    free = blackouts.largest_free(hours, blackouts.blocked(list(cutting), zone, hours, address))
    return (free or TimeWindow(hours.start, hours.start)), cutting


def _room(window: TimeWindow | None, span: TimeWindow, duration_s: int) -> bool:
    both = intersect(span, window)
    return both.end - both.start >= timedelta(seconds=duration_s)


def cause(judged: StopHours, span: TimeWindow) -> str | None:
    """The rule that closed the stop's window within `span` (the shift), if one did: the
    appointment and shift left room, the policy's hours or the blackouts did not."""
    if not _room(judged.asked, span, judged.duration_s):
        return None  # the request itself leaves no room
    if not _room(judged.hours, span, judged.duration_s):
        return "visit_hours"
    if not _room(judged.window, span, judged.duration_s):
        return BLACKOUT
    return None


def sentence(rule: str, judged: StopHours, detail: str) -> str:
    policy, case = judged.policy, judged.case
    who = f"Case {case.id} ({case.contract_no})"
    if rule == "visit_hours":
        return (f"{who} may be visited only {policy.visit_hours_start}–{policy.visit_hours_end} "
                f"{judged.zone} under {policy.ref}: {detail}")
    said = "; ".join(blackouts.describe(b) for b in judged.declared)
    return (f"{who}: the debtor declared no visits {said} ({judged.zone}); what is left of the "
            f"visit hours leaves no room for a {judged.duration_s // 60}-minute visit.")


def explain(answer: Plan, judged: dict[str, StopHours], span: TimeWindow) -> Plan:
    """Refuse the plan when a required stop failed because of a rule; word an optional stop
    the blackouts closed as unplanned for `blackout`. The other failures are the planner's."""
    breaches: dict[str, list[tuple[StopHours, str]]] = {}
    unplanned = []
    for u in answer.unplanned:
        stop = judged[u.key]
        rule = cause(stop, span) if u.reason == WINDOW_CLOSED else None
        if rule and u.required:
            breaches.setdefault(rule, []).append((stop, u.detail))
        elif rule == BLACKOUT:
            u = Unplanned(u.key, False, BLACKOUT, sentence(BLACKOUT, stop, u.detail))
        unplanned.append(u)
    if breaches:
        rule, stops = next(iter(breaches.items()))
        first = stops[0][0]
        raise RuleBreach(
            rule, first.policy, " ".join(sentence(rule, s, d) for s, d in stops),
            fields={s.field: [sentence(rule, s, d)] for s, d in stops})
    return replace(answer, unplanned=tuple(unplanned))
