"""Append-only, hash-chained audit log, in shards, keyed, with signed heads (docs/audit.md).

Each row's hash is an HMAC-SHA256 under FIELDVISIT_AUDIT_KEY (kept outside the database) over
its content, its shard, its key id and the hash of the row before it in the same shard. An
append locks only its shard (a PostgreSQL advisory lock, tried on the actor's shard first, then
on the next free one), so concurrent audited reads do not wait on each other. `sign_heads`
signs every shard's head with an Ed25519 key derived from the audit key; `verify_chain`
recomputes every chain, checks the rows up to each signed head, and names the first row that
does not fit, with the reason.

Rows written before keyed hashes existed are key id 0 (unkeyed SHA-256, shard 0); the first
keyed row of shard 0 chains onto the last of them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import weakref
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from api.models import AuditEvent, AuditHeadStatement
from api.models.types import utcnow
from api.services.identity.accounts import Principal
from api.services.identity.pii import decode_key

GENESIS = "0" * 64
SHARDS = 16
LEGACY_KEY_ID = 0  # unkeyed SHA-256, rows written before keyed hashes
HEADS_FORMAT = "fieldvisit-audit-heads/1"
# Where a session keeps its app's AuditKeys (set by api.extensions.AppSession).
SESSION_AUDIT_KEYS = "fieldvisit.audit_keys"
_HELD = "fieldvisit.audit_shard"  # the shard this session's transaction appends to
_LOCK_CLASS = 0x66_76_61_75  # "fvau": advisory locks (class, shard)
# The first shard, from the preferred one on, whose lock is free (taken by this statement).
_TRY_LOCK = text(
    "SELECT s FROM (SELECT (CAST(:preferred AS integer) + i) % :shards AS s "
    "FROM generate_series(0, :shards - 1) AS i) AS shard "
    "WHERE pg_try_advisory_xact_lock(:lock_class, s) LIMIT 1"
)
_LOCK = text("SELECT pg_advisory_xact_lock(:lock_class, :shard)")


# --------------------------------------------------------------------------- keys


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose).derive(master)


def parse_audit_key_ring(ring: str, *, strict: bool = True) -> dict[int, bytes]:
    """'ID:KEY,ID:KEY' (IDs 1-255, KEY base64 of >= 32 bytes; the first keys new rows) to
    {id: material}. Not strict (development and tests): any KEY string is hashed into a key."""
    keys: dict[int, bytes] = {}
    for entry in filter(None, (part.strip() for part in ring.split(","))):
        key_id, sep, key = entry.partition(":")
        if not sep:
            key_id, key = "1", entry
        if not key_id.isdigit() or not 1 <= int(key_id) <= 255:
            raise ValueError(f"audit key id {key_id!r} must be a number from 1 to 255")
        if int(key_id) in keys:
            raise ValueError(f"audit key id {key_id} is listed twice")
        keys[int(key_id)] = decode_key(key, strict=strict, what="an audit key")
    if not keys:
        raise ValueError("no audit key given")
    return keys


class AuditKeys:
    """The audit key ring: per key id, an HMAC key for row hashes and an Ed25519 key for head
    statements, both derived from the key's material. The first key writes."""

    def __init__(self, masters: dict[int, bytes]):
        self.key_id = next(iter(masters))
        self._masters = dict(masters)
        self._macs = {k: _derive(m, b"fieldvisit audit chain") for k, m in masters.items()}
        self._signers = {
            k: Ed25519PrivateKey.from_private_bytes(_derive(m, b"fieldvisit audit heads"))
            for k, m in masters.items()
        }

    @classmethod
    def from_settings(cls, ring: str, *, strict: bool = True) -> AuditKeys:
        return cls(parse_audit_key_ring(ring, strict=strict))

    @classmethod
    def for_development(cls, secret: str) -> AuditKeys:
        """Key 1 derived from `secret` (development and tests only)."""
        return cls({1: _derive(secret.encode(), b"fieldvisit development audit key")})

    def mac(self, key_id: int, material: bytes) -> str | None:
        """The row hash under key `key_id`; None if the key is not in the ring."""
        key = self._macs.get(key_id)
        return hmac.new(key, material, hashlib.sha256).hexdigest() if key else None

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._signers[self.key_id].sign(data)).decode()

    def public_key(self, key_id: int | None = None) -> str | None:
        signer = self._signers.get(self.key_id if key_id is None else key_id)
        if signer is None:
            return None
        raw = signer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def public_keys(self) -> dict[int, str]:
        return {k: self.public_key(k) for k in self._signers}  # type: ignore[misc]


