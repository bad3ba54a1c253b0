"""Writing route plans: a new published version of a collector's day (superseding whatever
was published for it), and the rows of its stops, planned or not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import Case, PlanStatus, RoutePlan, RouteStop, StartKind, StopStatus, User
from api.services.geo import WGS84, to_wgs84, validate_coordinates
from api.services.supervision.routing.planner import (
    PlannedStop,
    Point,
    Route,
    Stop,
    TimeWindow,
    Unplanned,
)

TIME_LIMIT_S = 1.0  # the solver stops earlier once it stalls (small days: milliseconds)
# A collector waits at the door for a re-plan: one route, seeded with the old order.
REPLAN_TIME_LIMIT_S = 0.3


@dataclass(frozen=True)
class StartPoint:
    lat: float
    lon: float
    datum: str = WGS84

    def wgs84(self, field: str) -> Point:
        lat, lon = validate_coordinates(self.lat, self.lon, f"{field}.")
        return Point(*to_wgs84(lat, lon, self.datum))


def collector_key(user_id: int) -> str:
    return f"collector {user_id}"


def new_plan(
    session: Session,
    collector: User,
    day: date,
    zone: str,
    planned_by_id: int,
    now: datetime,
    *,
    start: Point,
    start_kind: StartKind,
    shift: TimeWindow,
    departs_at: datetime,
    solve_ms: float,
    replaces: RoutePlan | None = None,
) -> RoutePlan:
    """A published plan for the collector's day, superseding whatever was published for it.
    The collector's row is locked first: two plans for one day made at once queue, and the
    second supersedes the first."""
    session.execute(select(User.id).where(User.id == collector.id).with_for_update())
    current = session.scalars(
        select(RoutePlan)
        .where(
            RoutePlan.collector_id == collector.id,
            RoutePlan.service_day == day,
            RoutePlan.status == PlanStatus.PUBLISHED,
        )
        .order_by(RoutePlan.id)
    ).all()
    for old in current:
        old.status, old.superseded_at = PlanStatus.SUPERSEDED, now
    previous = replaces or (current[-1] if current else None)
    version = session.scalar(
        select(func.max(RoutePlan.version)).where(
            RoutePlan.collector_id == collector.id, RoutePlan.service_day == day
        )
    )
    plan = RoutePlan(
        collector_id=collector.id,
        team_id=collector.team_id,
        service_day=day,
        timezone=zone,
        status=PlanStatus.PUBLISHED,
        start_kind=start_kind,
        start_lat=start.lat,
        start_lon=start.lon,
        shift_start=shift.start,
        shift_end=shift.end,
        departs_at=departs_at,
        planned_by_id=planned_by_id,
        created_at=now,
        replanned_from_id=previous.id if previous is not None else None,
        version=(version or 0) + 1,
        solve_ms=solve_ms,
    )
    session.add(plan)
    return plan


def stop_row(
    stop: Stop,
    case: Case,
    address_id: int | None,
    pinned: bool,
    *,
    planned: PlannedStop | None = None,
    sequence: int | None = None,
    unplanned: Unplanned | None = None,
) -> RouteStop:
    row = RouteStop(
        case_id=case.id,
        address_id=address_id,
        lat=stop.point.lat,
        lon=stop.point.lon,
        window_start=stop.window.start if stop.window else None,
        window_end=stop.window.end if stop.window else None,
        duration_s=stop.duration_s,
        required=stop.required,
        pinned=pinned,
        priority=stop.priority,
        status=StopStatus.PLANNED if planned else StopStatus.UNPLANNED,
    )
    if planned is not None:
        row.sequence = sequence
        row.planned_arrival, row.planned_start = planned.arrival, planned.start
        row.planned_departure, row.travel_m = planned.departure, planned.travel_m
    if unplanned is not None:
        row.unplanned_reason, row.unplanned_detail = unplanned.reason, unplanned.detail[:400]
    return row


def finish(plan: RoutePlan, route: Route | None) -> None:
    plan.distance_m = route.distance_m if route else 0.0
    plan.ends_at = route.ends_at if route and route.stops else None
