"""Whether a case's debtor can be reached. The case's collector or a supervisor of its team
marks the debtor unreachable (a reason, since when) or reachable again, online or from the
phone; each change is a record, so the history says who did what when. The latest change (by
the filer's clock) is the case's state; the contact rules (compliance.contact_rules) judge an
attempt by the state at its moment. Marked per case, not per debtor: each case's holder
attests what they found, and another lender's case of the same debtor is judged by its own.

Nothing marks a debtor unreachable by itself: `suggestion` only says when the calls suggest it
(the "contact lost" finding of supervision.suggestions)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import ReachabilityChange, User
from api.models.types import utcnow
from api.services.exceptions import Forbidden, InvalidInput
from api.services.fieldwork.context import FieldContext
from api.services.identity import audit
from api.services.identity.access import get_visible_case
from api.services.identity.accounts import Principal
from api.services.supervision.suggestions import contact_lost

LATEST = (
    ReachabilityChange.client_time.desc(),
    ReachabilityChange.received_at.desc(),
    ReachabilityChange.id.desc(),
)


def record_reachability(ctx: FieldContext, data: dict) -> ReachabilityChange:
    """Mark the debtor unreachable (`reason`, `since`: default now) or reachable again."""
    if ctx.case_reassigned:
        raise Forbidden(
            "The case has left you: whether its debtor can be reached is for its holder to say.",
            fields={"case_id": ["no longer yours"]},
        )
    since = data.get("since")
    if data["unreachable"]:
        since = since or ctx.client_time
        if since > ctx.client_time:
            raise InvalidInput(
                "The debtor cannot be unreachable since a moment after the marking.",
                fields={"since": ["must not be later than the marking (client_time)"]},
            )
    # Ordered by the phone's clock (an offline marking made earlier loses to a later one), but
    # never ahead of the server's: a phone set to next year cannot freeze the state.
    change = ReachabilityChange(
        **{**ctx.record_fields(str(data["id"])), "client_time": min(ctx.client_time, utcnow())},
        unreachable=data["unreachable"],
        reason=data.get("reason") if data["unreachable"] else None,
        since=since if data["unreachable"] else None,
        note=data.get("note"),
    )
    ctx.session.add(change)
    return change


def state_at(session: Session, case_id: int, at: datetime) -> ReachabilityChange | None:
    """The change in force on `case_id` at `at` (None: never marked, so reachable)."""
    return session.scalar(
        select(ReachabilityChange)
        .where(ReachabilityChange.case_id == case_id, ReachabilityChange.client_time <= at)
        .order_by(*LATEST)
        .limit(1)
    )


def unreachable_at(session: Session, case_id: int, at: datetime) -> bool:
    change = state_at(session, case_id, at)
    return change is not None and change.unreachable


def latest(session: Session, case_ids) -> dict[int, ReachabilityChange]:
    """{case_id: its latest change} for the cases that have one, in one query."""
    ids = list(case_ids)
    if not ids:
        return {}
    rank = func.row_number().over(partition_by=ReachabilityChange.case_id, order_by=LATEST)
    ranked = (
        select(ReachabilityChange.id, rank.label("rank_"))
        .where(ReachabilityChange.case_id.in_(ids))
        .subquery()
    )
    rows = session.scalars(
        select(ReachabilityChange).join(ranked, ranked.c.id == ReachabilityChange.id)
        .where(ranked.c.rank_ == 1)
    )
    return {row.case_id: row for row in rows}


def is_unreachable(session: Session, case_id: int) -> bool:
    change = latest(session, [case_id]).get(case_id)
    return change is not None and change.unreachable


def state_view(change: ReachabilityChange | None) -> dict:
    """The state as the case document and the API show it."""
    if change is None:
        return {"unreachable": False, "reason": None, "since": None, "note": None,
                "changed_at": None, "changed_by_id": None}
    return {
        "unreachable": change.unreachable,
        "reason": change.reason,
        "since": change.since,
        "note": change.note,
        "changed_at": change.client_time,
        "changed_by_id": change.author_id,
    }


def history(
    session: Session, case_id: int, *, page: int, page_size: int
) -> tuple[list[dict], int]:
    """One page of the case's changes, newest first, with who made each."""
    total = session.scalar(
        select(func.count()).where(ReachabilityChange.case_id == case_id)
    ) or 0
    rows = session.execute(
        select(ReachabilityChange, User.full_name)
        .join(User, User.id == ReachabilityChange.author_id)
        .where(ReachabilityChange.case_id == case_id)
        .order_by(*LATEST)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    items = [
        {**state_view(change), "id": change.id, "changed_by_name": name,
         "received_at": change.received_at, "device_id": change.device_id}
        for change, name in rows
    ]
    return items, total


def case_reachability(
    session: Session, principal: Principal, case_id: int, *, page: int, page_size: int
) -> dict:
    """The case's state, a suggestion to mark the debtor unreachable when the calls say contact
    is lost (never acted on), and one page of the history; for whoever may see the case. The
    read is audited (why a debtor cannot be reached is personal data)."""
    case = get_visible_case(session, principal, case_id)
    state = latest(session, [case.id]).get(case.id)
    suggestion = None
    if state is None or not state.unreachable:
        why = contact_lost(session, [case.id]).get(case.id)
        if why:
            suggestion = {"unreachable": True, "rule": "contact_lost", "evidence": why}
    items, total = history(session, case.id, page=page, page_size=page_size)
    audit.record(session, principal, "case.reachability", case_id=case.id)
    return {"case_id": case.id, "state": state_view(state), "suggestion": suggestion,
            "items": items, "total": total}
