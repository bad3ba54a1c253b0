"""The collectors of a team ranked by recovery *and* compliance: recovery alone is never the
only measure, and both are always shown.

    score = min(recovery achieved, 150%) × compliance
    compliance = geofence compliance × visit-hour compliance

Recovery achieved is recovered money over the period's share of the collector's recovery
target (`recovered_fen`, or the sum of the bucket targets when only those are set); capping it
at 150% keeps one large settlement from outweighing a month of clean work. Each compliance is
the share of the collector's visits without that flag (`far_from_address`,
`outside_visit_hours`); with no visits there is nothing to fault and it is 100%. So a collector
at 100% of target with one visit in five far from the address (80%) scores below one at 90%
whose visits are all clean. Collectors without a recovery target have no score and come last.
Ties go to the higher compliance, then to more money recovered, then to the lower id."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from api.models import Role
from api.services.exceptions import Forbidden
from api.services.identity.accounts import Principal
from api.services.supervision.progress import ratio_bp, team_progress

ACHIEVEMENT_CAP_BP = 15_000
BUCKET_TARGETS = ("m1_fen", "m2_fen", "m3_plus_fen")


def leaderboard(
    session: Session,
    principal: Principal,
    *,
    team_id: int | None,
    period: str = "month",
    month: date | None = None,
    day: date | None = None,
    as_of: datetime | None = None,
) -> dict:
    if principal.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("The leaderboard is for supervisors and administrators.")
    progress = team_progress(session, principal, team_id=team_id, period=period, month=month,
                             day=day, as_of=as_of)
    rows = [_row(c) for c in progress["collectors"]]
    rows.sort(key=lambda r: (r["score_bp"] is None, -(r["score_bp"] or 0), -r["compliance_bp"],
                             -r["recovered_fen"], r["collector_id"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    keep = ("team_id", "timezone", "month", "period", "first_day", "last_day", "as_of")
    return {**{k: progress[k] for k in keep}, "collectors": rows}


def _row(c: dict) -> dict:
    against, visits = c["against_target"], c["visits"]
    target = against["recovered_fen"]["target"]
    if target is None and any(against[m]["target"] is not None for m in BUCKET_TARGETS):
        target = sum(against[m]["target"] or 0 for m in BUCKET_TARGETS)
    recovered = c["recovered"]["total_fen"]
    achieved = ratio_bp(recovered, target) if target else None
    geofence = visits["geofence_compliance_bp"]
    hours = visits["visit_hour_compliance_bp"]
    compliance = ratio_bp((10_000 if geofence is None else geofence)
                          * (10_000 if hours is None else hours), 10_000 * 10_000)
    score = None
    if achieved is not None:
        score = ratio_bp(min(achieved, ACHIEVEMENT_CAP_BP) * compliance, 10_000 * 10_000)
    return {
        "collector_id": c["collector_id"],
        "name": c["name"],
        "recovered_fen": recovered,
        "recovery_target_fen": target,
        "recovery_achieved_bp": achieved,
        "visits": visits["count"],
        "geofence_compliance_bp": geofence,
        "visit_hour_compliance_bp": hours,
        "compliance_bp": compliance,
        "kept_rate_bp": c["promises"]["kept_rate_bp"],
        "score_bp": score,
    }
