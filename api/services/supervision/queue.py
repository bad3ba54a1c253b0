"""The unassigned-case queue: open cases nobody can work, most urgent first.

`GET /cases?unassigned=true` lists cases with no collector, but not as a queue needs: it keeps
settled and written-off cases, misses cases stranded with a collector who was deactivated (their
phone no longer syncs, so nobody works them), and cannot sort by priority. The queue is open
cases with no collector or an inactive one, ordered by bucket (M3+ first), then a broken
latest promise, days past due and amount overdue."""

from __future__ import annotations

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from api.models import (
    Bucket,
    Case,
    Debtor,
    PromiseStatus,
    RepaymentPromise,
    Role,
    User,
    VisitReport,
)
from api.models.cases import CLOSED_STATUSES
from api.services.exceptions import Forbidden
from api.services.identity import audit
from api.services.identity.access import require_role, visible_cases
from api.services.identity.accounts import Principal

BUCKET_RANK = {Bucket.M3_PLUS: 4, Bucket.M3: 3, Bucket.M2: 2, Bucket.M1: 1, Bucket.CURRENT: 0}


def unassigned_queue(
    session: Session,
    principal: Principal,
    *,
    team_id: int | None = None,
    buckets: list[Bucket] | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[dict], int]:
    """One page of the queue the principal may see, and its length; the page is audited."""
    require_role(principal, Role.SUPERVISOR, Role.ADMIN)
    if principal.role is Role.SUPERVISOR and team_id not in (None, principal.team_id):
        raise Forbidden("Supervisors see only their own team.",
                        fields={"team_id": ["not your team"]})
    inactive = select(User.id).where(User.is_active.is_(False))
    latest_promise = (
        select(RepaymentPromise.status)
        .where(RepaymentPromise.case_id == Case.id)
        .order_by(RepaymentPromise.signed_at.desc(), RepaymentPromise.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    promise_broken = case(
        (latest_promise.in_((PromiseStatus.BROKEN, PromiseStatus.PARTLY_KEPT)), 1), else_=0)
    bucket_rank = case(*((Case.bucket == b, r) for b, r in BUCKET_RANK.items()), else_=0)
    last_visit = (
        select(func.max(VisitReport.local_day))
        .where(VisitReport.case_id == Case.id)
        .scalar_subquery()
    )
    where = [
        Case.status.not_in(CLOSED_STATUSES),
        or_(Case.collector_id.is_(None), Case.collector_id.in_(inactive)),
    ]
    if team_id is not None:
        where.append(Case.team_id == team_id)
    if buckets:
        where.append(Case.bucket.in_(buckets))
    total = session.scalar(
        visible_cases(principal, select(func.count()).select_from(Case)).where(*where))
    rows = session.execute(
        visible_cases(
            principal,
            select(Case.id, Case.contract_no, Case.product, Debtor.name, Case.status,
                   Case.bucket, Case.days_past_due, Case.overdue_fen, Case.outstanding_fen,
                   Case.currency, Case.team_id, Case.collector_id,
                   promise_broken.label("promise_broken"), last_visit.label("last_visit_on"))
            .join(Debtor, Debtor.id == Case.debtor_id),
        )
        .where(*where)
        .order_by(bucket_rank.desc(), promise_broken.desc(), Case.days_past_due.desc(),
                  Case.overdue_fen.desc(), Case.id)
        .limit(page_size).offset((page - 1) * page_size)
    ).all()
    items = [
        {
            "id": r.id, "contract_no": r.contract_no, "product": r.product,
            "debtor_name": r.name, "status": r.status, "bucket": r.bucket,
            "days_past_due": r.days_past_due, "overdue_fen": r.overdue_fen,
            "outstanding_fen": r.outstanding_fen, "currency": r.currency, "team_id": r.team_id,
            "collector_id": r.collector_id, "holder_inactive": r.collector_id is not None,
            "promise_broken": bool(r.promise_broken), "last_visit_on": r.last_visit_on,
        }
        for r in rows
    ]
    if items:
        audit.record(session, principal, "assignment.queue",
                     detail={"case_ids": [i["id"] for i in items]})
    return items, total
