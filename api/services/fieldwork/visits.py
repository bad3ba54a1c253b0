"""Visit reports: where the collector stood, who was there, what came of it. On receipt the
server measures the distance to the visited address, gives a geofence verdict and flags what
breaks the policy; a flag never blocks the save. A correction supersedes, never overwrites."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from api.models import Address, Contact, Geofence, VisitReport
from api.models.cases import CoordSource
from api.services.compliance import attempts, blackouts, checks, contact_rules
from api.services.exceptions import InvalidInput
from api.services.fieldwork import presence
from api.services.fieldwork.context import FieldContext, id_or_none
from api.services.fieldwork.declarations import declare_files
from api.services.geo import to_wgs84

CONFIRMING_ACCURACY_M = 50.0  # a fix this good, on site, confirms the address


def file_visit(ctx: FieldContext, data: dict) -> VisitReport:
    session, case = ctx.session, ctx.case
    record_id = str(data["id"])
    address = ctx.own(Address, data["address_id"], "address_id", debtor=True)
    ctx.own(Contact, data["met_contact_id"], "met_contact_id", debtor=True)
    contact_rules.check_visit_amounts(ctx, data)
    if data["supersedes_id"] is not None:
        old = session.get(VisitReport, str(data["supersedes_id"]))
        if old is None or old.case_id != case.id:
            raise InvalidInput(
                "The report to correct is not one of this case's.",
                fields={"supersedes_id": ["no such report on this case"]},
            )
    fixes = [{**f, "wgs84": to_wgs84(f["lat"], f["lon"], f["datum"])} for f in data["fixes"]]
    best = min(fixes, key=lambda f: f["accuracy_m"], default=None)
    fix = (*best["wgs84"], best["accuracy_m"]) if best else None
    collectors, named, present = presence.visit_collectors(ctx, data, fix)
    if presence.UNVERIFIED in presence.flags_for(collectors, named, ctx.policy):
        ctx.flags.append(presence.UNVERIFIED)
    target = (address.lat, address.lon) if address and address.lat is not None else None
    verdict, distance = checks.geofence_verdict(fix, target, ctx.policy.geofence_radius_m)
    mock = any(f["mock"] for f in fixes)
    ctx.flags += checks.visit_flags(
        started_at=data["started_at"],
        ended_at=data["ended_at"],
        timezone=ctx.timezone,
        collectors=len(collectors),
        geofence=verdict,
        mock_location=mock,
        clock_offset_s=ctx.clock_offset_s,
        policy=ctx.policy,
    )
    ctx.flags += _blackout_and_cap_flags(ctx, address, data)
    report = VisitReport(
        **ctx.record_fields(record_id),
        supersedes_id=id_or_none(data["supersedes_id"]),
        address_id=address.id if address else None,
        started_at=data["started_at"],
        ended_at=data["ended_at"],
        local_day=data["started_at"].astimezone(ZoneInfo(ctx.timezone)).date(),
        collector_ids=json.dumps(collectors),
        co_collectors=json.dumps(named),
        fixes=json.dumps([_fix_json(f) for f in fixes]),
        lat=fix[0] if fix else None,
        lon=fix[1] if fix else None,
        accuracy_m=fix[2] if fix else None,
        met=data["met"],
        met_contact_id=data["met_contact_id"],
        outcome=data["outcome"],
        reason=data["reason"],
        promised_fen=data["promised_fen"],
        collected_fen=data["collected_fen"],
        next_step=data["next_step"],
        follow_up_on=data["follow_up_on"],
        notes=data["notes"],
        distance_m=distance,
        geofence=verdict,
        flags=json.dumps(ctx.flags),
        device_clock_offset_s=ctx.clock_offset_s,
    )
    session.add(report)
    presence.claim(session, present, record_id)
    declare_files(ctx, "visit_report", record_id, data["files"])
    if (
        address is not None
        and fix is not None
        and not mock
        and fix[2] <= CONFIRMING_ACCURACY_M
        and not ctx.case_reassigned
    ):
        _confirm_address(address, verdict, fix, data["started_at"])
    return report


def _blackout_and_cap_flags(ctx: FieldContext, address: Address | None, data: dict) -> list[str]:
    """`in_blackout` at a time or place the debtor declared off limits; the attempt caps when
    the policy counts visits (a correction is the same visit)."""
    flags = []
    declared = (ctx.blackouts_of or (lambda d: blackouts.of_debtor(ctx.session, d)))(
        ctx.case.debtor_id)
    started_at = data["started_at"]
    if blackouts.breaks_blackout(declared, ctx.timezone, started_at, data["ended_at"], address):
        flags.append("in_blackout")
    if data["supersedes_id"] is None and attempts.counts_as_attempt(ctx.policy, None):
        flags += attempts.cap_flags(ctx.session, ctx.policy, ctx.case.debtor_id, started_at,
                                    ctx.timezone)
    return flags


def _confirm_address(address: Address, verdict: Geofence, fix, when: datetime) -> None:
    """A good fix on site confirms the address; one without coordinates learns them."""
    if verdict is Geofence.INSIDE:
        address.confirmed_at = when
    elif verdict is Geofence.NO_TARGET:
        address.lat, address.lon = fix[0], fix[1]
        address.coord_source, address.source_datum = CoordSource.VISIT, "WGS84"
        address.confirmed_at = when


def _fix_json(fix: dict) -> dict:
    return {
        "lat": fix["wgs84"][0],
        "lon": fix["wgs84"][1],
        "accuracy_m": fix["accuracy_m"],
        "provider": fix["provider"],
        "mock": fix["mock"],
        "fix_time": fix["fix_time"].astimezone(UTC).isoformat(),
        "reported": {"lat": fix["lat"], "lon": fix["lon"], "datum": fix["datum"]},
    }
