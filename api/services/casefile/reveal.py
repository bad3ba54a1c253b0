"""Revealing a debtor's full national ID and phones to legal staff and administrators, for a
stated purpose (PIPL: access is purpose-bound). Every reveal is audited with that purpose."""

from __future__ import annotations

import enum

from sqlalchemy.orm import Session, selectinload

from api.models import Case, Debtor, Role
from api.models.types import utcnow
from api.services.casefile.identifiers import mask_phone
from api.services.compliance import contact_rules
from api.services.compliance.policies import policy_for_case
from api.services.exceptions import InvalidInput
from api.services.identity import audit
from api.services.identity.access import get_visible_case, require_role
from api.services.identity.accounts import Principal
from api.services.identity.pii import PiiCipher

REVEALERS = (Role.LEGAL, Role.ADMIN)
PURPOSE_MIN, PURPOSE_MAX = 10, 400


class RevealPurpose(enum.StrEnum):
    LITIGATION = "litigation"  # suing, or answering a court
    ASSET_PRESERVATION = "asset_preservation"  # 财产保全, enforcement, repossession
    DEBTOR_REQUEST = "debtor_request"  # the debtor's own access or correction request
    AUTHORITY_REQUEST = "authority_request"  # police, regulator, court order
    SUPERVISION = "supervision"  # internal audit or complaint review


def reveal_personal_data(
    session: Session,
    principal: Principal,
    case_id: int,
    cipher: PiiCipher,
    *,
    purpose_code: RevealPurpose,
    purpose: str,
    include_third_parties: bool = False,
) -> dict:
    """The debtor's national ID and phones in full, and the contacts' phones; audited as
    `case.reveal` with the purpose (never the revealed values).

    Guarantors' phones are always in full; a third party's (any other contact) only with
    `include_third_parties`, refused while the debtor is not marked unreachable where the
    policy says so (`contacts_when_unreachable`); otherwise they come masked."""
    require_role(principal, *REVEALERS)
    purpose = (purpose or "").strip()
    if not PURPOSE_MIN <= len(purpose) <= PURPOSE_MAX:
        message = f"must be {PURPOSE_MIN} to {PURPOSE_MAX} characters"
        raise InvalidInput(f"The purpose {message}.", fields={"purpose": [message]})
    case = get_visible_case(
        session, principal, case_id, selectinload(Case.debtor).selectinload(Debtor.contacts)
    )
    debtor = case.debtor
    if include_third_parties:
        contact_rules.check_reveal(
            session, case, policy_for_case(session, case, utcnow()), debtor.contacts
        )
    detail = {"purpose_code": RevealPurpose(purpose_code).value, "purpose": purpose}
    if include_third_parties:
        detail["third_parties"] = True
    audit.record(session, principal, "case.reveal", case_id=case.id, detail=detail)
    return {
        "case_id": case.id,
        "purpose_code": RevealPurpose(purpose_code).value,
        "debtor": {
            "id": debtor.id,
            "name": debtor.name,
            "national_id": cipher.decrypt(debtor.national_id_cipher),
            "mobile_phone": debtor.mobile_phone,
            "home_phone": debtor.home_phone,
            "work_phone": debtor.work_phone,
        },
        "contacts": [_contact(c, include_third_parties) for c in debtor.contacts],
    }


def _contact(contact, include_third_parties: bool) -> dict:
    full = include_third_parties or not contact_rules.is_third_party(contact)
    return {
        "id": contact.id,
        "name": contact.name,
        "relation": contact.relation,
        "phone": contact.phone if full or not contact.phone else mask_phone(contact.phone),
        "phone_masked": not full and contact.phone is not None,
        "knows_of_loan": contact.knows_of_loan,
    }
