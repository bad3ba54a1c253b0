"""Route plans: a collector's ordered visits for one service day, the stops that could not fit
(kept, with the reason), and the sealed document each published plan puts on the phone.

A plan is published when it is made; a re-plan (or a new plan for the same collector and day)
supersedes it, and the phone loses the old one through the change log. Times are UTC;
`service_day` is the date in the team's time zone (`timezone`) the plan is for."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.models.types import IdPk, UTCDateTime, enum_column, utcnow


class PlanStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"  # on the collector's phone
    SUPERSEDED = "superseded"  # replaced by a re-plan or a newer plan for the same day


class StartKind(enum.StrEnum):
    BASE = "base"  # the collector's base (User.base_lat/base_lon)
    POSITION = "position"  # a position given when planning (a phone's fix)


class StopStatus(enum.StrEnum):
    PLANNED = "planned"
    DONE = "done"  # a visit report was filed for the case that day by the plan's collector
    CANCELLED = "cancelled"  # dropped at a re-plan
    UNPLANNED = "unplanned"  # could not fit: see unplanned_reason / unplanned_detail


class RoutePlan(db.Model):
    __tablename__ = "route_plans"
    __table_args__ = (Index("ix_route_plans_collector_day", "collector_id", "service_day"),)

    id: Mapped[IdPk]
    collector_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    service_day: Mapped[date] = mapped_column(index=True)
    timezone: Mapped[str] = mapped_column(String(64))  # the team's, where service_day is a day
    status: Mapped[PlanStatus] = mapped_column(
        enum_column(PlanStatus, "status"), default=PlanStatus.PUBLISHED
    )
    start_kind: Mapped[StartKind] = mapped_column(enum_column(StartKind, "start_kind"))
    start_lat: Mapped[float] = mapped_column(Float)  # WGS-84
    start_lon: Mapped[float] = mapped_column(Float)
    shift_start: Mapped[datetime] = mapped_column(UTCDateTime)
    shift_end: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the route leaves the start point: the shift's start, or the moment of a re-plan.
    departs_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # departure from the last stop
    distance_m: Mapped[float] = mapped_column(Float, default=0.0)
    solve_ms: Mapped[float] = mapped_column(Float, default=0.0)
    planned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The plan this one replaced (a re-plan, or a newer plan for the same collector and day).
    replanned_from_id: Mapped[int | None] = mapped_column(ForeignKey("route_plans.id"), index=True)
    version: Mapped[int] = mapped_column(default=1)  # 1, 2, 3… per collector and day

    stops: Mapped[list[RouteStop]] = relationship(
        back_populates="plan",
        cascade="all, delete-orphan",
        order_by="RouteStop.id",  # planned stops in order, then the rest
    )


class RouteStop(db.Model):
    """One visit on a plan: planned (with its sequence and times), done, cancelled, or
    unplanned (no sequence, with the planner's reason)."""

    __tablename__ = "route_stops"

    id: Mapped[IdPk]
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("route_plans.id", ondelete="CASCADE"), index=True
    )
    sequence: Mapped[int | None]  # 1-based order on the route; None when not on it
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    address_id: Mapped[int | None] = mapped_column(
        ForeignKey("addresses.id", ondelete="SET NULL"), index=True
    )
    lat: Mapped[float] = mapped_column(Float)  # WGS-84, as planned
    lon: Mapped[float] = mapped_column(Float)
    # When the visit may take place (visit hours, debtor-local, and any appointment), UTC.
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    planned_arrival: Mapped[datetime | None] = mapped_column(UTCDateTime)
    planned_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    planned_departure: Mapped[datetime | None] = mapped_column(UTCDateTime)
    travel_m: Mapped[float | None] = mapped_column(Float)  # from the previous stop or the start
    duration_s: Mapped[int]
    required: Mapped[bool] = mapped_column(default=False)
    # Fixed by the supervisor: stays with the case's holder, and is required in every re-plan.
    pinned: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[int] = mapped_column(default=1)
    status: Mapped[StopStatus] = mapped_column(
        enum_column(StopStatus, "status"), default=StopStatus.PLANNED
    )
    unplanned_reason: Mapped[str | None] = mapped_column(String(20))
    unplanned_detail: Mapped[str | None] = mapped_column(String(400))
    # The visit that made a stop done.
    visit_report_id: Mapped[str | None] = mapped_column(
        ForeignKey("visit_reports.id", ondelete="SET NULL"), index=True
    )

    plan: Mapped[RoutePlan] = relationship(back_populates="stops")


class RouteDocument(db.Model):
    """The device-facing JSON of a published plan, sealed at write time like a case document.
    A row exists exactly while the plan is in its collector's sync bucket."""

    __tablename__ = "route_documents"

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("route_plans.id", ondelete="CASCADE"), primary_key=True
    )
    collector_id: Mapped[int] = mapped_column(BigInteger, index=True)
    service_day: Mapped[date]
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
