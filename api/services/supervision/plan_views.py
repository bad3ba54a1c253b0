"""Reading route plans: who sees which, a plan as the API shows it (audited: it carries
debtors' addresses), its GeoJSON for a map, and the document its collector's phone holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from api.models import Address, Case, Role, RoutePlan, RouteStop, StopStatus, User
from api.services.exceptions import Forbidden, NotFound
from api.services.identity import audit
from api.services.identity.access import visible_cases
from api.services.identity.accounts import Principal


def visible_plans(principal: Principal, stmt: Select | None = None) -> Select:
    """Collectors read their own plans, supervisors their team's, administrators all."""
    stmt = select(RoutePlan) if stmt is None else stmt
    if principal.role is Role.COLLECTOR:
        return stmt.where(RoutePlan.collector_id == principal.user_id)
    if principal.role is Role.SUPERVISOR:
        return stmt.where(RoutePlan.team_id == principal.team_id)
    if principal.role is Role.ADMIN:
        return stmt
    raise Forbidden("Your role does not read route plans.")


def get_visible_plan(
    session: Session, principal: Principal, plan_id: int, *, lock: bool = False
) -> RoutePlan:
    """The plan, or NotFound whether it is missing or someone else's."""
    stmt = visible_plans(principal).where(RoutePlan.id == plan_id)
    if lock:
        stmt = stmt.with_for_update()
    plan = session.scalar(stmt.options(selectinload(RoutePlan.stops)))
    if plan is None:
        raise NotFound("No such route plan.")
    return plan


# ----------------------------------------------------------------------------- the API's view


def route_order(plan: RoutePlan) -> list[RouteStop]:
    """The stops on the route (done and planned), in order."""
    on_route = [s for s in plan.stops if s.sequence is not None]
    return sorted(on_route, key=lambda s: s.sequence)


def totals(plan: RoutePlan) -> dict:
    counts = {status: 0 for status in StopStatus}
    for stop in plan.stops:
        counts[stop.status] += 1
    return {
        "stops": len(plan.stops),
        **{status.value: n for status, n in counts.items()},
        "distance_m": round(plan.distance_m, 1),
        "visit_s": sum(s.duration_s for s in plan.stops if s.status is StopStatus.PLANNED),
        "ends_at": plan.ends_at,
    }


def plan_summary(plan: RoutePlan, collector_name: str | None = None) -> dict:
    return {
        "id": plan.id,
        "version": plan.version,
        "status": plan.status,
        "collector_id": plan.collector_id,
        "collector_name": collector_name,
        "team_id": plan.team_id,
        "service_day": plan.service_day,
        "timezone": plan.timezone,
        "start": {"lat": plan.start_lat, "lon": plan.start_lon, "kind": plan.start_kind},
        "shift": {"start": plan.shift_start, "end": plan.shift_end},
        "departs_at": plan.departs_at,
        "planned_by_id": plan.planned_by_id,
        "created_at": plan.created_at,
        "superseded_at": plan.superseded_at,
        "replanned_from_id": plan.replanned_from_id,
        "solve_ms": round(plan.solve_ms, 1),
        "totals": totals(plan),
    }


def plan_views(session: Session, principal: Principal, plans: list[RoutePlan]) -> list[dict]:
    """Full views of plans the principal may read. A case the reader may not see (any more)
    keeps its place on the route without its contract, debtor or address text."""
    case_ids = {s.case_id for p in plans for s in p.stops}
    readable = set(
        session.scalars(visible_cases(principal, select(Case.id)).where(Case.id.in_(case_ids)))
    )
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(readable & case_ids)))}
    address_ids = {s.address_id for p in plans for s in p.stops if s.case_id in cases}
    texts = dict(
        session.execute(
            select(Address.id, Address.text).where(Address.id.in_(address_ids - {None}))
        ).all()
    )
    names = _names(session, {p.collector_id for p in plans})
    views = []
    for plan in plans:
        stops = [_stop_view(s, cases.get(s.case_id), texts) for s in plan.stops]
        view = plan_summary(plan, names.get(plan.collector_id))
        view["stops"] = [v for v, s in zip(stops, plan.stops, strict=True) if s.sequence]
        view["stops"].sort(key=lambda v: v["sequence"])
        view["unplanned"] = [v for v in stops if v["status"] is StopStatus.UNPLANNED]
        view["cancelled"] = [v for v in stops if v["status"] is StopStatus.CANCELLED]
        views.append(view)
    return views


