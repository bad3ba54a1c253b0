"""Promises in the feed: broken ones, and instalments due today that are not yet paid.

A promise turns broken when it is judged again (`api.services.fieldwork.promise_status`), which
imports of payments do; a scan also judges every pending promise with a date that has passed,
so the feed and the case file (and the phone's copy of it) agree. The day that counts is the
debtor's. Plans are JSON, so SQL narrows the candidates and Python reads their plans."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from api.models import (
    Case,
    CaseStatus,
    Debtor,
    ExceptionActor,
    ExceptionItem,
    ExceptionKind,
    ExceptionState,
    PromiseStatus,
    RepaymentPromise,
)
from api.models.cases import CLOSED_STATUSES
from api.services.fieldwork.promise_status import promise_status, refresh_promise_statuses
from api.services.supervision.exceptions_feed.actions import CLEARED
from api.services.supervision.exceptions_feed.scope import ITEMS, Scope

SUBJECT = "repayment_promise"
SHORT = (PromiseStatus.BROKEN, PromiseStatus.PARTLY_KEPT)
PROMISE_KINDS = (ExceptionKind.PROMISE_BROKEN, ExceptionKind.PROMISE_DUE_TODAY)
_OPEN_CASE = Case.status.not_in(CLOSED_STATUSES)
_CHUNK = 500


def who_acts(kind: ExceptionKind, case_status, collector_id: int | None):
    """(actor, action, collector): the case's collector follows a promise up, the team's
    supervisors when it has none, legal staff when a broken one is on a case in litigation."""
    if kind is ExceptionKind.PROMISE_BROKEN and case_status == CaseStatus.LEGAL:
        return ExceptionActor.LEGAL, "review_for_litigation", collector_id
    action = "call_debtor" if kind is ExceptionKind.PROMISE_BROKEN else "remind_debtor"
    if collector_id is None:
        return ExceptionActor.SUPERVISOR, action, None
    return ExceptionActor.COLLECTOR, action, collector_id


def _plan(text: str) -> list[tuple[date, int]]:
    return [(date.fromisoformat(i["due_on"]), i["amount_fen"]) for i in json.loads(text)]


def _zone(name: str | None, default: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _reopens(state, occurred_before: datetime | None, occurred: datetime) -> bool:
    """No item yet, or a resolved one about an earlier occurrence (as the SQL upsert says)."""
    return state is None or (state == ExceptionState.RESOLVED and occurred_before < occurred)


def _with_item(scope: Scope, kind: ExceptionKind, *columns):
    item = aliased(ExceptionItem)
    stmt = (
        select(*columns, item.state, item.occurred_at)
        .join(Case, Case.id == RepaymentPromise.case_id)
        .join(Debtor, Debtor.id == Case.debtor_id)
        .outerjoin(item, and_(item.kind == kind, item.subject_type == SUBJECT,
                              item.subject_id == RepaymentPromise.id))
        .where(_OPEN_CASE, or_(item.id.is_(None), item.state == ExceptionState.RESOLVED))
    )
    return scope.of_team(stmt, Case.team_id)


# --- judging again ----------------------------------------------------------------------------


def rejudge_overdue_promises(scope: Scope) -> int:
    """Judge again each pending promise of which something has fallen due (debtor-local) that
    the amount paid toward it does not cover; returns how many promises changed."""
    stmt = (
        select(RepaymentPromise.case_id, RepaymentPromise.plan, RepaymentPromise.paid_toward_fen,
               Debtor.timezone)
        .join(Case, Case.id == RepaymentPromise.case_id)
        .join(Debtor, Debtor.id == Case.debtor_id)
        .where(RepaymentPromise.status == PromiseStatus.PENDING,
               RepaymentPromise.first_due_on <= scope.now.date() + timedelta(days=1))
    )
    due: dict[date, set[int]] = {}
    for case_id, plan, paid, zone in scope.session.execute(scope.of_team(stmt, Case.team_id)):
        as_of = scope.now.astimezone(_zone(zone, scope.settings.default_timezone)).date()
        if promise_status(_plan(plan), paid, as_of) is not PromiseStatus.PENDING:
            due.setdefault(as_of, set()).add(case_id)
    changed = 0
    for as_of, case_ids in sorted(due.items()):
        ids = sorted(case_ids)
        for start in range(0, len(ids), _CHUNK):
            changed += refresh_promise_statuses(scope.session, ids[start : start + _CHUNK], as_of)
    scope.session.flush()
    return changed


# --- broken promises --------------------------------------------------------------------------


class BrokenPromises:
    kind, subject_type = ExceptionKind.PROMISE_BROKEN, SUBJECT
    kinds = (kind,)

    def detect(self, scope: Scope) -> Counter:
        P = RepaymentPromise
        stmt = _with_item(scope, self.kind, P.id, P.case_id, P.plan, P.status, P.total_fen,
                          P.paid_toward_fen, Case.team_id, Case.collector_id, Case.status,
                          Debtor.timezone).where(P.status.in_(SHORT))
        rows = []
        for (pid, case_id, plan_text, status, total, paid, team_id, collector_id, case_status,
             zone_name, state, occurred_before) in scope.session.execute(stmt):
            zone = _zone(zone_name, scope.settings.default_timezone)
            today = scope.now.astimezone(zone).date()
            plan = _plan(plan_text)
            fell_due = [day for day, _ in plan if day < today]
            # Broken at the start of the day after the last date that passed unpaid.
            occurred = _midnight(max(fell_due, default=today - timedelta(days=1))
                                 + timedelta(days=1), zone)
            if not _reopens(state, occurred_before, occurred):
                continue
            actor, action, collector = who_acts(self.kind, case_status, collector_id)
            rows.append({
                "subject_id": pid, "case_id": case_id, "team_id": team_id,
                "collector_id": collector, "actor": actor, "action": action,
                "occurred_at": occurred,
                "detail": json.dumps({
                    "status": PromiseStatus(status).value, "total_fen": total,
                    "paid_toward_fen": paid,
                    "due_so_far_fen": sum(a for day, a in plan if day < today),
                }),
            })
        return scope.open_rows(self.kind, self.subject_type, rows)

    def resolve(self, scope: Scope) -> Counter:
        holds = exists(
            select(RepaymentPromise.id)
            .join(Case, Case.id == RepaymentPromise.case_id)
            .where(RepaymentPromise.id == ITEMS.c.subject_id,
                   RepaymentPromise.status.in_(SHORT), _OPEN_CASE)
        )
        return Counter({self.kind: scope.resolve(self.kind, ~holds, CLEARED[self.kind])})


# --- promises due today -----------------------------------------------------------------------


def _due_today(plan: list[tuple[date, int]], paid: int, today: date) -> tuple[int, int] | None:
    """(amount due today, amount due up to today) when today's is not yet paid, else None."""
    today_fen = sum(a for day, a in plan if day == today)
    through = sum(a for day, a in plan if day <= today)
    return (today_fen, through) if today_fen and paid < through else None


