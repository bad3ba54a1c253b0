"""Pull: a device's slice of the case file, as a bootstrap and then as deltas.

A page is built by concatenating the stored device documents (serialised and sealed at write
time): one indexed range scan, one decryption and inflation per document, no parsing, no ORM
loads or schema dumps.

Two entities share the bucket: cases, and the collector's route plans (a handful: published
plans from the day before yesterday on). A bootstrap sends the cases page by page and the
plans with the last page; deltas carry either, in log order."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from api.models import CaseDocument, Device, RouteDocument, SyncChange, SyncCounter
from api.models.types import UTCDateTime, utcnow
from api.services.identity.pii import PiiCipher
from mobile_sync import reference
from mobile_sync.changelog import CASE_ENTITY, ROUTE_ENTITY, bucket_of
from mobile_sync.cursor import END_OF_TX, Cursor, ResetRequired, decode
from mobile_sync.documents import open_document_bytes


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What a pull needs before it reads changes, read in one statement."""

    last_mutation_id: int
    horizon: tuple[int, int]  # (tx, seq) of the newest change row compaction removed
    watermark: int  # every change row with tx_id below it is committed (or aborted)
    reference_version: str


@dataclass(frozen=True)
class Page:
    body: bytes  # the page's JSON
    changes: int
    puts: int  # the changes that carry a document: personal data, whose sending is audited


_PUT = b'{"op":"put"'


def pull(
    session: Session,
    *,
    user_id: int,
    device_id: str,
    cipher: PiiCipher,
    cursor: str | None,
    limit: int,
    ref_version: str | None,
    reference_data: Callable[[], dict],
) -> Page:
    """One page: its JSON bytes {cursor, has_more, last_mutation_id, changes, reference?} and
    what it carries (counted as it is built, not by scanning the bytes).

    `reference_data` builds the reference data; it is called (and the policies read) once per
    reference version, for a bootstrap or a phone whose `ref_version` is not the current one."""
    bucket = bucket_of(user_id)
    state = device_state(session, device_id)
    if cursor is None:
        position = Cursor(bucket, "boot", state.watermark - 1, END_OF_TX, 0)
    else:
        position = decode(cursor, bucket)
        # A cursor before the newest removed row may have missed rows that are gone.
        if position.mode == "delta" and (position.tx, position.seq) < state.horizon:
            raise ResetRequired("The cursor is older than the kept change log; bootstrap again.")
    if position.mode == "boot":
        changes, position, has_more = _bootstrap_page(session, cipher, user_id, position, limit)
    else:
        changes, position, has_more = _delta_page(
            session, cipher, user_id, position, limit, state.watermark)
    head = {
        "cursor": position.encode(),
        "has_more": has_more,
        "last_mutation_id": state.last_mutation_id,
        "bootstrap": cursor is None,
    }
    if cursor is None or ref_version != state.reference_version:
        data = reference.cached(str(session.get_bind().url), state.reference_version,
                                reference_data)
        head["reference"] = {"version": state.reference_version, **data}
    prefix = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1].encode()
    return Page(prefix + b',"changes":[' + b",".join(changes) + b"]}", len(changes),
                sum(change.startswith(_PUT) for change in changes))


def device_state(session: Session, device_id: str) -> DeviceState:
    """The device's last mutation id, the compaction horizon, the watermark and the reference
    data's version, in one statement.

    The watermark: SQLite's clock (writers are serialised, so everything up to it has
    committed); PostgreSQL's `sync_watermark()` (the migration c7e1a3f5b9d2): the oldest
    transaction still running *in this database* (xids are cluster-wide, and a long import in
    another database must not hold this one's phones back), or the snapshot's xmax."""
    dialect = session.get_bind().dialect.name
    statement = _STATE.get(dialect)
    if statement is None:
        statement = _STATE[dialect] = _state_statement(dialect)
    row = session.execute(statement, {"device_id": device_id, "now": utcnow()}).one()
    return DeviceState(
        last_mutation_id=row[0] or 0,
        horizon=(row[1], row[2]),
        watermark=row[3],
        reference_version=reference.version_of(row[4:]),
    )


_STATE: dict[str, object] = {}  # built once per dialect: no statement to build per pull


