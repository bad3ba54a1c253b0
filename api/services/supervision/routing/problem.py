"""The integer routing problem the solver sees, and its answer: locations, visits and vehicles
in whole metres and seconds. The planner builds one from a `PlanRequest`; the benchmarks build
them from TSPLIB/Solomon/TSPTW files; both solve it through the same function and check the
answer with the same evaluator (`evaluate.py`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEVER = 2**40  # "no bound" for times: far beyond any day, far below int64 overflow


@dataclass(frozen=True)
class Visit:
    """A client. Service starts in [earliest, latest] (waiting allowed): `latest` is the latest
    *start*, so a window that must also contain the end is passed as `end - service_s`."""

    location: int
    service_s: int = 0
    earliest: int = 0
    latest: int = NEVER
    required: bool = True
    prize: int = 0  # what leaving an optional visit out costs, in the objective's units
    demand: int = 0
    vehicles: frozenset[int] | None = None  # the vehicle kinds allowed; None: any


@dataclass(frozen=True)
class Vehicle:
    """A kind of vehicle: leaves `start` no earlier than `earliest`, is back at `end` (or, for
    an open route, `end=None`, done with its last visit) by `latest`."""

    start: int
    end: int | None
    earliest: int = 0
    latest: int = NEVER
    count: int = 1
    capacity: int | None = None


@dataclass(frozen=True)
class RoutingProblem:
    distance: np.ndarray  # (L, L) int64: the objective's units (metres, or tenths)
    duration: np.ndarray  # (L, L) int64: seconds (or the instance's time units)
    visits: tuple[Visit, ...]
    vehicles: tuple[Vehicle, ...]

    def __post_init__(self) -> None:
        n = self.distance.shape[0]
        if self.distance.shape != (n, n) or self.duration.shape != (n, n):
            raise ValueError("distance and duration must be square and of the same size")
        used = [v.location for v in self.visits]
        used += [k.start for k in self.vehicles] + [
            k.end for k in self.vehicles if k.end is not None
        ]
        if used and not (min(used) >= 0 and max(used) < n):
            raise ValueError("a location index is outside the matrix")
        for v in self.visits:
            if v.vehicles is not None and not all(0 <= k < len(self.vehicles) for k in v.vehicles):
                raise ValueError("a visit names a vehicle kind that does not exist")


@dataclass(frozen=True)
class RouteOrder:
    """One vehicle's visits in order (indices into `RoutingProblem.visits`)."""

    vehicle: int
    visits: tuple[int, ...]


@dataclass(frozen=True)
class Solved:
    routes: tuple[RouteOrder, ...]
    solver_feasible: bool  # what the solver itself says; check with `evaluate` regardless
    iterations: int
    runtime_s: float