class PromisesDueToday:
    kind, subject_type = ExceptionKind.PROMISE_DUE_TODAY, SUBJECT
    kinds = (kind,)

    def detect(self, scope: Scope) -> Counter:
        P = RepaymentPromise
        utc_today = scope.now.date()
        stmt = _with_item(scope, self.kind, P.id, P.case_id, P.plan, P.paid_toward_fen,
                          Case.team_id, Case.collector_id, Case.status, Debtor.timezone).where(
            P.status == PromiseStatus.PENDING,
            P.first_due_on <= utc_today + timedelta(days=1),
            P.last_due_on >= utc_today - timedelta(days=1),
        )
        rows = []
        for (pid, case_id, plan, paid, team_id, collector_id, case_status, zone_name, state,
             occurred_before) in scope.session.execute(stmt):
            zone = _zone(zone_name, scope.settings.default_timezone)
            today = scope.now.astimezone(zone).date()
            due = _due_today(_plan(plan), paid, today)
            occurred = _midnight(today, zone)
            if due is None or not _reopens(state, occurred_before, occurred):
                continue
            actor, action, collector = who_acts(self.kind, case_status, collector_id)
            rows.append({
                "subject_id": pid, "case_id": case_id, "team_id": team_id,
                "collector_id": collector, "actor": actor, "action": action,
                "occurred_at": occurred,
                "detail": json.dumps({"due_on": today.isoformat(), "amount_fen": due[0],
                                      "due_through_today_fen": due[1], "paid_toward_fen": paid}),
            })
        return scope.open_rows(self.kind, self.subject_type, rows)

    def resolve(self, scope: Scope) -> Counter:
        """Cleared when the day is over, today's amount is paid, or the promise is no longer
        pending (kept, broken) or its case closed."""
        P = RepaymentPromise
        stmt = (
            select(ITEMS.c.id, ITEMS.c.occurred_at, P.status, P.plan, P.paid_toward_fen,
                   Case.status, Debtor.timezone)
            .select_from(ITEMS)
            .outerjoin(P, P.id == ITEMS.c.subject_id)
            .outerjoin(Case, Case.id == P.case_id)
            .outerjoin(Debtor, Debtor.id == Case.debtor_id)
            .where(ITEMS.c.kind == self.kind, ITEMS.c.state != ExceptionState.RESOLVED)
        )
        if scope.team_id is not None:
            stmt = stmt.where(ITEMS.c.team_id == scope.team_id)
        cleared = []
        for item_id, occurred, status, plan, paid, case_status, zone_name in (
            scope.session.execute(stmt)
        ):
            zone = _zone(zone_name, scope.settings.default_timezone)
            today = scope.now.astimezone(zone).date()
            holds = (
                status == PromiseStatus.PENDING
                and case_status not in CLOSED_STATUSES
                and occurred == _midnight(today, zone)
                and _due_today(_plan(plan), paid, today) is not None
            )
            if not holds:
                cleared.append(item_id)
        resolved = 0
        for start in range(0, len(cleared), _CHUNK):
            resolved += scope.resolve(self.kind, ITEMS.c.id.in_(cleared[start : start + _CHUNK]),
                                      CLEARED[self.kind])
        return Counter({self.kind: resolved})


# --- following the case -----------------------------------------------------------------------


def follow_promise_cases(scope: Scope) -> int:
    """Who should act on an unresolved promise item follows the case (a new collector, the
    case gone to litigation)."""
    stmt = (
        select(ITEMS.c.id, ITEMS.c.kind, ITEMS.c.actor, ITEMS.c.action, ITEMS.c.collector_id,
               Case.status, Case.collector_id)
        .select_from(ITEMS)
        .join(Case, Case.id == ITEMS.c.case_id)
        .where(ITEMS.c.kind.in_(PROMISE_KINDS), ITEMS.c.state != ExceptionState.RESOLVED)
    )
    stmt = scope.of_team(stmt, Case.team_id)
    changes: dict[tuple, list[int]] = {}
    for item_id, kind, actor, action, collector, case_status, case_collector in (
        scope.session.execute(stmt)
    ):
        now = who_acts(ExceptionKind(kind), case_status, case_collector)
        if now != (ExceptionActor(actor), action, collector):
            changes.setdefault(now, []).append(item_id)
    for (actor, action, collector), ids in changes.items():
        scope.session.execute(
            ITEMS.update().where(ITEMS.c.id.in_(ids))
            .values(actor=actor, action=action, collector_id=collector)
        )
    return sum(len(ids) for ids in changes.values())
