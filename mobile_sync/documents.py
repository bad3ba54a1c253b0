"""The device-facing document of a case: everything a collector needs for a visit, offline."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.models import Case, CaseNote, ContactAttempt, Debtor, FieldProposal
from api.models.cases import CLOSED_STATUSES
from api.services.case_file import address_view, collateral_view, contact_view, debtor_view
from api.services.pii import PiiCipher

RECENT = 20  # recent contact attempts and notes carried on the phone


def _json_default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def dumps(value) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def holder_of(case: Case) -> int | None:
    """The collector whose phone should carry the case: nobody once it is closed."""
    return None if case.status in CLOSED_STATUSES else case.collector_id


def build_documents(session: Session, case_ids: Iterable[int], cipher: PiiCipher) -> dict:
    """{case_id: (holder_id, document_json)} for the given cases, in a handful of queries."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    cases = session.scalars(
        select(Case)
        .where(Case.id.in_(ids))
        .options(
            selectinload(Case.instalments),
            selectinload(Case.collateral),
            selectinload(Case.debtor).selectinload(Debtor.contacts),
            selectinload(Case.debtor).selectinload(Debtor.addresses),
        )
    ).all()
    attempts = _recent(session, ContactAttempt, ContactAttempt.occurred_at, ids)
    notes = _recent(session, CaseNote, CaseNote.client_time, ids)
    proposals = _recent(session, FieldProposal, FieldProposal.client_time, ids)
    out = {}
    for case in cases:
        doc = {
            "id": case.id,
            "contract_no": case.contract_no,
            "product": case.product,
            "currency": case.currency,
            "status": case.status,
            "bucket": case.bucket,
            "days_past_due": case.days_past_due,
            "reminder_class": case.reminder_class,
            "principal_fen": case.principal_fen,
            "total_due_fen": case.total_due_fen,
            "paid_fen": case.paid_fen,
            "overdue_fen": case.overdue_fen,
            "outstanding_fen": case.outstanding_fen,
            "outstanding_principal_fen": case.outstanding_principal_fen,
            "penalty_fen": case.penalty_fen,
            "fees_fen": case.fees_fen,
            "penalty_basis": case.penalty_basis,
            "next_due_on": case.next_due_on,
            "figures_as_of": case.figures_as_of,
            "version": case.version,
            "debtor": debtor_view(case.debtor, cipher, full=True),
            "contacts": [contact_view(c, full=True) for c in case.debtor.contacts],
            "addresses": [address_view(a) for a in case.debtor.addresses],
            "schedule": [
                {"seq": i.seq, "due_on": i.due_on, "amount_fen": i.amount_fen}
                for i in case.instalments
            ],
            "collateral": [collateral_view(c) for c in case.collateral],
            "recent_contacts": [
                {
                    "id": a.id,
                    "channel": a.channel,
                    "outcome": a.outcome,
                    "occurred_at": a.occurred_at,
                    "contact_id": a.contact_id,
                    "note": a.note,
                }
                for a in attempts.get(case.id, [])
            ],
            "notes": [
                {"id": n.id, "text": n.text, "written_at": n.client_time}
                for n in notes.get(case.id, [])
            ],
            "proposals": [
                {"id": p.id, "kind": p.kind, "status": p.status}
                for p in proposals.get(case.id, [])
            ],
        }
        out[case.id] = (holder_of(case), dumps(doc))
    return out


def _recent(session: Session, model, time_column, case_ids: list[int]) -> dict[int, list]:
    rows = session.scalars(
        select(model).where(model.case_id.in_(case_ids)).order_by(time_column.desc())
    ).all()
    grouped: dict[int, list] = {}
    for row in rows:
        bucket = grouped.setdefault(row.case_id, [])
        if len(bucket) < RECENT:
            bucket.append(row)
    return grouped
