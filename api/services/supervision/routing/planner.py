"""The planner interface: what a plan is asked for and what it answers, in the trade's terms.

Pure data, no database and no solver: the supervision service builds a `PlanRequest` from
cases, addresses and policy; a `Planner` (PyVRP by default) answers a `Plan`. Times are aware
datetimes (UTC inside); points are WGS-84 (convert GCJ-02/BD-09 before building a request)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True)
class TimeWindow:
    """The visit must start *and end* inside [start, end] (a 20-minute visit in a window ending
    22:00 starts by 21:40)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Stop:
    """One visit to plan. `window` is the intersection of the debtor's visit hours (debtor-local
    time, per policy) and any appointment; None means any time within the shift."""

    key: str  # the caller's id for the stop, e.g. "case:42"
    point: Point
    duration_s: int
    window: TimeWindow | None = None
    required: bool = False
    # Weight of leaving an optional stop out (bucket, promise due, amount): higher is kept first.
    priority: int = 1
    # Only this shift may take the stop (a case held by one collector); None: any shift.
    shift_key: str | None = None
    # The debtor's IANA zone, only to word reasons in local time ("08:00–22:00 Asia/Urumqi");
    # None words them in UTC. Windows themselves are aware datetimes either way.
    tz: str | None = None


@dataclass(frozen=True)
class Shift:
    """One collector's working day: leaves `start_point` no earlier than `start_at` and must be
    done by `end_at`; `end_point` None means the route ends at the last stop."""

    key: str  # e.g. "collector:7"
    start_point: Point
    start_at: datetime
    end_at: datetime
    end_point: Point | None = None


@dataclass(frozen=True)
class PlanRequest:
    stops: tuple[Stop, ...]
    shifts: tuple[Shift, ...]
    # Travel model over the geodesic matrix; a road-time matrix can replace it later.
    speed_kmh: float = 30.0
    time_limit_s: float = 1.0


@dataclass(frozen=True)
class PlannedStop:
    key: str
    sequence: int  # 1-based order within the route
    arrival: datetime
    start: datetime  # arrival, or later when waiting for the window to open
    departure: datetime
    travel_m: float  # from the previous stop (or the start point)


@dataclass(frozen=True)
class Route:
    shift_key: str
    stops: tuple[PlannedStop, ...]
    distance_m: float  # including the leg to end_point, when there is one
    ends_at: datetime


# Why a stop is not in any route.
WINDOW_CLOSED = "window_closed"  # no window left between the shift and the visit hours
UNREACHABLE = "unreachable"  # cannot be reached and finished inside its window and the shift
NO_SHIFT = "no_shift"  # restricted to a shift that is not in the request
NOT_WORTH_IT = "not_worth_it"  # optional, and the solver chose to leave it out


@dataclass(frozen=True)
class Unplanned:
    key: str
    required: bool
    reason: str  # one of the codes above
    detail: str  # a sentence a supervisor understands


@dataclass(frozen=True)
class Plan:
    routes: tuple[Route, ...]
    unplanned: tuple[Unplanned, ...] = field(default=())
    solve_ms: float = 0.0


class Planner(Protocol):
    def plan(self, request: PlanRequest) -> Plan:
        """Order the stops; every stop is either in exactly one route or in `unplanned`."""
        ...
