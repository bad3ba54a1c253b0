"""The read path every field record shares: who may see it, the filters, one page in a handful
of queries (ids, rows, names, files), the audit row."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Boolean, Select, func, select
from sqlalchemy.orm import Session

from api.models import Case, Debtor, EvidenceFile, UploadStatus, User
from api.services.evidence.custody import describe_file
from api.services.exceptions import InvalidInput, NotFound
from api.services.identity import audit
from api.services.identity.access import visible_cases
from api.services.identity.accounts import Principal


@dataclass
class RecordFilters:
    """What a list may be narrowed by. `collector_id` is the record's author; `team_id` the
    case's team. Kind-specific filters (outcome, flag, status...) go in `extra`."""

    team_id: int | None = None
    collector_id: int | None = None
    case_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    sort: str | None = None  # "key" or "-key"; the kind's default when None
    page: int = 1
    page_size: int = 50


@dataclass
class Lookups:
    """What a page needs besides its rows, fetched once for the whole page."""

    names: dict[int, str]
    files: dict[str, list[EvidenceFile]]
    cases: dict[int, tuple[str, str, int | None]]  # case id -> contract no, debtor, team
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordKind:
    """One type of field record and how it is read back."""

    name: str  # the evidence `record_type` and the audit action's prefix
    label: str  # for messages: "visit report"
    model: type
    sorts: dict[str, Any]
    default_sort: str
    view: Callable[[Any, Lookups], dict]
    filter: Callable[[Select, dict], Select] = lambda stmt, extra: stmt
    detail: Callable[[Session, Any, Lookups], dict] = lambda session, row, lookups: {}
    people: Callable[[Any], set[int]] = lambda row: set()
    page_extra: Callable[[Session, list], dict] = lambda session, rows: {}


def _mostly_true(session: Session, condition):
    """SQLite would drive the query from the team's cases and sort all their records;
    `likely()` tells its planner the test passes for most rows, so it walks the record's
    time or day index instead (PostgreSQL's planner needs no hint)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.likely(condition, type_=Boolean)
    return condition


def _visible(principal: Principal, kind: RecordKind, *columns) -> Select:
    stmt = select(*columns).join(Case, Case.id == kind.model.case_id)
    return visible_cases(principal, stmt)


def list_records(
    session: Session, principal: Principal, kind: RecordKind, f: RecordFilters
) -> tuple[list[dict], int]:
    """One page of the records the principal may see, and how many match in all."""
    model = kind.model
    sort = f.sort or kind.default_sort
    column = kind.sorts.get(sort.lstrip("-"))
    if column is None:
        raise InvalidInput(f"Cannot sort by {sort!r}.", fields={"sort": ["unknown sort key"]})
    cases = visible_cases(principal, select(Case.id))
    if f.team_id is not None:
        cases = cases.where(Case.team_id == f.team_id)
    stmt = select(model.id).where(_mostly_true(session, model.case_id.in_(cases)))
    if f.collector_id is not None:
        stmt = stmt.where(model.author_id == f.collector_id)
    if f.case_id is not None:
        stmt = stmt.where(model.case_id == f.case_id)
    stmt = kind.filter(stmt, f.extra)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = (column.desc(), model.id.desc()) if sort.startswith("-") else (column, model.id)
    ids = session.scalars(
        stmt.order_by(*order).limit(f.page_size).offset((f.page - 1) * f.page_size)
    ).all()
    if not ids:
        return [], total
    by_id = {r.id: r for r in session.scalars(select(model).where(model.id.in_(ids)))}
    rows = [by_id[i] for i in ids]
    lookups = _lookups(session, kind, rows)
    items = [kind.view(row, lookups) for row in rows]
    audit.record(
        session,
        principal,
        f"{kind.name}.list",
        detail={"record_ids": list(ids), "case_ids": sorted({r.case_id for r in rows})},
    )
    return items, total


def record_detail(session: Session, principal: Principal, kind: RecordKind, record_id: str) -> dict:
    """One record with everything it carries; hidden or missing answer the same 404."""
    row = session.scalar(_visible(principal, kind, kind.model).where(kind.model.id == record_id))
    if row is None:
        raise NotFound(f"No such {kind.label}.")
    lookups = _lookups(session, kind, [row])
    detail = {
        **kind.view(row, lookups),
        **kind.detail(session, row, lookups),
        "files": [describe_file(f) for f in lookups.files.get(row.id, [])],
    }
    audit.record(
        session, principal, f"{kind.name}.read", case_id=row.case_id, detail={"record_id": row.id}
    )
    return detail


def _lookups(session: Session, kind: RecordKind, rows: list) -> Lookups:
    ids = [r.id for r in rows]
    people = {r.author_id for r in rows}.union(*(kind.people(r) for r in rows))
    names = dict(session.execute(select(User.id, User.full_name).where(User.id.in_(people))).all())
    files: dict[str, list[EvidenceFile]] = {}
    for slot in session.scalars(
        select(EvidenceFile)
        .where(EvidenceFile.record_type == kind.name, EvidenceFile.record_id.in_(ids))
        .order_by(EvidenceFile.declared_at, EvidenceFile.id)
    ):
        files.setdefault(slot.record_id, []).append(slot)
    cases = {
        case_id: (contract_no, debtor, team_id)
        for case_id, contract_no, debtor, team_id in session.execute(
            select(Case.id, Case.contract_no, Debtor.name, Case.team_id)
            .join(Debtor, Debtor.id == Case.debtor_id)
            .where(Case.id.in_({r.case_id for r in rows}))
        )
    }
    return Lookups(names, files, cases, kind.page_extra(session, rows))


def common_view(row, lookups: Lookups, *, flags: list[str] | None = None) -> dict:
    """The columns every field record carries, named for the reader."""
    contract_no, debtor_name, team_id = lookups.cases[row.case_id]
    slots = lookups.files.get(row.id, [])
    flags = list(flags or [])
    if row.case_reassigned and "case_reassigned" not in flags:
        flags.append("case_reassigned")
    return {
        "id": row.id,
        "case_id": row.case_id,
        "contract_no": contract_no,
        "debtor_name": debtor_name,
        "team_id": team_id,
        "author_id": row.author_id,
        "author_name": lookups.names.get(row.author_id),
        "device_id": row.device_id,
        "client_time": row.client_time,
        "received_at": row.received_at,
        "case_reassigned": row.case_reassigned,
        "flags": flags,
        "policy_ref": row.policy_ref,
        "files_declared": len(slots),
        "files_uploaded": sum(s.status is UploadStatus.COMPLETE for s in slots),
    }


def json_list(text: str | None) -> list:
    return json.loads(text) if text else []


def day_range(stmt: Select, column, start: date | None, end: date | None) -> Select:
    if start is not None:
        stmt = stmt.where(column >= start)
    if end is not None:
        stmt = stmt.where(column <= end)
    return stmt