def _stop_view(stop: RouteStop, case: Case | None, texts: dict) -> dict:
    window = None
    if stop.window_start is not None and stop.window_end is not None:
        window = {"start": stop.window_start, "end": stop.window_end}
    return {
        "sequence": stop.sequence,
        "case_id": stop.case_id,
        "contract_no": case.contract_no if case else None,
        "debtor_name": case.debtor.name if case else None,
        "address_id": stop.address_id,
        "address_text": texts.get(stop.address_id) if case else None,
        "lat": stop.lat,
        "lon": stop.lon,
        "window": window,
        "arrival": stop.planned_arrival,
        "start": stop.planned_start,
        "departure": stop.planned_departure,
        "travel_m": None if stop.travel_m is None else round(stop.travel_m, 1),
        "duration_s": stop.duration_s,
        "required": stop.required,
        "pinned": stop.pinned,
        "priority": stop.priority,
        "status": stop.status,
        "visit_report_id": stop.visit_report_id,
        "reason": stop.unplanned_reason,
        "detail": stop.unplanned_detail,
    }


def _names(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids))).all())


def read_plan(session: Session, principal: Principal, plan_id: int) -> dict:
    plan = get_visible_plan(session, principal, plan_id)
    view = plan_views(session, principal, [plan])[0]
    audit_read(session, principal, [plan])
    return view


def audit_read(session: Session, principal: Principal, plans: list[RoutePlan]) -> None:
    """A plan names debtors and their addresses: its read is audited like a case read."""
    audit.record(
        session,
        principal,
        "route.read",
        detail={
            "plan_ids": [p.id for p in plans],
            "case_ids": sorted({s.case_id for p in plans for s in p.stops}),
        },
    )


@dataclass
class PlanFilters:
    collector_id: int | None = None
    team_id: int | None = None
    day: date | None = None
    statuses: list[str] | None = None
    page: int = 1
    page_size: int = 50


def list_plans(session: Session, principal: Principal, f: PlanFilters) -> tuple[list[dict], int]:
    """One page of plan summaries (newest day first) and the total matching."""
    stmt = visible_plans(principal)
    if f.collector_id is not None:
        stmt = stmt.where(RoutePlan.collector_id == f.collector_id)
    if f.team_id is not None:
        stmt = stmt.where(RoutePlan.team_id == f.team_id)
    if f.day is not None:
        stmt = stmt.where(RoutePlan.service_day == f.day)
    if f.statuses:
        stmt = stmt.where(RoutePlan.status.in_(f.statuses))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    plans = session.scalars(
        stmt.options(selectinload(RoutePlan.stops))
        .order_by(RoutePlan.service_day.desc(), RoutePlan.id.desc())
        .limit(f.page_size)
        .offset((f.page - 1) * f.page_size)
    ).all()
    names = _names(session, {p.collector_id for p in plans})
    if plans:
        audit.record(session, principal, "route.list", detail={"plan_ids": [p.id for p in plans]})
    return [plan_summary(p, names.get(p.collector_id)) for p in plans], total


# ----------------------------------------------------------------------------- map and phone


def _position(lat: float, lon: float) -> list[float]:
    return [lon, lat]  # GeoJSON (RFC 7946) is longitude first, WGS-84


