"""Complaints about how a case was worked: recorded, assigned to a handler, noted, closed with
an outcome. Supervisors handle their team's cases' complaints; legal staff and administrators
every complaint; collectors none. Every read is audited (a complaint names people and what
they said). While one is open or assigned, the case is not dispatched when its policy says so
(`open_complaint_no_dispatch`, compliance.dispatch); closing it lifts the block."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from api.models import (
    Case,
    Complainant,
    Complaint,
    ComplaintNote,
    ComplaintStatus,
    Contact,
    Role,
    User,
)
from api.services.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from api.services.identity import audit
from api.services.identity.access import require_role, visible_cases
from api.services.identity.accounts import Principal

HANDLERS = (Role.SUPERVISOR, Role.LEGAL, Role.ADMIN)
CLOCK_SKEW = timedelta(minutes=5)  # a complaint received "now" on a clock slightly ahead


def visible_complaints(principal: Principal) -> Select:
    """Complaints about the cases the principal may see (a supervisor: their team's)."""
    require_role(principal, *HANDLERS)
    return select(Complaint).where(
        Complaint.case_id.in_(visible_cases(principal, select(Case.id))))


def get_complaint(
    session: Session, principal: Principal, complaint_id: int, *, lock: bool = False
) -> Complaint:
    """The complaint, or NotFound whether it is missing or about a case of another team."""
    stmt = visible_complaints(principal).where(Complaint.id == complaint_id)
    complaint = session.scalar(stmt.with_for_update(of=Complaint) if lock else stmt)
    if complaint is None:
        raise NotFound("No such complaint.")
    return complaint


def read_complaint(session: Session, principal: Principal, complaint_id: int) -> Complaint:
    complaint = get_complaint(session, principal, complaint_id)
    audit.record(session, principal, "complaint.read", case_id=complaint.case_id,
                 detail={"complaint_id": complaint.id})
    return complaint


def record_complaint(
    session: Session, principal: Principal, args: dict, *, now: datetime
) -> Complaint:
    """A complaint received about a case the caller may see; `open` until assigned."""
    require_role(principal, *HANDLERS)
    case = session.scalar(visible_cases(principal).where(Case.id == args["case_id"]))
    if case is None:
        raise InvalidInput("No such case, or not one you may see.",
                           fields={"case_id": ["no such case, or not yours"]})
    if args["received_at"] > now + CLOCK_SKEW:
        raise InvalidInput("A complaint cannot be received in the future.",
                           fields={"received_at": ["in the future"]})
    kind, contact_id, name = args["complainant"], args.get("contact_id"), args.get(
        "complainant_name")
    if kind is Complainant.CONTACT:
        contact = session.get(Contact, contact_id) if contact_id is not None else None
        if contact is None or contact.debtor_id != case.debtor_id:
            raise InvalidInput("Name one of the debtor's contacts.",
                               fields={"contact_id": ["not a contact of this case's debtor"]})
    elif contact_id is not None:
        raise InvalidInput("A contact is named only when the complainant is a contact.",
                           fields={"contact_id": ["only with complainant: contact"]})
    if kind is Complainant.OTHER and not (name or "").strip():
        raise InvalidInput("Say who complained.",
                           fields={"complainant_name": ["required with complainant: other"]})
    complaint = Complaint(
        case_id=case.id, received_at=args["received_at"], channel=args["channel"],
        complainant=kind, contact_id=contact_id,
        complainant_name=name if kind is Complainant.OTHER else None,
        summary=args["summary"], category=args["category"], status=ComplaintStatus.OPEN,
        recorded_by_id=principal.user_id, recorded_at=now)
    session.add(complaint)
    session.flush()
    audit.record(session, principal, "complaint.record", case_id=case.id,
                 detail={"complaint_id": complaint.id})
    return complaint


@dataclass(frozen=True)
class ComplaintFilters:
    statuses: tuple[ComplaintStatus, ...] = ()
    team_id: int | None = None
    case_id: int | None = None
    page: int = 1
    page_size: int = 50


def list_complaints(
    session: Session, principal: Principal, filters: ComplaintFilters
) -> tuple[list[Complaint], int]:
    """One page of the complaints the caller may see, newest received first (audited when it
    names any)."""
    stmt = visible_complaints(principal)
    if filters.team_id is not None:
        if principal.role is Role.SUPERVISOR and filters.team_id != principal.team_id:
            raise Forbidden("Supervisors see only their own team's complaints.",
                            fields={"team_id": ["not your team"]})
        stmt = stmt.where(Complaint.case_id.in_(
            select(Case.id).where(Case.team_id == filters.team_id)))
    if filters.statuses:
        stmt = stmt.where(Complaint.status.in_(filters.statuses))
    if filters.case_id is not None:
        stmt = stmt.where(Complaint.case_id == filters.case_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    items = session.scalars(
        stmt.options(selectinload(Complaint.notes), selectinload(Complaint.case))
        .order_by(Complaint.received_at.desc(), Complaint.id.desc())
        .limit(filters.page_size).offset((filters.page - 1) * filters.page_size)
    ).all()
    if items:
        audit.record(session, principal, "complaint.list",
                     detail={"complaint_ids": [c.id for c in items]})
    return list(items), total


def update_complaint(
    session: Session, principal: Principal, complaint_id: int, changes: dict, *, now: datetime
) -> Complaint:
    """Assign a handler, add a note, and/or close with an outcome (in that order, one
    transaction). A closed complaint is final."""
    complaint = get_complaint(session, principal, complaint_id, lock=True)
    if complaint.status is ComplaintStatus.CLOSED:
        raise Conflict(f"Complaint {complaint.id} was closed on "
                       f"{complaint.closed_at.date().isoformat()}; record a new one.",
                       code="complaint_closed")
    closing = changes.get("status") is ComplaintStatus.CLOSED
    if "outcome" in changes and not closing:
        raise InvalidInput("An outcome is given when closing.",
                           fields={"outcome": ["only with status: closed"]})
    if closing and not (changes.get("outcome") or "").strip():
        raise InvalidInput("Say how the complaint was resolved.",
                           fields={"outcome": ["required to close"]})
    if "assignee_id" in changes:
        complaint.assignee_id = _handler(session, complaint, changes["assignee_id"]).id
        complaint.status = ComplaintStatus.ASSIGNED
    if changes.get("note"):
        complaint.notes.append(ComplaintNote(author_id=principal.user_id, text=changes["note"],
                                             created_at=now))
    if closing:
        complaint.status, complaint.outcome = ComplaintStatus.CLOSED, changes["outcome"]
        complaint.closed_at, complaint.closed_by_id = now, principal.user_id
    session.flush()
    audit.record(session, principal, "complaint.update", case_id=complaint.case_id,
                 detail={"complaint_id": complaint.id,
                         "changed": sorted(k for k in changes if k != "note")
                         + (["note"] if changes.get("note") else [])})
    return complaint


def _handler(session: Session, complaint: Complaint, user_id: int) -> User:
    """Who may handle it: an active supervisor of the case's team, legal staff, an admin."""
    user = session.get(User, user_id)
    team_id = complaint.case.team_id
    if (
        user is None
        or not user.is_active
        or user.role not in HANDLERS
        or (user.role is Role.SUPERVISOR and user.team_id != team_id)
    ):
        raise InvalidInput(
            "A complaint is handled by a supervisor of the case's team, legal staff or an "
            "administrator.", fields={"assignee_id": ["not someone who may handle it"]})
    return user
