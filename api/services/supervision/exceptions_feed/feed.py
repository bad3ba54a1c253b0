"""Reading the feed and acting on it.

Who sees which items: admins and legal staff every item; a supervisor the items of their team
(a case item only while the case is still the team's); a collector the items they are to act
on themselves (their phone, their uploads, promises on the cases they hold). Who may act:
whoever sees an item, except legal staff, who act only on items for legal (a broken promise on
a case in litigation) and read the rest. An item goes open → acknowledged → resolved, or
straight to resolved; resolving by hand needs a note; a resolved item is final until a scan
finds a new occurrence of its condition."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import Select, false, func, or_, select, update
from sqlalchemy.orm import Session

from api.models import (
    Case,
    Debtor,
    ExceptionActor,
    ExceptionItem,
    ExceptionKind,
    ExceptionState,
    Role,
    User,
)
from api.models.types import utcnow
from api.services.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from api.services.identity import audit
from api.services.identity.accounts import Principal
from api.services.supervision.exceptions_feed.actions import action_text

NOTE_MAX = 400


@dataclass
class ExceptionFilters:
    team_id: int | None = None
    kinds: list[ExceptionKind] = field(default_factory=list)
    states: list[ExceptionState] = field(default_factory=list)
    case_id: int | None = None
    collector_id: int | None = None
    page: int = 1
    page_size: int = 50


def visible_items(principal: Principal, stmt: Select | None = None) -> Select:
    """Restrict a select over ExceptionItem to what the principal may read."""
    stmt = select(ExceptionItem) if stmt is None else stmt
    item = ExceptionItem
    if principal.role is Role.SUPERVISOR:
        if principal.team_id is None:
            return stmt.where(false())
        # A case item only while the case is still the team's (until a scan moves it on).
        return stmt.outerjoin(Case, Case.id == item.case_id).where(
            item.team_id == principal.team_id,
            or_(item.case_id.is_(None), Case.team_id == principal.team_id),
        )
    if principal.role is Role.COLLECTOR:
        return stmt.outerjoin(Case, Case.id == item.case_id).where(
            item.actor == ExceptionActor.COLLECTOR,
            item.collector_id == principal.user_id,
            or_(item.case_id.is_(None), Case.collector_id == principal.user_id),
        )
    return stmt  # admins and legal staff


def list_items(
    session: Session, principal: Principal, f: ExceptionFilters
) -> tuple[list[dict], int]:
    """One page, newest first, and how many match; a page that names cases is audited."""
    stmt = visible_items(principal, select(ExceptionItem.id))
    item = ExceptionItem
    for column, value in ((item.team_id, f.team_id), (item.case_id, f.case_id),
                          (item.collector_id, f.collector_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if f.kinds:
        stmt = stmt.where(item.kind.in_(f.kinds))
    if f.states:
        stmt = stmt.where(item.state.in_(f.states))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ids = session.scalars(
        stmt.order_by(item.detected_at.desc(), item.id.desc())
        .limit(f.page_size)
        .offset((f.page - 1) * f.page_size)
    ).all()
    if not ids:
        return [], total
    by_id = {i.id: i for i in session.scalars(select(ExceptionItem).where(item.id.in_(ids)))}
    rows = [by_id[i] for i in ids]
    items = _views(session, rows)
    audit.record(session, principal, "exception.list", detail={
        "item_ids": list(ids), "case_ids": sorted({r.case_id for r in rows if r.case_id}),
    })
    return items, total


def acknowledge(session: Session, principal: Principal, item_id: int, note: str | None) -> dict:
    """open → acknowledged: someone has it in hand."""
    item = _actionable(session, principal, item_id)
    if item.state is not ExceptionState.OPEN:
        raise Conflict(f"This item is already {item.state.value}.")
    item.state = ExceptionState.ACKNOWLEDGED
    item.acknowledged_by_id, item.acknowledged_at = principal.user_id, utcnow()
    item.acknowledge_note = _note(note, required=False)
    return _acted(session, principal, item, "exception.acknowledge")


def resolve(session: Session, principal: Principal, item_id: int, note: str | None) -> dict:
    """open or acknowledged → resolved, by hand, saying how. Collectors only acknowledge:
    what is asked of them (sync the phone, call the debtor) is resolved by a scan that sees it
    done, or by their supervisor, so no one can silence an item about themselves."""
    item = _actionable(session, principal, item_id)
    if principal.role is Role.COLLECTOR:
        raise Forbidden("Collectors acknowledge items; a scan or the supervisor resolves them.")
    text = _note(note, required=True)
    if item.state is ExceptionState.RESOLVED:
        raise Conflict("This item is already resolved.")
    item.state, item.auto_resolved = ExceptionState.RESOLVED, False
    item.resolved_by_id, item.resolved_at = principal.user_id, utcnow()
    item.resolution_note = text
    return _acted(session, principal, item, "exception.resolve")


def reopen_server_file(session: Session, file_id: str) -> int:
    """A failed file is being made again: its item, if someone resolved it by hand, is open
    again, so a second failure is not silenced; a scan clears it once the file is made."""
    item = ExceptionItem
    return session.execute(
        update(item)
        .where(item.kind == ExceptionKind.SERVER_FILE_FAILED, item.subject_type == "evidence_file",
               item.subject_id == file_id, item.state == ExceptionState.RESOLVED)
        .values(state=ExceptionState.OPEN, auto_resolved=False, resolved_by_id=None,
                resolved_at=None, resolution_note=None)
    ).rowcount


def _actionable(session: Session, principal: Principal, item_id: int) -> ExceptionItem:
    stmt = visible_items(principal).where(ExceptionItem.id == item_id)
    item = session.scalar(stmt.with_for_update(of=ExceptionItem))
    if item is None:
        raise NotFound("No such exception item.")
    if principal.role is Role.LEGAL and item.actor is not ExceptionActor.LEGAL:
        raise Forbidden("Legal staff act only on the items for legal; this one is for the "
                        f"{item.actor.value}.")
    return item


def _note(note: str | None, *, required: bool) -> str | None:
    text = (note or "").strip()
    if required and not text:
        raise InvalidInput("Say how it was resolved.", fields={"note": ["required"]})
    if len(text) > NOTE_MAX:
        raise InvalidInput("The note is too long.", fields={"note": [f"at most {NOTE_MAX}"]})
    return text or None


def _acted(session: Session, principal: Principal, item: ExceptionItem, action: str) -> dict:
    session.flush()
    audit.record(session, principal, action, case_id=item.case_id,
                 detail={"item_id": item.id, "kind": item.kind.value})
    return _views(session, [item])[0]


def _views(session: Session, rows: list[ExceptionItem]) -> list[dict]:
    people = {p for r in rows for p in (r.collector_id, r.acknowledged_by_id, r.resolved_by_id)}
    people.discard(None)
    names = dict(session.execute(select(User.id, User.full_name).where(User.id.in_(people))).all())
    cases = {
        case_id: (contract_no, debtor)
        for case_id, contract_no, debtor in session.execute(
            select(Case.id, Case.contract_no, Debtor.name)
            .join(Debtor, Debtor.id == Case.debtor_id)
            .where(Case.id.in_({r.case_id for r in rows if r.case_id}))
        )
    }
    return [_view(r, names, cases) for r in rows]


def _view(item: ExceptionItem, names: dict, cases: dict) -> dict:
    contract_no, debtor = cases.get(item.case_id, (None, None))
    return {
        "id": item.id,
        "kind": item.kind,
        "subject_type": item.subject_type,
        "subject_id": item.subject_id,
        "case_id": item.case_id,
        "contract_no": contract_no,
        "debtor_name": debtor,
        "team_id": item.team_id,
        "collector_id": item.collector_id,
        "collector_name": names.get(item.collector_id),
        "actor": item.actor,
        "action": item.action,
        "action_text": action_text(item.action),
        "detail": json.loads(item.detail or "{}"),
        "occurred_at": item.occurred_at,
        "detected_at": item.detected_at,
        "state": item.state,
        "acknowledged_by_id": item.acknowledged_by_id,
        "acknowledged_by_name": names.get(item.acknowledged_by_id),
        "acknowledged_at": item.acknowledged_at,
        "acknowledge_note": item.acknowledge_note,
        "resolved_by_id": item.resolved_by_id,
        "resolved_by_name": names.get(item.resolved_by_id),
        "resolved_at": item.resolved_at,
        "auto_resolved": item.auto_resolved,
        "resolution_note": item.resolution_note,
    }
