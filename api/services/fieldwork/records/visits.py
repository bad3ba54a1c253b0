"""Visit reports read back: where the collectors stood, who vouched for whom, what came of it,
the evidence declared, and the corrections either way."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.models import (
    Address,
    FieldReceipt,
    NoticeServed,
    RepaymentPromise,
    VisitPresence,
    VisitReport,
)
from api.services.fieldwork.records.common import (
    Lookups,
    RecordKind,
    common_view,
    day_range,
    json_list,
)


def _filter(stmt: Select, extra: dict) -> Select:
    start, end = extra.get("date_from"), extra.get("date_to")
    stmt = day_range(stmt, VisitReport.local_day, start, end)
    # The same days as a UTC window wide enough for every zone (UTC-12 .. UTC+14): redundant,
    # but it lets a planner walking `started_at` stop at the range instead of scanning past it.
    if start is not None:
        stmt = stmt.where(VisitReport.started_at >= _midnight_utc(start) - timedelta(hours=14))
    if end is not None:
        stmt = stmt.where(VisitReport.started_at < _midnight_utc(end) + timedelta(hours=36))
    if extra.get("outcome") is not None:
        stmt = stmt.where(VisitReport.outcome == extra["outcome"])
    if extra.get("geofence") is not None:
        stmt = stmt.where(VisitReport.geofence == extra["geofence"])
    flag = extra.get("flag")
    if flag == "case_reassigned":  # kept on the record's own column
        stmt = stmt.where(VisitReport.case_reassigned.is_(True))
    elif flag is not None:  # a JSON list of names from api.models.vocabulary.FLAGS
        stmt = stmt.where(VisitReport.flags.like(f'%"{flag}"%'))
    return stmt


def _midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _people(report: VisitReport) -> set[int]:
    return {c["user_id"] for c in json_list(report.co_collectors)}


def _superseded_by(session: Session, rows: list) -> dict:
    later: dict[str, list[str]] = {}
    for new_id, old_id in session.execute(
        select(VisitReport.id, VisitReport.supersedes_id)
        .where(VisitReport.supersedes_id.in_([r.id for r in rows]))
        .order_by(VisitReport.received_at, VisitReport.id)
    ):
        later.setdefault(old_id, []).append(new_id)
    return {"superseded_by": later}


def visit_view(report: VisitReport, lookups: Lookups) -> dict:
    return {
        **common_view(report, lookups, flags=json_list(report.flags)),
        "started_at": report.started_at,
        "ended_at": report.ended_at,
        "local_day": report.local_day,
        "address_id": report.address_id,
        "met": report.met,
        "outcome": report.outcome.value,
        "reason": report.reason,
        "promised_fen": report.promised_fen,
        "collected_fen": report.collected_fen,
        "next_step": report.next_step.value,
        "follow_up_on": report.follow_up_on,
        "lat": report.lat,
        "lon": report.lon,
        "accuracy_m": report.accuracy_m,
        "distance_m": report.distance_m,
        "geofence": report.geofence.value,
        "collector_ids": json_list(report.collector_ids),
        "co_collectors": [
            {"cosigned": c["verified"], "presence_id": None, **c,
             "name": lookups.names.get(c["user_id"])}
            for c in json_list(report.co_collectors)
        ],
        "supersedes_id": report.supersedes_id,
        "superseded_by": lookups.extra["superseded_by"].get(report.id, []),
    }


def visit_detail(session: Session, report: VisitReport, lookups: Lookups) -> dict:
    address = session.get(Address, report.address_id) if report.address_id else None
    linked = {
        name: session.scalars(
            select(model.id).where(model.visit_report_id == report.id).order_by(model.id)
        ).all()
        for name, model in (
            ("promise_ids", RepaymentPromise),
            ("receipt_ids", FieldReceipt),
            ("notice_ids", NoticeServed),
        )
    }
    presences = session.scalars(
        select(VisitPresence)
        .where(VisitPresence.visit_report_id == report.id)
        .order_by(VisitPresence.recorded_at, VisitPresence.id)
    ).all()
    return {
        "presences": [
            {"id": p.id, "collector_id": p.author_id, "device_id": p.device_id,
             "recorded_at": p.recorded_at, "lat": p.lat, "lon": p.lon,
             "accuracy_m": p.accuracy_m, "received_at": p.received_at}
            for p in presences
        ],
        "notes": report.notes,
        "met_contact_id": report.met_contact_id,
        "device_clock_offset_s": report.device_clock_offset_s,
        "fixes": json_list(report.fixes),
        "address": None
        if address is None
        else {
            "id": address.id,
            "kind": address.kind.value,
            "text": address.text,
            "lat": address.lat,
            "lon": address.lon,
            "confirmed_at": address.confirmed_at,
        },
        **linked,
    }


VISITS = RecordKind(
    name="visit_report",
    label="visit report",
    model=VisitReport,
    sorts={"started_at": VisitReport.started_at, "received_at": VisitReport.received_at},
    default_sort="-started_at",
    view=visit_view,
    filter=_filter,
    detail=visit_detail,
    people=_people,
    page_extra=_superseded_by,
)
