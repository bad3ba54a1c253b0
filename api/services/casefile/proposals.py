"""Reviewing what collectors learnt in the field: accepted proposals become lender-independent
records (refs starting "field:"), so later lender imports never overwrite or delete them."""

from __future__ import annotations

import json

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.models import (
    Address,
    AddressKind,
    Case,
    Contact,
    CoordSource,
    FieldProposal,
    ProposalKind,
    ProposalStatus,
    Relation,
    Role,
)
from api.models.types import utcnow
from api.services.compliance.subject_requests import correction_reviewed
from api.services.exceptions import Conflict, Forbidden, NotFound
from api.services.geo import to_wgs84
from api.services.identity.access import get_visible_case, visible_cases
from api.services.identity.accounts import Principal

PHONE_FIELDS = {"mobile": "mobile_phone", "home": "home_phone", "work": "work_phone"}


def proposals_query(principal: Principal, status: ProposalStatus | None) -> Select:
    stmt = select(FieldProposal).where(
        FieldProposal.case_id.in_(visible_cases(principal, select(Case.id)))
    )
    return stmt if status is None else stmt.where(FieldProposal.status == status)


def visible_proposal(
    session: Session, principal: Principal, proposal_id: str, *, for_update: bool = False
) -> FieldProposal:
    """A proposal on a case the principal may see (404 otherwise, as for a missing one);
    `for_update` locks it until the transaction ends (two reviewers never interleave)."""
    lock = {"of": FieldProposal} if for_update else None
    proposal = session.get(FieldProposal, proposal_id, with_for_update=lock)
    if proposal is None:
        raise NotFound("No such proposal.")
    get_visible_case(session, principal, proposal.case_id)
    return proposal


def review(
    session: Session, principal: Principal, proposal_id: str, *, accept: bool, note: str | None
) -> FieldProposal:
    if principal.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise Forbidden("Only supervisors and administrators review field proposals.")
    proposal = visible_proposal(session, principal, proposal_id, for_update=True)
    case = get_visible_case(session, principal, proposal.case_id)
    if proposal.status is not ProposalStatus.PENDING:
        raise Conflict(f"This proposal was already {proposal.status.value}.")
    if accept:
        _apply(session, case, proposal)
    proposal.status = ProposalStatus.ACCEPTED if accept else ProposalStatus.REJECTED
    proposal.reviewed_by_id, proposal.reviewed_at = principal.user_id, utcnow()
    proposal.review_note = note
    correction_reviewed(session, proposal)  # a data-subject correction closes with it
    session.flush()
    return proposal


def _apply(session: Session, case: Case, proposal: FieldProposal) -> None:
    data = json.loads(proposal.data)
    ref = f"field:{proposal.id}"
    debtor = case.debtor
    if proposal.kind is ProposalKind.PHONE:
        if data.get("belongs_to") == "contact" and data.get("contact_id"):
            contact = session.get(Contact, data["contact_id"])
            if contact is None or contact.debtor_id != debtor.id:
                raise NotFound("The proposal's contact no longer exists.")
            contact.phone = data["phone"]
        else:
            setattr(debtor, PHONE_FIELDS[data.get("label", "mobile")], data["phone"])
    elif proposal.kind is ProposalKind.ADDRESS:
        lat = lon = None
        if data.get("lat") is not None and data.get("lon") is not None:
            lat, lon = to_wgs84(data["lat"], data["lon"], data.get("datum", "WGS84"))
        session.add(
            Address(
                debtor_id=debtor.id,
                lender_ref=ref,
                kind=AddressKind(data["kind"]),
                text=data["text"],
                lat=lat,
                lon=lon,
                coord_source=CoordSource.VISIT if lat is not None else None,
                source_datum=data.get("datum") if lat is not None else None,
            )
        )
    else:
        session.add(
            Contact(
                debtor_id=debtor.id,
                lender_ref=ref,
                name=data["name"],
                relation=Relation(data["relation"]),
                phone=data.get("phone"),
                knows_of_loan=bool(data.get("knows_of_loan")),
            )
        )
