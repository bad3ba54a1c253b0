"""Whether repayment promises were kept, judged from the payments the lender reports."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Payment, PromiseStatus, RepaymentPromise

LOCAL = ZoneInfo("Asia/Shanghai")


def promise_status(
    plan: list[tuple[date, int]], paid_since_signing: int, as_of: date
) -> PromiseStatus:
    """Kept once the whole plan is paid; pending while every amount due so far is covered;
    broken when something fell due unpaid and nothing came; partly kept when some came."""
    total = sum(amount for _, amount in plan)
    due_so_far = sum(amount for due_on, amount in plan if due_on < as_of)
    if paid_since_signing >= total:
        return PromiseStatus.KEPT
    if paid_since_signing >= due_so_far:
        return PromiseStatus.PENDING
    return PromiseStatus.PARTLY_KEPT if paid_since_signing > 0 else PromiseStatus.BROKEN


def refresh_promise_statuses(session: Session, case_ids: Iterable[int], as_of: date) -> int:
    """Re-judge the promises of these cases; returns how many changed. Only changed rows are
    written, so an unchanged payments file changes nothing."""
    ids = list(set(case_ids))
    if not ids:
        return 0
    promises = session.scalars(
        select(RepaymentPromise).where(RepaymentPromise.case_id.in_(ids))
    ).all()
    if not promises:
        return 0
    payments: dict[int, list[Payment]] = {}
    for payment in session.scalars(select(Payment).where(Payment.case_id.in_(ids))):
        payments.setdefault(payment.case_id, []).append(payment)
    changed = 0
    for promise in promises:
        signed_on = promise.signed_at.astimezone(LOCAL).date()
        paid = sum(
            p.amount_fen
            for p in payments.get(promise.case_id, [])
            if signed_on <= p.paid_on <= as_of
        )
        plan = [
            (date.fromisoformat(i["due_on"]), i["amount_fen"]) for i in json.loads(promise.plan)
        ]
        status = promise_status(plan, paid, as_of)
        if (status, min(paid, promise.total_fen)) != (promise.status, promise.paid_toward_fen):
            promise.status, promise.paid_toward_fen = status, min(paid, promise.total_fen)
            changed += 1
    return changed
