"""The two-collector rule, verifiable offline. Each collector at the door records their own
presence on their own phone (time and GPS fix) and pushes it whenever it syncs; the lead files
the visit report naming the others. A presence counts for a report of the same case when

- its collector is named in the report's `co_collectors` (or wrote the report),
- its fix is within `policy.co_presence_max_distance_m` of the report's best fix, and
- its time is within `policy.co_presence_max_gap_s` of the visit's [started_at, ended_at]
  (both bounds inclusive), under the case's policy when the report was filed.

Whichever arrives second, presence or report, settles the verdict: the report's verified
collectors and its `too_few_collectors` / `unverified_co_collector` flags are judged again.
A co-collector's attestation (`POST /auth/cosign`, typed on the lead's phone while online)
still verifies them too. Nothing here refuses a save: a presence that pairs with nothing is
kept, and may pair with a report that arrives later. A mock location never counts."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.config import Policy
from api.models import Case, VisitPresence, VisitReport
from api.services.compliance.policies import policy_by_ref, policy_for_case
from api.services.fieldwork.context import FieldContext
from api.services.geo import geodesic_m, to_wgs84
from api.services.row_locks import lock_case

UNVERIFIED, TOO_FEW = "unverified_co_collector", "too_few_collectors"
# The longest time gap a policy may set (api.config.Policy): how far around a presence's time
# the reports it might pair with are looked for.
LONGEST_GAP = timedelta(days=1)


def record_presence(ctx: FieldContext, data: dict) -> VisitPresence:
    """Store the filer's presence at the case's door, then settle the reports it pairs with."""
    lat, lon = to_wgs84(data["lat"], data["lon"], data["datum"])
    if data["mock"]:
        ctx.flags.append("mock_location")
    if ctx.clock_offset_s is not None and abs(ctx.clock_offset_s) > ctx.policy.max_clock_offset_s:
        ctx.flags.append("device_clock_offset")
    presence = VisitPresence(
        **ctx.record_fields(str(data["id"])),
        recorded_at=data["recorded_at"],
        lat=lat,
        lon=lon,
        accuracy_m=data["accuracy_m"],
        mock=data["mock"],
        flags=json.dumps(ctx.flags),
    )
    session = ctx.session
    lock_case(session, ctx.case.id)
    session.add(presence)
    session.flush()
    if presence.mock:
        return presence
    near = session.scalars(
        select(VisitReport)
        .where(
            VisitReport.case_id == ctx.case.id,
            VisitReport.started_at <= presence.recorded_at + LONGEST_GAP,
            VisitReport.ended_at >= presence.recorded_at - LONGEST_GAP,
        )
        .order_by(VisitReport.received_at, VisitReport.id)
    ).all()
    judged = [(r, _policy(session, ctx.case, r)) for r in near]
    paired = [(r, policy) for r, policy in judged if pairs(presence, _visit(r), policy)]
    for report, policy in paired:
        settle(session, report, policy)
    if paired:
        presence.visit_report_id = paired[-1][0].id  # the newest: a correction wins
    return presence


class Visit:
    """What pairing needs of a visit report, filed or being filed."""

    __slots__ = ("author_id", "co_ids", "ended_at", "fix", "started_at")

    def __init__(self, author_id: int, co_ids: Iterable[int], started_at: datetime,
                 ended_at: datetime, fix: tuple[float, float] | None):
        self.author_id, self.co_ids = author_id, set(co_ids)
        self.started_at, self.ended_at, self.fix = started_at, ended_at, fix


def _visit(report: VisitReport) -> Visit:
    fix = (report.lat, report.lon) if report.lat is not None else None
    named = [c["user_id"] for c in json.loads(report.co_collectors)]
    return Visit(report.author_id, named, report.started_at, report.ended_at, fix)


def _policy(session: Session, case: Case, report: VisitReport) -> Policy:
    """The policy version the report was judged under when it was filed."""
    return (policy_by_ref(session, report.policy_ref) if report.policy_ref else None) or (
        policy_for_case(session, case, report.client_time))


def pairs(presence: VisitPresence, visit: Visit, policy: Policy) -> bool:
    if presence.mock or visit.fix is None:
        return False
    if presence.author_id != visit.author_id and presence.author_id not in visit.co_ids:
        return False
    gap = timedelta(seconds=policy.co_presence_max_gap_s)
    if not visit.started_at - gap <= presence.recorded_at <= visit.ended_at + gap:
        return False
    distance = geodesic_m(presence.lat, presence.lon, *visit.fix)
    return distance <= policy.co_presence_max_distance_m


def presences_for(
    session: Session, case_id: int, visit: Visit, policy: Policy
) -> list[VisitPresence]:
    """The stored presences of the case that pair with `visit`, oldest first."""
    gap = timedelta(seconds=policy.co_presence_max_gap_s)
    candidates = session.scalars(
        select(VisitPresence)
        .where(
            VisitPresence.case_id == case_id,
            VisitPresence.author_id.in_({visit.author_id, *visit.co_ids}),
            VisitPresence.recorded_at >= visit.started_at - gap,
            VisitPresence.recorded_at <= visit.ended_at + gap,
        )
        .order_by(VisitPresence.recorded_at, VisitPresence.id)
    )
    return [p for p in candidates if pairs(p, visit, policy)]


def judge(
    author_id: int, claimed: list[dict], present: list[VisitPresence]
) -> tuple[list[int], list[dict]]:
    """The collectors a visit counts (author first) and each named co-collector as stored:
    `{"user_id", "verified", "cosigned", "presence_id"}`, verified by either way. `claimed`
    is `[{"user_id", "cosigned"}]`, as named."""
    first_presence: dict[int, str] = {}
    for p in present:
        first_presence.setdefault(p.author_id, p.id)
    collectors, named = [author_id], []
    for co in claimed:
        presence_id = first_presence.get(co["user_id"])
        verified = co["cosigned"] or presence_id is not None
        named.append({"user_id": co["user_id"], "verified": verified,
                      "cosigned": co["cosigned"], "presence_id": presence_id})
        if verified and co["user_id"] not in collectors:
            collectors.append(co["user_id"])
    return collectors, named


def flags_for(collectors: list[int], named: list[dict], policy: Policy) -> set[str]:
    """Which of the two-collector flags the verdict carries."""
    flags = set()
    if any(not c["verified"] for c in named):
        flags.add(UNVERIFIED)
    if len(collectors) < policy.min_collectors_per_visit:
        flags.add(TOO_FEW)
    return flags


def settle(session: Session, report: VisitReport, policy: Policy) -> None:
    """Judge a filed report's collectors again from its attestations and the presences now
    stored, and add or remove its two-collector flags (its other flags stay as they are)."""
    visit = _visit(report)
    claimed = [
        {"user_id": c["user_id"], "cosigned": c.get("cosigned", c["verified"])}
        for c in json.loads(report.co_collectors)
    ]
    present = presences_for(session, report.case_id, visit, policy)
    collectors, named = judge(report.author_id, claimed, present)
    wanted = flags_for(collectors, named, policy)
    flags = [f for f in json.loads(report.flags) if f not in (UNVERIFIED, TOO_FEW) or f in wanted]
    flags += sorted(wanted - set(flags))
    report.collector_ids = json.dumps(collectors)
    report.co_collectors = json.dumps(named)
    report.flags = json.dumps(flags)


def visit_collectors(
    ctx: FieldContext, data: dict, fix: tuple[float, float, float] | None
) -> tuple[list[int], list[dict], list[VisitPresence]]:
    """For a report being filed: its collectors (author first), each named co-collector as
    stored (see `judge`), and the stored presences that pair with it."""
    claimed = []
    for co in data["co_collectors"]:
        user_id = (
            ctx.verify_cosign(co["attestation"], data["started_at"], data["ended_at"])
            if ctx.verify_cosign
            else None
        )
        claimed.append({"user_id": co["user_id"], "cosigned": user_id == co["user_id"]})
    visit = Visit(ctx.user_id, [c["user_id"] for c in claimed], data["started_at"],
                  data["ended_at"], fix[:2] if fix else None)
    lock_case(ctx.session, ctx.case.id)
    present = (presences_for(ctx.session, ctx.case.id, visit, ctx.policy)
               if ctx.may_have_presences is None or ctx.may_have_presences(ctx.case.id) else [])
    collectors, named = judge(ctx.user_id, claimed, present)
    return collectors, named, present


def claim(session: Session, paired: list[VisitPresence], report_id: str) -> None:
    """The presences a new report (added to `session`) paired with now name it: it is the
    newest report they pair with. The report is written first, as they refer to it."""
    if paired:
        session.flush()
    for presence in paired:
        presence.visit_report_id = report_id