def geojson(plan: RoutePlan) -> dict:
    """The plan as a GeoJSON FeatureCollection: the route still to drive as a LineString
    (start, then the planned stops in order), the start, every stop on the route (done ones
    too) and every unplanned stop as Points."""
    order = route_order(plan)
    ahead = [s for s in order if s.status is StopStatus.PLANNED]
    start = _position(plan.start_lat, plan.start_lon)
    features = []
    if ahead:
        line = [start] + [_position(s.lat, s.lon) for s in ahead]
        features.append(
            _feature(
                {"type": "LineString", "coordinates": line},
                kind="route",
                plan_id=plan.id,
                collector_id=plan.collector_id,
                distance_m=round(plan.distance_m, 1),
                stops=len(ahead),
            )
        )
    features.append(
        _feature(
            {"type": "Point", "coordinates": start},
            kind="start",
            plan_id=plan.id,
            start_kind=plan.start_kind.value,
            departs_at=plan.departs_at.isoformat(),
        )
    )
    for s in order:
        features.append(
            _feature(
                {"type": "Point", "coordinates": _position(s.lat, s.lon)},
                kind="stop",
                sequence=s.sequence,
                case_id=s.case_id,
                status=s.status.value,
                arrival=_iso(s.planned_arrival),
                start=_iso(s.planned_start),
                departure=_iso(s.planned_departure),
                travel_m=s.travel_m,
                required=s.required,
                pinned=s.pinned,
            )
        )
    for s in plan.stops:
        if s.status is StopStatus.UNPLANNED:
            features.append(
                _feature(
                    {"type": "Point", "coordinates": _position(s.lat, s.lon)},
                    kind="unplanned",
                    case_id=s.case_id,
                    reason=s.unplanned_reason,
                    detail=s.unplanned_detail,
                    required=s.required,
                )
            )
    return {"type": "FeatureCollection", "features": features}


def _feature(geometry: dict, **properties) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def route_document(plan: RoutePlan, held: set[int] | None = None) -> dict:
    """What the collector's phone holds of a published plan: the order and times of the day,
    by case id (the case documents carry the debtors and addresses). A stop whose case the
    collector no longer holds (`held`: the case ids they do) keeps its place but not where."""

    def stop(s: RouteStop) -> dict:
        mine = held is None or s.case_id in held
        return {
            "sequence": s.sequence,
            "case_id": s.case_id,
            "address_id": s.address_id if mine else None,
            "lat": s.lat if mine else None,
            "lon": s.lon if mine else None,
            "window": {"start": _iso(s.window_start), "end": _iso(s.window_end)}
            if s.window_start and s.window_end
            else None,
            "arrival": _iso(s.planned_arrival),
            "start": _iso(s.planned_start),
            "departure": _iso(s.planned_departure),
            "travel_m": s.travel_m,
            "duration_s": s.duration_s,
            "required": s.required,
            "pinned": s.pinned,
            "status": s.status.value,
            "visit_report_id": s.visit_report_id,
        }

    return {
        "id": plan.id,
        "version": plan.version,
        "status": plan.status.value,
        "service_day": plan.service_day.isoformat(),
        "timezone": plan.timezone,
        "collector_id": plan.collector_id,
        "start": {"lat": plan.start_lat, "lon": plan.start_lon, "kind": plan.start_kind.value},
        "shift": {"start": _iso(plan.shift_start), "end": _iso(plan.shift_end)},
        "departs_at": _iso(plan.departs_at),
        "ends_at": _iso(plan.ends_at),
        "distance_m": plan.distance_m,
        "replanned_from_id": plan.replanned_from_id,
        "stops": [stop(s) for s in route_order(plan)],
        # By reason code only: the detail names the case's contract, and with `distribute` an
        # unplanned case may be held by someone else.
        "unplanned": [
            {"case_id": s.case_id, "required": s.required, "reason": s.unplanned_reason}
            for s in plan.stops
            if s.status is StopStatus.UNPLANNED
        ],
        "cancelled": [
            {"case_id": s.case_id, "reason": s.unplanned_reason}
            for s in plan.stops
            if s.status is StopStatus.CANCELLED
        ],
    }
