"""Vehicles and machines in the field: sightings (VIN, engine number and plate read on site and
compared with the file) and repossessions (拖车)."""

from __future__ import annotations

from api.models import Collateral, Repossession, RepossessionStatus, VehicleSighting
from api.services.casefile.identifiers import (
    normalize_engine_number,
    normalize_plate,
    normalize_vin,
)
from api.services.exceptions import InvalidInput
from api.services.fieldwork.context import FieldContext, id_or_none
from api.services.fieldwork.declarations import declare_files


def _read(normalize, value: str | None, field: str) -> str | None:
    """Normalise what was read on site; an unreadable value is kept as typed (upper-cased)."""
    if not value:
        return None
    try:
        return normalize(value, field=field)
    except InvalidInput:
        return value.strip().upper()


def _match(read: str | None, on_file: str | None) -> bool | None:
    return None if read is None or on_file is None else read == on_file


def record_sighting(ctx: FieldContext, data: dict) -> VehicleSighting:
    """A sighting whose VIN matches (and engine number does not contradict) locates the
    vehicle; a mismatch is flagged."""
    record_id = str(data["id"])
    vehicle = ctx.own(Collateral, data["collateral_id"], "collateral_id")
    vin = _read(normalize_vin, data["vin_read"], "vin_read")
    engine = _read(normalize_engine_number, data["engine_no_read"], "engine_no_read")
    plate = _read(normalize_plate, data["plate_read"], "plate_read")
    sighting = VehicleSighting(
        **ctx.record_fields(record_id),
        collateral_id=vehicle.id,
        vin_read=vin,
        engine_no_read=engine,
        plate_read=plate,
        vin_match=_match(vin, vehicle.vin),
        engine_no_match=_match(engine, vehicle.engine_no),
        plate_match=_match(plate, vehicle.plate),
        seen_at=data["seen_at"],
        lat=data["lat"],
        lon=data["lon"],
        place_text=data["place_text"],
        notes=data["notes"],
    )
    ctx.session.add(sighting)
    declare_files(ctx, "vehicle_sighting", record_id, data["files"])
    if sighting.vin_match is False or sighting.engine_no_match is False:
        ctx.flags.append("vehicle_mismatch")
    elif (
        sighting.vin_match
        and sighting.engine_no_match is not False
        and vehicle.repossession_status in (RepossessionStatus.NONE, RepossessionStatus.SEARCHING)
    ):
        vehicle.repossession_status = RepossessionStatus.LOCATED
    return sighting


def record_repossession(ctx: FieldContext, data: dict) -> Repossession:
    record_id = str(data["id"])
    vehicle = ctx.own(Collateral, data["collateral_id"], "collateral_id")
    if data["sighting_id"] is not None:
        ctx.own(VehicleSighting, str(data["sighting_id"]), "sighting_id")
    if vehicle.repossession_status is RepossessionStatus.REPOSSESSED:
        raise InvalidInput(
            "This vehicle is already recorded as repossessed.",
            fields={"collateral_id": ["already repossessed"]},
        )
    log = Repossession(
        **ctx.record_fields(record_id),
        collateral_id=vehicle.id,
        sighting_id=id_or_none(data["sighting_id"]),
        recovered_at=data["recovered_at"],
        lat=data["lat"],
        lon=data["lon"],
        place_text=data["place_text"],
        towed_by=data["towed_by"],
        odometer_km=data["odometer_km"],
        condition=data["condition"],
    )
    ctx.session.add(log)
    vehicle.repossession_status = RepossessionStatus.REPOSSESSED
    declare_files(ctx, "repossession", record_id, data["files"])
    return log
