"""Blackouts a debtor declared: recorded by the case's supervisors (or admins), read by its
collector too, sent to the phone in the case document, kept out of route plans and flagged
(`in_blackout`) on a visit or contact attempt that breaks one.

A blackout blocks, on its weekdays (every day when none), its debtor-local hours (all day
when none): a time blackout everywhere, a place blackout only at its address (or every
address of its kind)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import Address, BlackoutKind, Case, DebtorBlackout, Role
from api.services.exceptions import InvalidInput, NotFound
from api.services.identity import audit
from api.services.identity.access import get_visible_case, require_role
from api.services.identity.accounts import Principal
from api.services.supervision.routing.planner import TimeWindow
from api.services.supervision.routing.windows import visit_window

ALL_DAY = ("00:00", "24:00")


# ----------------------------------------------------------------------------- the rule


def of_debtor(session: Session, debtor_id: int) -> list[DebtorBlackout]:
    return list(session.scalars(select(DebtorBlackout).where(
        DebtorBlackout.debtor_id == debtor_id).order_by(DebtorBlackout.id)))


def by_debtor(session: Session, debtor_ids: set[int]) -> dict[int, list[DebtorBlackout]]:
    grouped: dict[int, list[DebtorBlackout]] = {}
    for b in session.scalars(select(DebtorBlackout).where(DebtorBlackout.debtor_id.in_(debtor_ids))
                             .order_by(DebtorBlackout.id)):
        grouped.setdefault(b.debtor_id, []).append(b)
    return grouped


def applies_at(blackout: DebtorBlackout, address: Address | None) -> bool:
    """A time blackout applies everywhere; a place blackout at its address or kind."""
    if blackout.kind is BlackoutKind.TIME:
        return True
    if address is None:
        return False
    if blackout.address_id is not None:
        return blackout.address_id == address.id
    return blackout.address_kind is not None and blackout.address_kind is address.kind


def blocked(blackouts: list[DebtorBlackout], zone: str, span: TimeWindow,
            address: Address | None = None) -> list[TimeWindow]:
    """The UTC intervals the blackouts that apply at `address` block around `span`."""
    tz = ZoneInfo(zone)
    first = span.start.astimezone(tz).date() - timedelta(days=1)
    last = span.end.astimezone(tz).date() + timedelta(days=1)
    out = []
    for b in blackouts:
        if not applies_at(b, address):
            continue
        weekdays = set(json.loads(b.weekdays or "[]"))
        day = first
        while day <= last:
            if not weekdays or day.isoweekday() in weekdays:
                out.append(_interval(b, day, zone))
            day += timedelta(days=1)
    return out


def _interval(b: DebtorBlackout, day: date, zone: str) -> TimeWindow:
    start, end = (b.local_start, b.local_end) if b.local_start else ALL_DAY
    return visit_window(day, zone, start, end)


def largest_free(window: TimeWindow, blocks: list[TimeWindow]) -> TimeWindow | None:
    """The longest part of `window` no block covers (the earliest on a tie); None if none."""
    free, cursor = [], window.start
    for b in sorted(blocks, key=lambda b: b.start):
        if b.end <= cursor or b.start >= window.end:
            continue
        if b.start > cursor:
            free.append(TimeWindow(cursor, b.start))
        cursor = max(cursor, b.end)
    if cursor < window.end:
        free.append(TimeWindow(cursor, window.end))
    return max(free, key=lambda w: w.end - w.start, default=None)


def breaks_blackout(blackouts: list[DebtorBlackout], zone: str, start: datetime,
                    end: datetime, address: Address | None = None) -> bool:
    """Whether [start, end] (a visit; a moment when equal) touches a blocked interval."""
    span = TimeWindow(start, end)
    return any(b.start <= end and start < b.end if start == end else
               b.start < end and start < b.end
               for b in blocked(blackouts, zone, span, address))


def describe(b: DebtorBlackout) -> str:
    """The blackout in words: "place work, Sundays, 12:00–14:00"."""
    names = ["Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays"]
    weekdays = json.loads(b.weekdays or "[]")
    parts = [f"at {'address ' + str(b.address_id) if b.address_id else b.address_kind.value}"
             if b.kind is BlackoutKind.PLACE else "at any place"]
    parts.append(", ".join(names[d - 1] for d in sorted(weekdays)) if weekdays else "every day")
    parts.append(f"{b.local_start}–{b.local_end}" if b.local_start else "all day")
    return " ".join(parts)


# ----------------------------------------------------------------------------- managing them


def _case_for_change(session: Session, principal: Principal, case_id: int) -> Case:
    require_role(principal, Role.SUPERVISOR, Role.ADMIN)
    return get_visible_case(session, principal, case_id)


def list_blackouts(session: Session, principal: Principal, case_id: int, *, page: int,
                   page_size: int) -> tuple[list[DebtorBlackout], int]:
    """The case's debtor's blackouts, oldest first (the read is audited)."""
    require_role(principal, Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN)
    case = get_visible_case(session, principal, case_id)
    where = DebtorBlackout.debtor_id == case.debtor_id
    total = session.scalar(select(func.count()).select_from(DebtorBlackout).where(where))
    rows = list(session.scalars(select(DebtorBlackout).where(where).order_by(DebtorBlackout.id)
                                .offset((page - 1) * page_size).limit(page_size)))
    audit.record(session, principal, "case.blackouts", case_id=case.id,
                 detail={"page": page, "entries": len(rows)})
    return rows, total


def add_blackout(session: Session, principal: Principal, case_id: int, data: dict,
                 now: datetime) -> DebtorBlackout:
    """Record a blackout the debtor declared (`data` as loaded by the schema)."""
    case = _case_for_change(session, principal, case_id)
    kind = data["kind"]
    start, end = data.get("local_start"), data.get("local_end")
    if (start is None) != (end is None):
        missing = "local_end" if start else "local_start"
        raise InvalidInput("Give both ends of the hours, or neither (all day).",
                           fields={missing: ["give both or neither"]})
    if start is not None and end != "24:00" and end <= start:
        raise InvalidInput("The hours must end after they start.",
                           fields={"local_end": ["must be after local_start"]})
    address_id, address_kind = data.get("address_id"), data.get("address_kind")
    if kind is BlackoutKind.PLACE:
        if (address_id is None) == (address_kind is None):
            raise InvalidInput("A place blackout names an address or a kind of address.",
                               fields={"address_id": ["give address_id or address_kind"]})
        if address_id is not None:
            address = session.get(Address, address_id)
            if address is None or address.debtor_id != case.debtor_id:
                raise InvalidInput("That address is not one of this debtor's.",
                                   fields={"address_id": ["not an address of this debtor"]})
    elif address_id is not None or address_kind is not None:
        field = "address_id" if address_id is not None else "address_kind"
        raise InvalidInput("A time blackout has no place.", fields={field: ["only for kind place"]})
    row = DebtorBlackout(
        debtor_id=case.debtor_id, kind=kind, weekdays=json.dumps(sorted(set(data["weekdays"]))),
        local_start=start, local_end=end, address_kind=address_kind, address_id=address_id,
        note=data.get("note"), recorded_by_id=principal.user_id, recorded_at=now)
    session.add(row)
    session.flush()
    audit.record(session, principal, "case.blackout.add", case_id=case.id,
                 detail={"blackout_id": row.id})
    return row


def remove_blackout(session: Session, principal: Principal, case_id: int,
                    blackout_id: int) -> None:
    case = _case_for_change(session, principal, case_id)
    row = session.get(DebtorBlackout, blackout_id)
    if row is None or row.debtor_id != case.debtor_id:
        raise NotFound("No such blackout on this case.")
    session.delete(row)
    audit.record(session, principal, "case.blackout.remove", case_id=case.id,
                 detail={"blackout_id": blackout_id})
