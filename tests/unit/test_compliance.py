"""Geofence and visit-hour rules at their boundaries, with real GPS photo coordinates."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from api.config import Policy
from api.models import Geofence
from api.services.compliance.checks import geofence_verdict, visit_flags, within_visit_hours
from api.services.geo import geodesic_m

PHOTOS = {
    p["file"]: p
    for p in json.loads(
        (Path(__file__).parent.parent / "data" / "photos_expected.json").read_text()
    )["files"]
}
# Two photos of one walk in Arezzo (tests/data/photos): a fix and a target address.
FIX = (PHOTOS["DSCN0010.jpg"]["gps_lat"], PHOTOS["DSCN0010.jpg"]["gps_lon"])
TARGET = (PHOTOS["DSCN0012.jpg"]["gps_lat"], PHOTOS["DSCN0012.jpg"]["gps_lon"])
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_two_photos_are_about_39_metres_apart():
    assert geodesic_m(*FIX, *TARGET) == pytest.approx(39.0, abs=1.5)


@pytest.mark.parametrize("accuracy", [0.0, 5.0, 25.0])
def test_geofence_boundaries_account_for_accuracy(accuracy):
    d = geodesic_m(*FIX, *TARGET)
    fix = (*FIX, accuracy)
    assert geofence_verdict(fix, TARGET, d + accuracy) == (Geofence.INSIDE, pytest.approx(d))
    assert geofence_verdict(fix, TARGET, d + accuracy - 0.01)[0] is (
        Geofence.UNCERTAIN if accuracy else Geofence.OUTSIDE
    )
    if accuracy:
        assert geofence_verdict(fix, TARGET, d - accuracy)[0] is Geofence.UNCERTAIN
    assert geofence_verdict(fix, TARGET, d - accuracy - 0.01)[0] is Geofence.OUTSIDE
    assert geofence_verdict(None, TARGET, 100)[0] is Geofence.NO_FIX
    assert geofence_verdict(fix, None, 100)[0] is Geofence.NO_TARGET


@pytest.mark.parametrize(
    "local, inside",
    [
        ("07:59:59", False),
        ("08:00:00", True),
        ("21:59:59", True),
        ("22:00:00", False),
        ("23:30:00", False),
        ("12:00:00", True),
    ],
)
def test_china_visit_hours_in_the_debtors_time(local, inside):
    hh, mm, ss = map(int, local.split(":"))
    moment = datetime(2026, 11, 20, hh, mm, ss, tzinfo=SHANGHAI).astimezone(UTC)
    assert within_visit_hours(moment, "Asia/Shanghai", Policy()) is inside


def test_the_debtors_zone_decides_not_the_servers():
    # 23:30 in Shanghai is 21:30 in Urumqi (GeoNames gives Ürümqi its own zone).
    moment = datetime(2026, 11, 20, 23, 30, tzinfo=SHANGHAI)
    assert not within_visit_hours(moment, "Asia/Shanghai", Policy())
    assert within_visit_hours(moment, "Asia/Urumqi", Policy())


@pytest.mark.parametrize(
    "zone, end, at, inside",
    [
        ("America/New_York", "21:00", "20:59:59", True),
        ("America/New_York", "21:00", "21:00:00", False),
        ("Asia/Kolkata", "19:00", "19:00:00", False),
    ],
)
def test_other_jurisdictions(zone, end, at, inside):
    hh, mm, ss = map(int, at.split(":"))
    moment = datetime(2026, 11, 20, hh, mm, ss, tzinfo=ZoneInfo(zone))
    assert within_visit_hours(moment, zone, Policy(visit_hours_end=end)) is inside


def test_flags_never_block_and_say_what_is_wrong():
    start = datetime(2026, 11, 20, 21, 50, tzinfo=SHANGHAI)
    flags = visit_flags(
        started_at=start,
        ended_at=start + timedelta(minutes=10),
        timezone="Asia/Shanghai",
        collectors=1,
        geofence=Geofence.OUTSIDE,
        mock_location=True,
        clock_offset_s=-301,
        policy=Policy(),
    )
    assert flags == [
        "outside_visit_hours",
        "too_few_collectors",
        "far_from_address",
        "mock_location",
        "device_clock_offset",
    ]
    clean = visit_flags(
        started_at=start - timedelta(hours=3),
        ended_at=start,
        timezone="Asia/Shanghai",
        collectors=2,
        geofence=Geofence.INSIDE,
        mock_location=False,
        clock_offset_s=300,
        policy=Policy(),
    )
    assert clean == []
