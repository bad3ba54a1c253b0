"""Offline-sync bookkeeping: the change log, per-case device documents, the SQLite clock, and
every mutation a device has pushed (the exactly-once ledger)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.models.types import BigId, IdPk, UTCDateTime, utcnow


class SyncChange(db.Model):
    """One change to one entity in one device bucket, written in the changing transaction.

    `tx_id` is the writing transaction's id on PostgreSQL (pg_current_xact_id) and the value
    of the serialised clock (`SyncCounter`) on SQLite; pulls read in (tx_id, seq) order and,
    on PostgreSQL, only below the oldest transaction still running, so late commits are never
    skipped."""

    __tablename__ = "sync_changes"
    __table_args__ = (Index("ix_sync_changes_bucket_tx_seq", "bucket", "tx_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tx_id: Mapped[int] = mapped_column(BigInteger)
    bucket: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(6))  # "put" | "remove"


class CaseDocument(db.Model):
    """The device-facing JSON of a case, serialised once at write time and encrypted at rest
    (it carries the full national ID and phones the assigned collector needs)."""

    __tablename__ = "case_documents"
    # A bootstrap page: this collector's documents after a case id, in case-id order.
    __table_args__ = (Index("ix_case_documents_collector_case", "collector_id", "case_id"),)

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    collector_id: Mapped[int | None] = mapped_column(BigInteger)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # `mobile_sync.documents.fingerprint` of `sealed`, set with it: an import tells that the
    # document is still the one it left (`imports.digests`) without reading the document.
    fingerprint: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SyncCounter(db.Model):
    """Named counters: "clock" (SQLite only: bumped once in each write transaction that logs
    changes, serving as its tx_id), and "horizon_tx" / "horizon_seq": the newest change row
    compaction removed."""

    __tablename__ = "sync_counters"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class DeviceMutation(db.Model):
    """Every mutation a device pushed, with the answer it got: replays get the same answer."""

    __tablename__ = "device_mutations"
    __table_args__ = (UniqueConstraint("device_id", "mutation_id"),)

    id: Mapped[IdPk]
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    mutation_id: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(12))  # "applied" | "rejected"
    result: Mapped[str] = mapped_column(Text, default="{}")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
