"""Pull: a device's slice of the case file, as a bootstrap and then as deltas.

A page is built by concatenating the stored device documents (serialised and sealed at write
time): one indexed range scan, one decryption per document, no ORM loads or schema dumps.

Two entities share the bucket: cases, and the collector's route plans (a handful: published
plans from the day before yesterday on). A bootstrap sends the cases page by page and the
plans with the last page; deltas carry either, in log order."""

from __future__ import annotations

import json

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from api.models import CaseDocument, Device, RouteDocument, SyncChange, SyncCounter
from api.services.identity.pii import PiiCipher
from mobile_sync.changelog import CASE_ENTITY, ROUTE_ENTITY, bucket_of, read_counter
from mobile_sync.cursor import END_OF_TX, Cursor, ResetRequired, decode


def pull(
    session: Session,
    *,
    user_id: int,
    device_id: str,
    cipher: PiiCipher,
    cursor: str | None,
    limit: int,
    reference: dict | None,
) -> bytes:
    """One page as JSON bytes: {cursor, has_more, last_mutation_id, changes, reference?}."""
    bucket = bucket_of(user_id)
    last_mutation_id = (
        session.scalar(select(Device.last_mutation_id).where(Device.id == device_id)) or 0
    )
    if cursor is None:
        position = Cursor(bucket, "boot", _watermark(session) - 1, END_OF_TX, 0)
    else:
        position = decode(cursor, bucket)
        # (tx, seq) of the newest change row compaction removed: a cursor before it may have
        # missed rows that are gone.
        counters = dict(session.execute(select(SyncCounter.name, SyncCounter.value).where(
            SyncCounter.name.in_(("horizon_tx", "horizon_seq")))).all())
        removed = (counters.get("horizon_tx", 0), counters.get("horizon_seq", 0))
        if position.mode == "delta" and (position.tx, position.seq) < removed:
            raise ResetRequired("The cursor is older than the kept change log; bootstrap again.")
    if position.mode == "boot":
        changes, position, has_more = _bootstrap_page(session, cipher, user_id, position, limit)
    else:
        changes, position, has_more = _delta_page(session, cipher, user_id, position, limit)
    head = {
        "cursor": position.encode(),
        "has_more": has_more,
        "last_mutation_id": last_mutation_id,
        "bootstrap": cursor is None,
    }
    if reference is not None:
        head["reference"] = reference
    prefix = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    return (prefix + ',"changes":[' + ",".join(changes) + "]}").encode()


def _watermark(session: Session) -> int:
    """Every change row with tx_id below this has committed (or aborted) and is visible.

    SQLite: the clock; writers are serialised, so everything up to it has committed.
    PostgreSQL: the oldest transaction still running *in this database* (xids are cluster-wide,
    and a long import in another database must not hold this one's phones back). The snapshot
    is taken first and the running backends read after it, so a transaction that started in
    between has an xid beyond the snapshot and is excluded anyway."""
    if session.get_bind().dialect.name != "postgresql":
        return read_counter(session, "clock") + 1
    xmax, in_progress = session.execute(
        text(
            "SELECT pg_snapshot_xmax(s)::text::bigint,"
            " ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x)"
            " FROM pg_current_snapshot() AS s"
        )
    ).one()
    if not in_progress:
        return xmax
    session.execute(text("SELECT pg_stat_clear_snapshot()"))
    here = set(
        session.scalars(
            text(
                "SELECT backend_xid::text::bigint FROM pg_stat_activity"
                " WHERE datname = current_database() AND backend_xid IS NOT NULL"
            )
        )
    )
    return min((x for x in in_progress if x & 0xFFFFFFFF in here), default=xmax)


def _put(entity_id: int, sealed: bytes, cipher: PiiCipher, entity: str = CASE_ENTITY) -> str:
    return (
        f'{{"op":"put","entity":"{entity}","id":{entity_id},"data":'
        + cipher.unseal(sealed).decode()
        + "}"
    )


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


def _delta_page(session, cipher, user_id, position: Cursor, limit: int):
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
        stmt = stmt.where(SyncChange.tx_id < _watermark(session))
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
            changes.append(f'{{"op":"remove","entity":"{entity}","id":{entity_id}}}')
        # A put whose document has since left this bucket: its remove follows in the log.
    last = rows[-1]
    return changes, Cursor(position.bucket, "delta", last.tx_id, last.seq), len(rows) == limit