def keys_of(session: Session) -> AuditKeys:
    keys = session.info.get(SESSION_AUDIT_KEYS)
    if keys is None:
        raise RuntimeError("this session carries no audit key (api.extensions.AppSession sets "
                           f"session.info[{SESSION_AUDIT_KEYS!r}])")
    return keys


# --------------------------------------------------------------------------- hashes


def _legacy_hash(row) -> str:
    """How every row was hashed before keyed hashes: SHA-256, no shard, no key."""
    material = json.dumps(
        [row.occurred_at.isoformat(), row.actor_id, row.device_id, row.action, row.case_id,
         row.detail, row.prev_hash],
        separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _material(row) -> bytes:
    return json.dumps(
        ["fieldvisit-audit/2", row.shard, row.key_id, row.occurred_at.isoformat(), row.actor_id,
         row.device_id, row.action, row.case_id, row.detail, row.prev_hash],
        separators=(",", ":"), ensure_ascii=False,
    ).encode()


# --------------------------------------------------------------------------- appending


def preferred_shard(principal: Principal | None) -> int:
    return (principal.user_id if principal and principal.user_id else 0) % SHARDS


def _claim_shard(session: Session, principal: Principal | None) -> int:
    """The shard this transaction appends to, locked. A transaction keeps its shard (so it never
    holds two, and cannot deadlock on them); it re-takes the lock, which a rolled-back
    savepoint may have released."""
    preferred = preferred_shard(principal)
    held = session.info.get(_HELD)
    connection = session.connection()
    txn = connection.get_transaction()
    reuse = held is not None and held[0]() is txn
    if connection.dialect.name != "postgresql":  # SQLite serialises writers
        shard = held[1] if reuse else preferred
    elif reuse:
        shard = held[1]
        session.execute(_LOCK, {"lock_class": _LOCK_CLASS, "shard": shard})
    else:
        shard = session.scalar(_TRY_LOCK, {"preferred": preferred, "shards": SHARDS,
                                           "lock_class": _LOCK_CLASS})
        if shard is None:  # more appenders than shards right now: wait for ours
            shard = preferred
            session.execute(_LOCK, {"lock_class": _LOCK_CLASS, "shard": shard})
    session.info[_HELD] = (weakref.ref(txn), shard)
    return shard


def record(
    session: Session,
    principal: Principal | None,
    action: str,
    *,
    case_id: int | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    """Append one audit row in the caller's transaction (to its shard's chain)."""
    keys = keys_of(session)
    shard = _claim_shard(session, principal)
    prev = session.scalar(select(AuditEvent.hash).where(AuditEvent.shard == shard)
                          .order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_id=principal.user_id if principal else None,
        device_id=principal.device_id if principal else None,
        action=action,
        case_id=case_id,
        detail=json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        shard=shard,
        key_id=keys.key_id,
        prev_hash=prev or GENESIS,
    )
    event.hash = keys.mac(keys.key_id, _material(event))
    session.add(event)
    session.flush()
    return event


# --------------------------------------------------------------------------- signed heads


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass
class SignedHeads:
    id: int | None
    statement: str  # canonical JSON: the bytes signed
    signature: str  # base64 Ed25519
    key_id: int

    def as_dict(self) -> dict:
        return {"id": self.id, "statement": self.statement, "signature": self.signature,
                "key_id": self.key_id}


def signature_ok(statement: str, signature: str, public_key: str) -> bool:
    """Whether `signature` (base64) is `public_key`'s (base64 raw Ed25519) over `statement`."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        key.verify(base64.b64decode(signature, validate=True), statement.encode())
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def _trusted(keys: AuditKeys, row: AuditHeadStatement) -> bool:
    public = keys.public_key(row.key_id)
    return public is not None and signature_ok(row.statement, row.signature, public)


def latest_heads(session: Session) -> SignedHeads | None:
    row = session.scalars(select(AuditHeadStatement)
                          .order_by(AuditHeadStatement.id.desc()).limit(1)).first()
    return SignedHeads(row.id, row.statement, row.signature, row.key_id) if row else None


def sign_heads(session: Session, *, now: datetime | None = None) -> SignedHeads:
    """Sign and store every shard's head (last id, last hash, rows, time) as this transaction
    sees them. Counts are carried on from the last statement whose signature holds, so only
    rows appended since are counted."""
    keys = keys_of(session)
    previous = session.scalars(select(AuditHeadStatement)
                               .order_by(AuditHeadStatement.id.desc()).limit(1)).first()
    heads: dict[str, dict] = {}
    if previous is not None and _trusted(keys, previous):
        heads = dict(json.loads(previous.statement)["shards"])
    shards = sorted(set(range(SHARDS)) | {int(s) for s in heads})
    since = [and_(AuditEvent.shard == s, AuditEvent.id > heads.get(str(s), {}).get("last_id", 0))
             for s in shards]  # one index range per shard
    counts = session.execute(
        select(AuditEvent.shard, func.count(), func.max(AuditEvent.id))
        .where(or_(*since)).group_by(AuditEvent.shard)
    ).all()
    tails = {r.id: r for r in session.execute(
        select(AuditEvent.id, AuditEvent.hash, AuditEvent.occurred_at)
        .where(AuditEvent.id.in_([last for _, _, last in counts]))
    )}
    for shard, count, last in counts:
        before = heads.get(str(shard), {}).get("count", 0)
        heads[str(shard)] = {"last_id": last, "last_hash": tails[last].hash,
                             "count": before + count,
                             "last_at": tails[last].occurred_at.isoformat()}
    signed_at = now or utcnow()
    statement = canonical({
        "format": HEADS_FORMAT,
        "signed_at": signed_at.isoformat(),
        "key_id": keys.key_id,
        "public_key": keys.public_key(),
        "rows": sum(h["count"] for h in heads.values()),
        "shards": heads,
    })
    row = AuditHeadStatement(signed_at=signed_at, key_id=keys.key_id, statement=statement,
                             signature=keys.sign(statement.encode()))
    session.add(row)
    session.flush()
    return SignedHeads(row.id, row.statement, row.signature, row.key_id)


# --------------------------------------------------------------------------- verification


@dataclass
class ShardReport:
    shard: int
    rows: int = 0
    last_id: int | None = None
    ok: bool = True
    first_bad_id: int | None = None
    reason: str = ""


@dataclass
class ChainReport:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    reason: str = ""
    shards: list[ShardReport] = field(default_factory=list)
    statements: int = 0  # signed head statements checked
    problems: list[str] = field(default_factory=list)  # statements that do not verify
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Chain:
    report: ShardReport
    prev: str = GENESIS
    keyed: bool = False


def _row_problem(session: Session, keys: AuditKeys, row, chain: _Chain) -> str | None:
    if row.prev_hash != chain.prev:
        return _link_problem(session, row)
    if row.key_id == LEGACY_KEY_ID:
        if row.shard != 0 or chain.keyed:
            return ("unkeyed SHA-256 hash where a keyed one is required: recomputed without "
                    "the audit key")
        if _legacy_hash(row) != row.hash:
            return "edited: its content does not match its (unkeyed, pre-upgrade) hash"
        return None
    expected = keys.mac(row.key_id, _material(row))
    if expected is None:
        return f"wrong key: hashed under audit key {row.key_id}, which FIELDVISIT_AUDIT_KEY lacks"
    if expected == row.hash:
        return None
    if row.hash in (hashlib.sha256(_material(row)).hexdigest(), _legacy_hash(row)):
        return "edited: its hash was recomputed with plain SHA-256, without the audit key"
    return "edited, or hashed with another key: its content does not match its keyed hash"


def _link_problem(session: Session, row) -> str:
    """Why a row's previous hash is not its predecessor's (one lookup, at the failure only)."""
    if row.prev_hash == GENESIS:
        return "the chain starts again here: the rows before it in its shard were deleted"
    before = session.execute(select(AuditEvent.id, AuditEvent.shard)
                             .where(AuditEvent.hash == row.prev_hash)).first()
    if before is None:
        return "the row before it was deleted (no row has its previous hash)"
    if before.shard != row.shard:
        return f"moved: its previous row {before.id} is in shard {before.shard}, not {row.shard}"
    if before.id > row.id:
        return f"reordered: the row before it in the chain is row {before.id}, which follows it"
    return f"a row was inserted after row {before.id}, the row before it in the chain"


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk every shard's chain in id order (one pass, in batches), recomputing every hash and
    checking each signed head statement: its signature, and that the shard's rows up to the
    signed head are that many and end in that hash."""
    keys = keys_of(session)
    problems: list[str] = []
    checkpoints: dict[tuple[int, int], list[tuple[int, str, int]]] = {}
    statements = session.scalars(select(AuditHeadStatement).order_by(AuditHeadStatement.id))
    checked = 0
    for statement in statements:
        checked += 1
        if not _trusted(keys, statement):
            problems.append(f"head statement {statement.id}: its signature does not verify "
                            f"under audit key {statement.key_id}")
            continue
        for shard, head in json.loads(statement.statement)["shards"].items():
            checkpoints.setdefault((int(shard), head["last_id"]), []).append(
                (statement.id, head["last_hash"], head["count"]))
    chains: dict[int, _Chain] = {}
    reached: set[tuple[int, int]] = set()
    columns = [AuditEvent.id, AuditEvent.occurred_at, AuditEvent.actor_id, AuditEvent.device_id,
               AuditEvent.action, AuditEvent.case_id, AuditEvent.detail, AuditEvent.shard,
               AuditEvent.key_id, AuditEvent.prev_hash, AuditEvent.hash]
    last_id = 0
    while rows := session.execute(select(*columns).where(AuditEvent.id > last_id)
                                  .order_by(AuditEvent.id).limit(batch)).all():
        last_id = rows[-1].id
        for row in rows:
            chain = chains.get(row.shard) or chains.setdefault(row.shard,
                                                               _Chain(ShardReport(row.shard)))
            report = chain.report
            if not report.ok:
                continue
            reason = _row_problem(session, keys, row, chain)
            for statement_id, head_hash, count in checkpoints.get((row.shard, row.id), ()):
                reached.add((row.shard, row.id))
                if reason:
                    break
                if head_hash != row.hash:
                    reason = (f"rewritten after head statement {statement_id} signed it "
                              "(its hash differs from the signed one)")
                elif count != report.rows + 1:
                    reason = (f"head statement {statement_id} signed {count} rows in shard "
                              f"{row.shard} up to this row, there are {report.rows + 1}: rows "
                              "before it were deleted or inserted")
            if reason:
                report.ok, report.first_bad_id, report.reason = False, row.id, reason
                continue
            chain.prev, chain.keyed = row.hash, chain.keyed or row.key_id != LEGACY_KEY_ID
            report.rows, report.last_id = report.rows + 1, row.id
    for (shard, head_id), heads in sorted(checkpoints.items()):
        chain = chains.get(shard) or chains.setdefault(shard, _Chain(ShardReport(shard)))
        if (shard, head_id) in reached or not chain.report.ok:
            continue
        chain.report.ok, chain.report.first_bad_id = False, head_id
        chain.report.reason = (f"deleted: head statement {heads[0][0]} signed row {head_id} as "
                               f"shard {shard}'s head, and it is gone")
    shards = [chains[s].report for s in sorted(chains)]
    broken = sorted((r for r in shards if not r.ok), key=lambda r: r.first_bad_id)
    warnings = []
    if not checked and shards:
        warnings.append("no signed head statement yet: deleting the newest rows would not show "
                        "(run `fieldvisit audit heads` regularly)")
    return ChainReport(
        ok=not broken and not problems,
        rows=sum(r.rows for r in shards),
        first_bad_id=broken[0].first_bad_id if broken else None,
        reason=broken[0].reason if broken else (problems[0] if problems else ""),
        shards=shards, statements=checked, problems=problems, warnings=warnings,
    )
