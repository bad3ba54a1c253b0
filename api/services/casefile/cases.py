"""Reading the case file: filtered lists and the full case, masked for the reader, audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, selectinload

from api.models import Address, Assignment, Case, Debtor, User
from api.models.cases import LOAN_PARTIES
from api.services.casefile import search as case_search
from api.services.casefile.identifiers import mask_national_id, mask_phone
from api.services.exceptions import InvalidInput
from api.services.geo import bounding_box, geodesic_m, haversine_m, within_m
from api.services.identity import audit
from api.services.identity.access import get_visible_case, sees_full_personal_data, visible_cases
from api.services.identity.accounts import Principal
from api.services.identity.pii import PiiCipher
from api.services.supervision.stops import default_visit_address

SORTS = {
    "days_past_due": Case.days_past_due,
    "overdue_fen": Case.overdue_fen,
    "outstanding_fen": Case.outstanding_fen,
    "contract_no": Case.contract_no,
    "next_due_on": Case.next_due_on,
    "id": Case.id,
}


@dataclass
class CaseFilters:
    team_id: int | None = None
    collector_id: int | None = None
    buckets: list[str] | None = None
    statuses: list[str] | None = None
    dpd_min: int | None = None
    dpd_max: int | None = None
    unassigned: bool | None = None
    near: tuple[float, float, float] | None = None  # lat, lon (WGS84), radius in metres
    q: str | None = None  # see api.services.casefile.search
    with_location: bool = False  # each item's `location`: where a visit would go
    sort: str = "-days_past_due"
    page: int = 1
    page_size: int = 50


def list_cases(
    session: Session, principal: Principal, f: CaseFilters, cipher: PiiCipher | None = None
) -> tuple[list[dict], int]:
    """One page of case summaries the principal may see, and the total matching. A search
    (`f.q`, which needs the cipher) is audited even when it finds nothing."""
    stmt = visible_cases(principal, select(Case.id))
    search = None
    if f.q is not None:
        if cipher is None:
            raise ValueError("a search needs the PII cipher (national IDs are found by digest)")
        search = case_search.parse_query(f.q, cipher)
        dialect = session.get_bind().dialect.name
        stmt = stmt.where(Case.id.in_(case_search.matching_case_ids(search, dialect)))
    if f.team_id is not None:
        stmt = stmt.where(Case.team_id == f.team_id)
    if f.collector_id is not None:
        stmt = stmt.where(Case.collector_id == f.collector_id)
    if f.buckets:
        stmt = stmt.where(Case.bucket.in_(f.buckets))
    if f.statuses:
        stmt = stmt.where(Case.status.in_(f.statuses))
    if f.dpd_min is not None:
        stmt = stmt.where(Case.days_past_due >= f.dpd_min)
    if f.dpd_max is not None:
        stmt = stmt.where(Case.days_past_due <= f.dpd_max)
    if f.unassigned is not None:
        stmt = stmt.where(
            Case.collector_id.is_(None) if f.unassigned else Case.collector_id.is_not(None)
        )
    descending = f.sort.startswith("-")
    key = f.sort.lstrip("-")
    if f.near is None:
        if key not in SORTS:
            raise InvalidInput(f"Cannot sort by {key!r}.", fields={"sort": ["unknown sort key"]})
        column = SORTS[key]
        total = session.scalar(select(func.count()).select_from(stmt.subquery()))
        ids = session.scalars(
            stmt.order_by(column.desc() if descending else column.asc(), Case.id)
            .limit(f.page_size)
            .offset((f.page - 1) * f.page_size)
        ).all()
        distances: dict[int, float] = {}
    else:
        ids, total, distances = _page_near(session, stmt, f, key, descending)
    load = (selectinload(Case.debtor).selectinload(Debtor.addresses),) if f.with_location else ()
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(ids)).options(*load))}
    items = [_summary(cases[i], distances.get(i)) for i in ids]
    shown = {"with": ["location"]} if f.with_location else {}
    if f.with_location:
        for item in items:
            item["location"] = _location(cases[item["id"]])
    if search is not None:
        matched = case_search.matched_kinds(session, search, list(ids))
        for item in items:
            item["matched_on"] = matched.get(item["id"], [])
        audit.record(session, principal, "case.list",
                     detail={"case_ids": list(ids), "search": search.audit_detail(), **shown})
    elif items:
        audit.record(session, principal, "case.list", detail={"case_ids": list(ids), **shown})
    return items, total


def _location(case: Case) -> dict | None:
    """The address a route plan visits by default (`stops.default_visit_address`), if any."""
    address = default_visit_address(case.debtor.addresses)
    if address is None:
        return None
    return {"address_id": address.id, "kind": address.kind, "lat": address.lat,
            "lon": address.lon}


def _page_near(session: Session, stmt, f: CaseFilters, key: str, descending: bool):
    """Bounding-box prefilter on the indexed lat/lon, a cheap spherical screen, and the exact
    geodesic only near the edge of the circle and for the page shown."""
    lat, lon, radius = f.near
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius)
    rows = session.execute(
        stmt.add_columns(Address.lat, Address.lon)
        .join(Address, and_(Address.debtor_id == Case.debtor_id))
        .where(Address.lat.between(min_lat, max_lat), Address.lon.between(min_lon, max_lon))
    ).all()
    inside: dict[int, list[tuple[float, float]]] = {}  # case id -> its addresses in the circle
    for case_id, a_lat, a_lon in rows:
        if within_m(lat, lon, a_lat, a_lon, radius):
            inside.setdefault(case_id, []).append((a_lat, a_lon))
    # Spherical distance of each case's nearest address: enough to order by.
    nearest = {case_id: min(haversine_m(lat, lon, *p) for p in points)
               for case_id, points in inside.items()}
    if key == "distance" or key not in SORTS:
        ordered = sorted(nearest, key=lambda i: (nearest[i], i), reverse=descending)
    else:
        column = SORTS[key]
        ordered = session.scalars(
            select(Case.id)
            .where(Case.id.in_(nearest))
            .order_by(column.desc() if descending else column.asc(), Case.id)
        ).all()
    start = (f.page - 1) * f.page_size
    page = ordered[start : start + f.page_size]
    exact = {case_id: min(geodesic_m(lat, lon, *p) for p in inside[case_id]) for case_id in page}
    return page, len(nearest), exact


def _summary(case: Case, distance: float | None) -> dict:
    return {
        "id": case.id,
        "contract_no": case.contract_no,
        "product": case.product,
        "debtor_name": case.debtor.name,
        "status": case.status,
        "bucket": case.bucket,
        "days_past_due": case.days_past_due,
        "reminder_class": case.reminder_class,
        "overdue_fen": case.overdue_fen,
        "outstanding_fen": case.outstanding_fen,
        "currency": case.currency,
        "next_due_on": case.next_due_on,
        "team_id": case.team_id,
        "collector_id": case.collector_id,
        "distance_m": distance,
    }


def case_detail(session: Session, principal: Principal, case_id: int, cipher: PiiCipher) -> dict:
    """The whole case file as the principal may see it; the read is audited."""
    case = get_visible_case(
        session,
        principal,
        case_id,
        selectinload(Case.instalments),
        selectinload(Case.payments),
        selectinload(Case.collateral),
        selectinload(Case.assignments),
        selectinload(Case.debtor).selectinload(Debtor.contacts),
        selectinload(Case.debtor).selectinload(Debtor.addresses),
    )
    full = sees_full_personal_data(principal, case)
    debtor = case.debtor
    audit.record(session, principal, "case.read", case_id=case.id, detail={"masked": not full})
    return {
        **_summary(case, None),
        "principal_fen": case.principal_fen,
        "disbursed_on": case.disbursed_on,
        "figures": {
            k: getattr(case, k)
            for k in (
                "figures_as_of",
                "total_due_fen",
                "paid_fen",
                "overdue_fen",
                "outstanding_fen",
                "outstanding_principal_fen",
                "penalty_fen",
                "fees_fen",
                "periods_overdue",
            )
        }
        | {
            "penalty_basis": case.penalty_basis,
            "lender_bucket": case.lender_bucket.value if case.lender_bucket else None,
        },
        "debtor": debtor_view(debtor, cipher, full),
        "contacts": [contact_view(c, full) for c in debtor.contacts],
        "addresses": [address_view(a) for a in debtor.addresses],
        "schedule": [
            {
                "seq": i.seq,
                "due_on": i.due_on,
                "amount_fen": i.amount_fen,
                "principal_fen": i.principal_fen,
            }
            for i in case.instalments
        ],
        "payments": [
            {
                "ref": p.lender_ref,
                "paid_on": p.paid_on,
                "amount_fen": p.amount_fen,
                "method": p.method,
            }
            for p in case.payments
        ],
        "collateral": [collateral_view(c) for c in case.collateral],
        "assignments": _assignment_history(session, case.assignments),
    }


@dataclass(frozen=True, slots=True)
class CaseGraph:
    """What a case's device document is made of (`mobile_sync.documents`): ORM objects, or
    plain rows with the same names, each list in the order of its ORM relationship (by id,
    the schedule by `seq`)."""

    case: Any
    debtor: Any
    contacts: list
    addresses: list
    instalments: list
    collateral: list


def debtor_view(debtor: Debtor, cipher: PiiCipher, full: bool) -> dict:
    national_id = cipher.decrypt(debtor.national_id_cipher) if full else None
    phone = (lambda p: p) if full else (lambda p: mask_phone(p) if p else None)
    return {
        "id": debtor.id,
        "ref": debtor.lender_ref,
        "name": debtor.name,
        "national_id": national_id
        if full
        else mask_national_id("0" * 14 + debtor.national_id_last4),
        "mobile_phone": phone(debtor.mobile_phone),
        "home_phone": phone(debtor.home_phone),
        "work_phone": phone(debtor.work_phone),
        "employer": debtor.employer,
        "risk_notes": debtor.risk_notes,
        "timezone": debtor.timezone,
        "masked": not full,
    }


def contact_view(contact, full: bool) -> dict:
    """A contact who does not know of the loan is marked so: nothing about the debt may be
    said to them, and the view carries no loan figures at all."""
    return {
        "id": contact.id,
        "ref": contact.lender_ref,
        "name": contact.name,
        "relation": contact.relation,
        "role": contact.role,
        "phone": contact.phone if full or not contact.phone else mask_phone(contact.phone),
        "knows_of_loan": contact.knows_of_loan,
        "may_discuss_debt": contact.knows_of_loan,
        "third_party": contact.role not in LOAN_PARTIES,
    }


def address_view(address: Address) -> dict:
    return {
        "id": address.id,
        "ref": address.lender_ref,
        "kind": address.kind,
        "text": address.text,
        "lat": address.lat,
        "lon": address.lon,
        "coord_source": address.coord_source,
        "source_datum": address.source_datum,
        "confirmed_at": address.confirmed_at,
        "contact_id": address.contact_id,
    }


def collateral_view(c) -> dict:
    return {
        "id": c.id,
        "ref": c.lender_ref,
        "kind": c.kind,
        "vin": c.vin,
        "engine_no": c.engine_no,
        "plate": c.plate,
        "make": c.make,
        "model": c.model,
        "colour": c.colour,
        "tracker_lat": c.tracker_lat,
        "tracker_lon": c.tracker_lon,
        "tracker_at": c.tracker_at,
        "repossession_status": c.repossession_status,
    }


def _assignment_history(session: Session, assignments: list[Assignment]) -> list[dict]:
    user_ids = {a.collector_id for a in assignments} | {a.assigned_by_id for a in assignments}
    names = dict(
        session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids - {None}))).all()
    )
    return [
        {
            "team_id": a.team_id,
            "collector_id": a.collector_id,
            "collector_name": names.get(a.collector_id),
            "assigned_by_id": a.assigned_by_id,
            "assigned_by_name": names.get(a.assigned_by_id),
            "reason": a.reason,
            "started_at": a.started_at,
            "ended_at": a.ended_at,
        }
        for a in assignments
    ]
