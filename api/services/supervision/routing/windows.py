"""Visit windows from debtor-local hours: "08:00–22:00 in Asia/Urumqi on 2 December" as an
aware UTC `TimeWindow` the planner can compare with anything else."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from api.services.supervision.routing.planner import TimeWindow


def _hhmm(value: str) -> time:
    hours, _, minutes = value.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"expected HH:MM, got {value!r}")
    h, m = int(hours), int(minutes)
    if h == 24 and m == 0:
        return time.max
    return time(h, m)


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time on `day` in `zone`. A time skipped by a DST jump falls to the same
    number of minutes after the jump; an ambiguous one (clocks back) is the earlier instant."""
    if at is time.max:  # "24:00": midnight that ends the day
        return datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone, fold=0)
    # A non-existent local time does not round-trip; zoneinfo then resolves it with the offset
    # before the gap, which lands after the jump in UTC terms: the behaviour wanted here.
    return aware.astimezone(UTC)


def visit_window(day: date, tz: str, start: str = "08:00", end: str = "22:00") -> TimeWindow:
    """The debtor-local visit hours `start`–`end` on the debtor-local `day`, as UTC. `end` may
    be "24:00"; an `end` not after `start` is refused (no overnight visit hours)."""
    zone = ZoneInfo(tz)
    a, b = _hhmm(start), _hhmm(end)
    if not (b is time.max or b > a):
        raise ValueError(f"visit hours {start}–{end} are empty")
    return TimeWindow(_local(day, a, zone), _local(day, b, zone))


def intersect(a: TimeWindow | None, b: TimeWindow | None) -> TimeWindow | None:
    """The part of two windows both allow (None is "any time"); an empty intersection is kept
    as an empty window (start after end) so the planner can say the window is closed."""
    if a is None:
        return b
    if b is None:
        return a
    return TimeWindow(max(a.start, b.start), min(a.end, b.end))
