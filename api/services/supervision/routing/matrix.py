"""Distance and travel-time matrices over WGS-84 points.

Distances are WGS-84 geodesics from pyproj's `Geod`, vectorised over all pairs at once (a
101×101 matrix in a few milliseconds; geopy stays for single distances in `api.services.geo`).
Travel time comes from a `TravelModel`, so a road-time matrix can replace the geodesic one
later without touching the planner."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pyproj import Geod

from api.services.supervision.routing.planner import Point

_GEOD = Geod(ellps="WGS84")


def geodesic_matrix_m(points: Sequence[Point]) -> np.ndarray:
    """Symmetric (n, n) float matrix of WGS-84 geodesic distances in metres."""
    n = len(points)
    out = np.zeros((n, n), dtype=np.float64)
    if n < 2:
        return out
    lats = np.fromiter((p.lat for p in points), dtype=np.float64, count=n)
    lons = np.fromiter((p.lon for p in points), dtype=np.float64, count=n)
    i, j = np.triu_indices(n, k=1)
    _, _, dist = _GEOD.inv(lons[i], lats[i], lons[j], lats[j])
    out[i, j] = dist
    out[j, i] = dist
    return out


@dataclass(frozen=True)
class TravelMatrices:
    """What a travel model answers for a list of points: metres (float, for display) and the
    integer metres and seconds the solver works in (seconds rounded up, never optimistic)."""

    distance_m: np.ndarray  # float64 (n, n)
    distance_int: np.ndarray  # int64 (n, n), metres
    duration_s: np.ndarray  # int64 (n, n), seconds


class TravelModel(Protocol):
    def matrices(self, points: Sequence[Point]) -> TravelMatrices:
        """Distances and travel times between every ordered pair of `points`."""
        ...


@dataclass(frozen=True)
class GeodesicTravel:
    """Straight-line (geodesic) distance at a constant speed; `detour` stretches both for
    roads that are not straight (1.0: none)."""

    speed_kmh: float = 30.0
    detour: float = 1.0

    def __post_init__(self) -> None:
        if not (self.speed_kmh > 0 and math.isfinite(self.speed_kmh)):
            raise ValueError("speed_kmh must be a positive number")
        if not (self.detour >= 1.0 and math.isfinite(self.detour)):
            raise ValueError("detour must be at least 1")

    def matrices(self, points: Sequence[Point]) -> TravelMatrices:
        metres = geodesic_matrix_m(points) * self.detour
        seconds = np.ceil(metres / (self.speed_kmh / 3.6)).astype(np.int64)
        return TravelMatrices(
            distance_m=metres,
            distance_int=np.rint(metres).astype(np.int64),
            duration_s=seconds,
        )
