"""The append-only, hash-chained audit log of reads of personal data and evidence access, and
the signed statements of its chains' heads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.models.types import IdPk, UTCDateTime, utcnow


class AuditEvent(db.Model):
    """Each row carries the hash of the row before it in its shard's chain, so an edited or
    deleted row shows (api/services/identity/audit.py, docs/audit.md)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_shard_id", "shard", "id"),)

    id: Mapped[IdPk]
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(index=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")
    # Which chain the row is in; appends to different shards never wait on each other.
    shard: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    # The FIELDVISIT_AUDIT_KEY id its HMAC is keyed with; 0: an unkeyed SHA-256 row written
    # before keyed hashes existed (accepted only in shard 0, before its first keyed row).
    key_id: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHeadStatement(db.Model):
    """Every shard's head (last id, last hash, row count, time) signed with the audit key's
    Ed25519 key: rows up to a head cannot be rewritten unseen, even by someone holding the HMAC
    key, once the statement is kept outside the database."""

    __tablename__ = "audit_head_statements"

    id: Mapped[IdPk]
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    key_id: Mapped[int] = mapped_column(SmallInteger)
    statement: Mapped[str] = mapped_column(Text)  # canonical JSON, the bytes signed
    signature: Mapped[str] = mapped_column(String(100))  # base64 Ed25519
