"""The rules on contacts and third parties (CN national standard; FDCPA §1692b).

- `contacts_when_unreachable`: a debtor's contacts are called, met or revealed only while the
  debtor is marked unreachable (fieldwork.reachability), where the policy says so
  (`contacts_only_when_unreachable`). An attempt is filed offline, so it is flagged
  `contact_while_reachable`; revealing a contact's full phone is refused.
- `third_party_no_amounts`: what is recorded with, or for, a third party carries no amount:
  a visit that met one and records `promised_fen` or `collected_fen` is kept and flagged
  `third_party_amount` (the report is evidence); a promise or receipt naming one as its signer
  or payer is refused (the document would show them the debt; file it without the contact).
  Free text (notes) is not read for figures.
- `uninformed_contact_no_loan_data`: a notice, promise or receipt handed to a contact who does
  not know of the loan is refused (the views and the phone's document carry no loan figures
  on a contact at all: casefile.cases.contact_view).

Who is a third party: every contact whose `role` is not guarantor or counter-guarantor.
Guarantors are parties to the loan, who may be told of it and may promise or pay; `relation`
does not decide (a spouse who is only a reference is a third party). A visit's `met`, when no
contact is named, decides by what it says: the debtor, a guarantor, or nobody are not third
parties; a spouse, family, a colleague, an employer, a neighbour or anyone else are."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.config import Policy
from api.models import Case, Contact
from api.models.cases import LOAN_PARTIES
from api.services.compliance.breaches import RuleBreach
from api.services.fieldwork import reachability
from api.services.fieldwork.context import FieldContext

NOT_THIRD_PARTIES_MET = ("debtor", "guarantor", "nobody")  # vocabulary.MET


def is_third_party(contact: Contact) -> bool:
    return contact.role not in LOAN_PARTIES


def _contact_of(ctx: FieldContext, contact_id: int | None) -> Contact | None:
    """The debtor's contact `contact_id` (None when not given or not the debtor's: the record's
    own service refuses that, naming the field)."""
    if contact_id is None:
        return None
    contact = ctx.session.get(Contact, contact_id)
    return contact if contact is not None and contact.debtor_id == ctx.case.debtor_id else None


def check_contact_attempt(ctx: FieldContext, data: dict) -> bool:
    """Flag an attempt at a third party while the debtor was not marked unreachable (at the
    attempt's moment); answers whether it was flagged."""
    contact = _contact_of(ctx, data.get("contact_id"))
    flagged = (
        contact is not None
        and is_third_party(contact)
        and ctx.policy.contacts_only_when_unreachable
        and not reachability.unreachable_at(ctx.session, ctx.case.id, data["occurred_at"])
    )
    if flagged:
        ctx.flags.append("contact_while_reachable")
    return flagged


def check_reveal(session: Session, case: Case, policy: Policy, contacts: list[Contact]) -> None:
    """Refuse revealing third parties' phones while the debtor is not marked unreachable."""
    if not policy.contacts_only_when_unreachable or reachability.is_unreachable(session, case.id):
        return
    named = [c for c in contacts if is_third_party(c) and c.phone]
    if named:
        raise RuleBreach(
            "contacts_when_unreachable",
            policy,
            f"Case {case.contract_no}: the phone of a contact who is not a party to the loan "
            f"({named[0].relation}) may be revealed only once the debtor is marked unreachable.",
            fields={"include_third_parties": ["the debtor is not marked unreachable"]},
        )


def check_visit_amounts(ctx: FieldContext, data: dict) -> None:
    """A visit that met a third party should record no promised or collected amount. The
    report is evidence of what happened at the door, so it is kept and flagged
    `third_party_amount` for review (never refused: DESIGN, "evidence is never refused")."""
    amounts = [k for k in ("promised_fen", "collected_fen") if data.get(k) is not None]
    if not amounts:
        return
    contact = _contact_of(ctx, data.get("met_contact_id"))
    third = is_third_party(contact) if contact is not None else (
        data.get("met_contact_id") is None and data["met"] not in NOT_THIRD_PARTIES_MET)
    if third:
        ctx.flags.append("third_party_amount")


def check_payer(ctx: FieldContext, data: dict, field: str) -> None:
    """A promise or receipt (which always carries amounts, and shows the loan to whoever signs
    or pays) is never a third party's, nor a contact's who does not know of the loan."""
    contact = _contact_of(ctx, data.get(field))
    if contact is not None and is_third_party(contact):
        _refuse_amounts(ctx, f"this contact ({contact.relation})", [field])
    check_shown_loan_data(ctx, data, field)


def check_shown_loan_data(ctx: FieldContext, data: dict, field: str) -> None:
    """A record handed to a contact (a notice, a promise, a receipt) shows them the loan:
    refused when they do not know of it."""
    contact = _contact_of(ctx, data.get(field))
    if contact is not None and not contact.knows_of_loan:
        raise RuleBreach(
            "uninformed_contact_no_loan_data",
            ctx.policy,
            f"Case {ctx.case.contract_no}: this contact ({contact.relation}) does not know of "
            f"the loan and may not be handed anything that shows it.",
            fields={field: ["this contact does not know of the loan"]},
        )


def _refuse_amounts(ctx: FieldContext, who: str, fields: list[str]) -> None:
    raise RuleBreach(
        "third_party_no_amounts",
        ctx.policy,
        f"Case {ctx.case.contract_no}: {who} is not a party to the loan; nothing recorded with "
        f"them may carry an amount of the debt.",
        fields={f: ["no amounts with a third party"] for f in fields},
    )

