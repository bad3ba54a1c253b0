"""The arithmetic under blackouts and the weekly cap: what a blackout leaves of a window, which
attempts one 7-day window holds, and when a moment breaks a blackout (debtor-local)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.models import Address, AddressKind, BlackoutKind, DebtorBlackout
from api.services.compliance.attempts import busiest_week_around
from api.services.compliance.blackouts import blocked, breaks_blackout, largest_free
from api.services.supervision.routing.planner import TimeWindow


def h(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_the_largest_free_part_is_kept_and_nothing_left_is_none():
    window = TimeWindow(h(8), h(22))
    assert largest_free(window, [TimeWindow(h(12), h(14))]) == TimeWindow(h(14), h(22))
    assert largest_free(window, [TimeWindow(h(7), h(9)), TimeWindow(h(16), h(23))]) == (
        TimeWindow(h(9), h(16)))
    assert largest_free(window, [TimeWindow(h(8), h(15)), TimeWindow(h(15), h(22))]) is None
    assert largest_free(window, []) == window


def test_blackouts_are_judged_on_the_debtors_clock_and_weekdays():
    sundays = DebtorBlackout(kind=BlackoutKind.TIME, weekdays="[7]")  # 6 December 2026
    noon = DebtorBlackout(kind=BlackoutKind.TIME, weekdays="[]", local_start="12:00",
                          local_end="14:00")
    zone = "Asia/Urumqi"  # UTC+6
    assert breaks_blackout([noon], zone, h(6), h(6))  # 12:00 Ürümqi
    assert not breaks_blackout([noon], zone, h(8), h(8))  # 14:00: the end is free again
    assert breaks_blackout([noon], zone, h(5, 50), h(6, 10))  # a visit across 12:00
    assert not breaks_blackout([sundays], zone, h(17, 59, day=5), h(17, 59, day=5))
    assert breaks_blackout([sundays], zone, h(18, day=5), h(18, day=5))  # Sunday 00:00 local


@pytest.mark.parametrize(("blackout", "applies"), [
    (DebtorBlackout(kind=BlackoutKind.PLACE, weekdays="[]", address_kind=AddressKind.WORK), True),
    (DebtorBlackout(kind=BlackoutKind.PLACE, weekdays="[]", address_id=99), False),
    (DebtorBlackout(kind=BlackoutKind.PLACE, weekdays="[]", address_id=7), True),
])
def test_a_place_blackout_blocks_only_its_place(blackout, applies):
    work = Address(id=7, kind=AddressKind.WORK)
    span = TimeWindow(h(1), h(2))
    assert bool(blocked([blackout], "Asia/Shanghai", span, work)) is applies
    assert blocked([blackout], "Asia/Shanghai", span, None) == []


def test_the_busiest_week_holding_a_late_attempt_counts_both_sides():
    week = timedelta(days=7)
    at = h(10, day=10)
    before = [at - timedelta(days=d) for d in (1, 2, 3)]
    after = [at + timedelta(days=d) for d in (1, 2, 3, 4)]
    # [at - 3d, at + 4d) holds the three before and three after; [at, at + 7d) only four.
    assert busiest_week_around(before + after, at) == 6
    assert busiest_week_around(after, at) == 4
    assert busiest_week_around(before, at) == 3
    assert busiest_week_around([at - week, at + week], at) == 0
