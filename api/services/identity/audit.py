"""Append-only, hash-chained audit log. Each row's hash covers its content and the previous
row's hash; `verify_chain` recomputes the chain and names the first row that does not fit."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api.models import AuditEvent
from api.models.types import utcnow
from api.services.identity.accounts import Principal

GENESIS = "0" * 64
# Serialises chain appends across workers on PostgreSQL (SQLite serialises writers already).
_CHAIN_LOCK_KEY = 0x66_76_61_75  # "fvau"


def _row_hash(event: AuditEvent) -> str:
    material = json.dumps(
        [
            event.occurred_at.isoformat(),
            event.actor_id,
            event.device_id,
            event.action,
            event.case_id,
            event.detail,
            event.prev_hash,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def record(
    session: Session,
    principal: Principal | None,
    action: str,
    *,
    case_id: int | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    """Append one audit row in the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_id=principal.user_id if principal else None,
        device_id=principal.device_id if principal else None,
        action=action,
        case_id=case_id,
        detail=json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        prev_hash=prev or GENESIS,
    )
    event.hash = _row_hash(event)
    session.add(event)
    session.flush()
    return event


@dataclass
class ChainReport:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    reason: str = ""


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the whole chain in id order, in batches, recomputing every hash."""
    prev, rows, last_id = GENESIS, 0, 0
    while True:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not events:
            return ChainReport(True, rows)
        for event in events:
            if event.prev_hash != prev:
                return ChainReport(
                    False,
                    rows,
                    event.id,
                    "previous hash does not match: "
                    "a row before it was removed, inserted or altered",
                )
            if _row_hash(event) != event.hash:
                return ChainReport(False, rows, event.id, "row content does not match its hash")
            prev, rows, last_id = event.hash, rows + 1, event.id
            session.expunge(event)
