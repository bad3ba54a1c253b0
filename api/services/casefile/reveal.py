"""Revealing a debtor's full national ID and phones to legal staff and administrators, for a
stated purpose (PIPL: access is purpose-bound). Every reveal is audited with that purpose."""

from __future__ import annotations

import enum

from sqlalchemy.orm import Session, selectinload

from api.models import Case, Debtor, Role
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
) -> dict:
    """The debtor's national ID and phones in full, and the contacts' phones; audited as
    `case.reveal` with the purpose (never the revealed values)."""
    require_role(principal, *REVEALERS)
    purpose = (purpose or "").strip()
    if not PURPOSE_MIN <= len(purpose) <= PURPOSE_MAX:
        message = f"must be {PURPOSE_MIN} to {PURPOSE_MAX} characters"
        raise InvalidInput(f"The purpose {message}.", fields={"purpose": [message]})
    case = get_visible_case(
        session, principal, case_id, selectinload(Case.debtor).selectinload(Debtor.contacts)
    )
    debtor = case.debtor
    audit.record(
        session,
        principal,
        "case.reveal",
        case_id=case.id,
        detail={"purpose_code": RevealPurpose(purpose_code).value, "purpose": purpose},
    )
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
        "contacts": [
            {
                "id": c.id,
                "name": c.name,
                "relation": c.relation,
                "phone": c.phone,
                "knows_of_loan": c.knows_of_loan,
            }
            for c in debtor.contacts
        ],
    }