def _state_statement(dialect: str):
    def counter(name: str):
        return select(SyncCounter.value).where(SyncCounter.name == name).scalar_subquery()

    if dialect == "postgresql":
        watermark = func.sync_watermark()
    else:
        watermark = func.coalesce(counter("clock"), 0) + 1
    return select(
        select(Device.last_mutation_id).where(
            Device.id == bindparam("device_id")).scalar_subquery(),
        func.coalesce(counter("horizon_tx"), 0), func.coalesce(counter("horizon_seq"), 0),
        watermark, *reference.fingerprint(bindparam("now", type_=UTCDateTime)),
    )


def _put(entity_id: int, sealed: bytes, cipher: PiiCipher, entity: str = CASE_ENTITY) -> bytes:
    return b"".join((_PUT, b',"entity":"', entity.encode(), b'","id":',
                     str(entity_id).encode(), b',"data":', open_document_bytes(cipher, sealed),
                     b"}"))


def _route_documents(session, user_id: int, plan_ids=None) -> dict[int, bytes]:
    stmt = select(RouteDocument.plan_id, RouteDocument.sealed).where(
        RouteDocument.collector_id == user_id
    )
    if plan_ids is not None:
        stmt = stmt.where(RouteDocument.plan_id.in_(plan_ids))
    return dict(session.execute(stmt.order_by(RouteDocument.plan_id)).all())


def _bootstrap_page(session, cipher, user_id, position: Cursor, limit: int):
    rows = session.execute(
        select(CaseDocument.case_id, CaseDocument.sealed)
        .where(CaseDocument.collector_id == user_id, CaseDocument.case_id > position.after_case)
        .order_by(CaseDocument.case_id)
        .limit(limit + 1)
    ).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    changes = [_put(case_id, sealed, cipher) for case_id, sealed in rows]
    if has_more:
        return (
            changes,
            Cursor(position.bucket, "boot", position.tx, position.seq, rows[-1].case_id),
            True,
        )
    # The last page: the collector's plans follow their cases; then follow the log from the
    # watermark taken when the bootstrap began.
    changes += [
        _put(plan_id, sealed, cipher, ROUTE_ENTITY)
        for plan_id, sealed in _route_documents(session, user_id).items()
    ]
    return changes, Cursor(position.bucket, "delta", position.tx, position.seq), False


def _delta_page(session, cipher, user_id, position: Cursor, limit: int, watermark: int):
    stmt = (
        select(
            SyncChange.tx_id, SyncChange.seq, SyncChange.entity, SyncChange.entity_id, SyncChange.op
        )
        .where(
            SyncChange.bucket == position.bucket,
            tuple_(SyncChange.tx_id, SyncChange.seq) > tuple_(position.tx, position.seq),
        )
        .order_by(SyncChange.tx_id, SyncChange.seq)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.where(SyncChange.tx_id < watermark)
    rows = session.execute(stmt).all()
    if not rows:
        return [], position, False
    final_op: dict[tuple[str, int], str] = {}
    for row in rows:  # later rows win; dict keeps first-seen order, re-insert to move last
        final_op.pop((row.entity, row.entity_id), None)
        final_op[(row.entity, row.entity_id)] = row.op
    puts = {CASE_ENTITY: [], ROUTE_ENTITY: []}
    for (entity, entity_id), op in final_op.items():
        if op == "put" and entity in puts:
            puts[entity].append(entity_id)
    documents = {
        CASE_ENTITY: dict(
            session.execute(
                select(CaseDocument.case_id, CaseDocument.sealed).where(
                    CaseDocument.case_id.in_(puts[CASE_ENTITY]),
                    CaseDocument.collector_id == user_id,
                )
            ).all()
        )
        if puts[CASE_ENTITY]
        else {},
        ROUTE_ENTITY: _route_documents(session, user_id, puts[ROUTE_ENTITY])
        if puts[ROUTE_ENTITY]
        else {},
    }
    changes = []
    for (entity, entity_id), op in final_op.items():
        if op == "put" and entity_id in documents.get(entity, {}):
            changes.append(_put(entity_id, documents[entity][entity_id], cipher, entity))
        elif op == "remove":
            changes.append(f'{{"op":"remove","entity":"{entity}","id":{entity_id}}}'.encode())
        # A put whose document has since left this bucket: its remove follows in the log.
    last = rows[-1]
    return changes, Cursor(position.bucket, "delta", last.tx_id, last.seq), len(rows) == limit
