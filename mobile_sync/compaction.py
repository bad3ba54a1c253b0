"""Keeping the change log short. The oldest rows are deleted, whole transactions at a time; a
phone whose cursor is older than the newest deleted row gets a reset and bootstraps (documents
are always current, so nothing is lost)."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from api.models import SyncChange, SyncCounter


def compact(session: Session, keep_rows: int) -> tuple[tuple[int, int], int]:
    """Leave about `keep_rows` change rows. Returns ((tx, seq) of the newest row removed,
    rows deleted)."""
    newest_removed = (_counter(session, "horizon_tx"), _counter(session, "horizon_seq"))
    total = session.scalar(select(func.count()).select_from(SyncChange))
    if total <= keep_rows:
        return newest_removed, 0
    boundary = session.scalar(
        select(SyncChange.tx_id).order_by(SyncChange.tx_id.desc(), SyncChange.seq.desc())
        .offset(keep_rows).limit(1))
    last = session.execute(
        select(SyncChange.tx_id, SyncChange.seq).where(SyncChange.tx_id <= boundary)
        .order_by(SyncChange.tx_id.desc(), SyncChange.seq.desc()).limit(1)).one()
    deleted = session.execute(delete(SyncChange).where(SyncChange.tx_id <= boundary)).rowcount
    newest_removed = max(newest_removed, (last.tx_id, last.seq))
    for name, value in zip(("horizon_tx", "horizon_seq"), newest_removed, strict=True):
        counter = session.get(SyncCounter, name)
        if counter is None:
            session.add(SyncCounter(name=name, value=value))
        else:
            counter.value = value
    return newest_removed, deleted


def _counter(session: Session, name: str) -> int:
    return session.scalar(select(SyncCounter.value).where(SyncCounter.name == name)) or 0
