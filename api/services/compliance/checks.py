"""The rules a visit is checked against on receipt. Flags never block: the evidence is kept and
the exception surfaced for supervisors."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from api.config import Policy
from api.models import Geofence
from api.services.geo import geodesic_m


def geofence_verdict(
    fix: tuple[float, float, float] | None, target: tuple[float, float] | None, radius_m: float
) -> tuple[Geofence, float | None]:
    """Where the fix (lat, lon, accuracy radius in m) stands against a circle of `radius_m`
    around the target, taking the fix's uncertainty into account, and the distance in m."""
    if fix is None:
        return Geofence.NO_FIX, None
    if target is None:
        return Geofence.NO_TARGET, None
    lat, lon, accuracy = fix
    distance = geodesic_m(lat, lon, target[0], target[1])
    if distance + accuracy <= radius_m:
        return Geofence.INSIDE, distance
    if distance - accuracy > radius_m:
        return Geofence.OUTSIDE, distance
    return Geofence.UNCERTAIN, distance


def _parse(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


def within_visit_hours(moment: datetime, timezone: str, policy: Policy) -> bool:
    """True when `moment`, in the debtor's local time, is in [start, end): 21:59:59 is inside
    a 08:00–22:00 window, 22:00:00 is not."""
    local = moment.astimezone(ZoneInfo(timezone)).time()
    return _parse(policy.visit_hours_start) <= local < _parse(policy.visit_hours_end)


def within_contact_hours(moment: datetime, timezone: str, policy: Policy) -> bool:
    """True when `moment`, debtor-local, is in the policy's contact hours [start, end)."""
    local = moment.astimezone(ZoneInfo(timezone)).time()
    return _parse(policy.contact_hours_start) <= local < _parse(policy.contact_hours_end)


def visit_flags(
    *,
    started_at: datetime,
    ended_at: datetime,
    timezone: str,
    collectors: int,
    geofence: Geofence,
    mock_location: bool,
    clock_offset_s: float | None,
    policy: Policy,
) -> list[str]:
    flags = []
    if not (
        within_visit_hours(started_at, timezone, policy)
        and within_visit_hours(ended_at, timezone, policy)
    ):
        flags.append("outside_visit_hours")
    if collectors < policy.min_collectors_per_visit:
        flags.append("too_few_collectors")
    flags += {
        Geofence.OUTSIDE: ["far_from_address"],
        Geofence.UNCERTAIN: ["location_uncertain"],
        Geofence.NO_FIX: ["no_gps_fix"],
        Geofence.NO_TARGET: ["address_not_located"],
    }.get(geofence, [])
    if mock_location:
        flags.append("mock_location")
    if clock_offset_s is not None and abs(clock_offset_s) > policy.max_clock_offset_s:
        flags.append("device_clock_offset")
    return flags
