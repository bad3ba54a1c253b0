"""The audit log cannot be quietly rewritten, and audited reads do not queue behind each other.

Someone who can write the database but does not hold FIELDVISIT_AUDIT_KEY edits a row, deletes
one, swaps two, or recomputes a hash with plain SHA-256: `fieldvisit audit verify` names the row
and why. Someone who does hold the key and rewrites the tail after a signed head statement is
caught by the statement. Two phones' audited pulls on PostgreSQL append to different shards at
the same moment without waiting for each other."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api import create_app
from api.config import Config
from api.extensions import db
from api.keys import InsecureConfiguration
from api.models import AuditEvent, AuditHeadStatement
from api.services.identity import audit
from api.services.identity.accounts import Principal

OWN_SECRET = "an own secret of more than thirty-two characters"
PII_KEY = "1:" + base64.b64encode(bytes(range(32))).decode()
AUDIT_KEY = "1:" + base64.b64encode(bytes(range(100, 132))).decode()


def principal(user) -> Principal:
    return Principal(user_id=user.id, role=user.role, team_id=user.team_id, device_id=None)


@pytest.fixture
def readers(world):
    """Three supervisors, each on a shard of their own."""
    team = world.team()
    users = [world.user("supervisor", team) for _ in range(3)]
    assert len({audit.preferred_shard(principal(u)) for u in users}) == 3
    return [principal(u) for u in users]


@dataclass(frozen=True)
class Appended:
    id: int
    shard: int
    key_id: int
    prev_hash: str
    hash: str


def read(who: Principal, times: int = 1) -> list[Appended]:
    """`times` audited reads by `who`, committed."""
    rows = [audit.record(db.session, who, "case.list", detail={"case_ids": [n]})
            for n in range(times)]
    appended = [Appended(r.id, r.shard, r.key_id, r.prev_hash, r.hash) for r in rows]
    db.session.commit()
    return appended


def sql(statement: str, **params) -> None:
    db.session.execute(text(statement), params)
    db.session.commit()
    db.session.expire_all()


def verify() -> audit.ChainReport:
    db.session.rollback()
    return audit.verify_chain(db.session)


def test_an_intact_log_verifies_shard_by_shard(readers):
    for who in readers:
        read(who, 3)
    report = verify()
    assert report.ok, report
    assert report.rows == 9 and report.first_bad_id is None
    assert sorted(s.rows for s in report.shards) == [3, 3, 3]
    keyed = db.session.scalars(select(AuditEvent)).all()
    assert {e.key_id for e in keyed} == {1}
    assert report.warnings  # nothing signed yet: the tail could go unseen


def test_an_edited_detail_is_named(readers, run_cli):
    alice = readers[0]
    rows = read(alice, 3)
    read(readers[1], 2)
    sql("UPDATE audit_events SET detail = :d WHERE id = :id", d='{"case_ids":[99]}',
        id=rows[1].id)
    report = verify()
    assert not report.ok and report.first_bad_id == rows[1].id
    assert report.reason.startswith("edited")
    assert [s.ok for s in report.shards].count(False) == 1  # the other shard still verifies

    result = run_cli("audit", "verify")
    assert result.exit_code == 1
    assert f"row {rows[1].id}" in result.output and "edited" in result.output


def test_a_deleted_row_is_named_by_the_row_after_it(readers):
    rows = read(readers[0], 3)
    sql("DELETE FROM audit_events WHERE id = :id", id=rows[1].id)
    report = verify()
    assert not report.ok and report.first_bad_id == rows[2].id
    assert "deleted" in report.reason


def test_a_hash_recomputed_without_the_key_is_caught(readers):
    rows = read(readers[0], 3)
    forged = db.session.get(AuditEvent, rows[1].id)
    forged.detail = '{"case_ids":[99]}'
    material = audit._material(forged)  # what the attacker can see: everything but the key
    db.session.rollback()
    sql("UPDATE audit_events SET detail = :d, hash = :h WHERE id = :id",
        d='{"case_ids":[99]}', h=hashlib.sha256(material).hexdigest(), id=rows[1].id)
    report = verify()
    assert report.first_bad_id == rows[1].id
    assert "without the audit key" in report.reason


def test_a_row_passed_off_as_written_before_keyed_hashes_is_caught(readers):
    """Key id 0 (unkeyed SHA-256) is accepted only for rows older than every keyed one."""
    rows = read(readers[0], 2)
    row = db.session.get(AuditEvent, rows[1].id)
    legacy = audit._legacy_hash(row)
    db.session.rollback()
    sql("UPDATE audit_events SET key_id = 0, hash = :h WHERE id = :id", h=legacy, id=rows[1].id)
    report = verify()
    assert report.first_bad_id == rows[1].id
    assert "unkeyed SHA-256 hash where a keyed one is required" in report.reason


def test_swapped_rows_are_named_as_reordered(readers):
    first, second = read(readers[0], 2)
    columns = "occurred_at, detail, prev_hash, hash"
    a, b = (db.session.execute(text(f"SELECT {columns} FROM audit_events WHERE id = :id"),
                               {"id": row.id}).one() for row in (first, second))
    sql("UPDATE audit_events SET hash = :tmp WHERE id = :id", tmp="x" * 64, id=first.id)
    for target, values in ((second.id, a), (first.id, b)):
        sql("UPDATE audit_events SET occurred_at = :o, detail = :d, prev_hash = :p, hash = :h "
            "WHERE id = :id", o=values[0], d=values[1], p=values[2], h=values[3], id=target)
    report = verify()
    assert report.first_bad_id == first.id and "reordered" in report.reason


def test_rows_hashed_under_another_key_are_caught(app, readers):
    rows = read(readers[0], 2)
    other = audit.AuditKeys.from_settings("1:" + base64.b64encode(b"\x07" * 32).decode())
    db.session.info[audit.SESSION_AUDIT_KEYS] = other
    try:
        report = verify()
    finally:
        db.session.info[audit.SESSION_AUDIT_KEYS] = app.extensions["fieldvisit.audit"]
    assert report.first_bad_id == rows[0].id and "another key" in report.reason
    sql("UPDATE audit_events SET key_id = 9 WHERE id = :id", id=rows[0].id)
    report = verify()
    assert report.first_bad_id == rows[0].id and report.reason.startswith("wrong key")


def test_rows_from_before_the_upgrade_keep_verifying_and_keyed_rows_chain_on(readers):
    """What the migration leaves: unkeyed SHA-256 rows, key id 0, in shard 0."""
    prev = audit.GENESIS
    for n in range(3):
        row = AuditEvent(occurred_at=datetime(2026, 11, 1, 9, n, tzinfo=UTC), actor_id=None,
                         device_id=None, action="case.read", case_id=None,
                         detail=json.dumps({"n": n}), shard=0, key_id=0, prev_hash=prev)
        row.hash = prev = audit._legacy_hash(row)
        db.session.add(row)
    db.session.commit()
    first_keyed = audit.record(db.session, None, "case.list")  # no actor: shard 0
    assert (first_keyed.shard, first_keyed.key_id, first_keyed.prev_hash) == (0, 1, prev)
    db.session.commit()
    read(readers[0])
    assert verify().ok
    sql("UPDATE audit_events SET detail = '{}' WHERE key_id = 0 AND detail = :d",
        d=json.dumps({"n": 1}))
    report = verify()
    assert "edited" in report.reason and "unkeyed" in report.reason


# --------------------------------------------------------------------------- signed heads


def sign(run_cli) -> dict:
    result = run_cli("audit", "heads")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_signed_head_statement_covers_every_shard(readers, run_cli):
    for n, who in enumerate(readers):
        read(who, n + 1)
    signed = sign(run_cli)
    statement = json.loads(signed["statement"])
    assert sorted(h["count"] for h in statement["shards"].values()) == [1, 2, 3]
    public = run_cli("audit", "public-key").output.split()[-1]
    assert statement["public_key"] == public
    assert audit.signature_ok(signed["statement"], signed["signature"], public)
    read(readers[0], 2)
    again = json.loads(sign(run_cli)["statement"])  # counted on from the last statement
    assert again["rows"] == 8
    assert verify().ok and verify().statements == 2


def test_deleting_the_newest_rows_after_a_signed_head_is_caught(readers, run_cli):
    rows = read(readers[0], 3)
    sign(run_cli)
    sql("DELETE FROM audit_events WHERE id = :id", id=rows[2].id)  # the tail: no row follows
    report = verify()
    assert report.first_bad_id == rows[2].id and report.reason.startswith("deleted")


def test_rechaining_with_the_key_after_a_deletion_is_caught_by_the_signed_head(readers, run_cli):
    """Even an intruder holding the HMAC key cannot make the chain match the signed head."""
    rows = read(readers[0], 4)
    sign(run_cli)
    keys = db.session.info[audit.SESSION_AUDIT_KEYS]
    sql("DELETE FROM audit_events WHERE id = :id", id=rows[1].id)
    prev = rows[0].hash
    for row in rows[2:]:
        event = db.session.get(AuditEvent, row.id)
        event.prev_hash = prev
        event.hash = prev = keys.mac(1, audit._material(event))
    db.session.commit()
    report = verify()
    assert report.first_bad_id == rows[3].id
    assert report.reason.startswith("rewritten after head statement")


def test_a_forged_statement_does_not_verify(readers, run_cli):
    read(readers[0], 2)
    sign(run_cli)
    stored = db.session.scalars(select(AuditHeadStatement)).one()
    doctored = stored.statement.replace('"count":2', '"count":1')
    sql("UPDATE audit_head_statements SET statement = :s", s=doctored)
    report = verify()
    assert not report.ok and "signature does not verify" in report.problems[0]
    result = run_cli("audit", "verify")
    assert result.exit_code == 1 and "signature does not verify" in result.output


# --------------------------------------------------------------------------- concurrency


def other_session(app) -> Session:
    return Session(db.engine, info={audit.SESSION_AUDIT_KEYS: app.extensions["fieldvisit.audit"]})


def test_an_open_transaction_does_not_hold_up_appends_on_other_shards(app, readers):
    """PostgreSQL: one reader's transaction stays open after its append; another reader's
    append, and even a third on the busy reader's own shard, complete meanwhile. (SQLite
    serialises writers: there the second simply follows the first.)"""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers")
    alice, bob, _ = readers
    holding, other = other_session(app), other_session(app)
    try:
        held = audit.record(holding, alice, "case.list")
        # Waiting on a lock would fail this statement after 5 s rather than hang the test.
        other.execute(text("SET lock_timeout = 5000"))
        beside = audit.record(other, bob, "case.list")
        again = audit.record(other, alice, "case.list")  # same transaction: same shard
        assert held.shard != beside.shard == again.shard
        other.commit()
        crowded = audit.record(other, alice, "case.list")  # alice's shard is busy: the next
        assert crowded.shard not in (held.shard,)
        other.commit()
        holding.commit()
    finally:
        holding.close()
        other.close()
    assert verify().ok


def test_an_append_takes_one_shard_lock_and_keeps_it(app, readers):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    session = other_session(app)
    try:
        for who in readers:  # three actors, one transaction: one shard, one lock
            audit.record(session, who, "case.list")
        locks = session.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )).scalar()
        shards = session.scalars(select(AuditEvent.shard)).all()
        session.commit()
    finally:
        session.close()
    assert locks == 1 and len(set(shards)) == 1


# --------------------------------------------------------------------------- keys


def production(tmp_path, **settings) -> Config:
    return Config(database_url="sqlite://", blob_store=f"local:{tmp_path}",
                  secret_key=OWN_SECRET, pii_key=PII_KEY, **settings)


def test_the_server_refuses_to_run_without_its_own_audit_key(tmp_path):
    with pytest.raises(InsecureConfiguration, match="FIELDVISIT_AUDIT_KEY is not set"):
        create_app(production(tmp_path))
    with pytest.raises(InsecureConfiguration, match="FIELDVISIT_AUDIT_KEY: an audit key must"):
        create_app(production(tmp_path, audit_key="short"))
    app = create_app(production(tmp_path, audit_key=AUDIT_KEY))
    assert app.extensions["fieldvisit.audit"].key_id == 1


def test_keys_new_prints_an_audit_key(run_cli):
    lines = dict(line.split("=", 1) for line in run_cli("keys", "new").output.split())
    key_id, key = lines["FIELDVISIT_AUDIT_KEY"].split(":")
    assert key_id == "1" and len(base64.b64decode(key)) == 32


def test_a_rotated_key_keeps_old_rows_verifying(app, readers):
    rows = read(readers[0], 2)
    old = app.extensions["fieldvisit.audit"]
    new_material = base64.b64encode(b"\x05" * 32).decode()
    rotated = audit.AuditKeys({2: base64.b64decode(new_material), **old._masters})
    db.session.info[audit.SESSION_AUDIT_KEYS] = rotated
    try:
        later = read(readers[0])
        assert later[0].key_id == 2 and later[0].prev_hash == rows[1].hash
        assert verify().ok
    finally:
        db.session.info[audit.SESSION_AUDIT_KEYS] = old
    report = verify()  # key 2 unknown to the old ring
    assert report.first_bad_id == later[0].id and report.reason.startswith("wrong key")


# --------------------------------------------------------------------------- the API


def test_an_administrator_sees_the_shards_and_the_signed_heads(world, client, readers, run_cli):
    admin = world.login(world.user("admin"))
    rows = read(readers[0], 2)
    heads = client.get("/audit/heads", headers=admin).get_json()
    assert heads["latest"] is None and list(heads["public_keys"]) == ["1"]
    signed = sign(run_cli)
    heads = client.get("/audit/heads", headers=admin).get_json()
    assert heads["latest"] == signed
    assert audit.signature_ok(signed["statement"], signed["signature"], heads["public_keys"]["1"])
    sql("UPDATE audit_events SET detail = '{}' WHERE id = :id", id=rows[0].id)
    report = client.get("/audit/verify", headers=admin).get_json()
    assert report["ok"] is False and report["first_bad_id"] == rows[0].id
    broken = [s for s in report["shards"] if not s["ok"]]
    assert [s["shard"] for s in broken] == [rows[0].shard]
    collector = world.login(world.user("collector"))
    assert client.get("/audit/heads", headers=collector).status_code == 403


# --------------------------------------------------------------------------- evidence packs


def rewrite_pack(source: Path, target: Path, change) -> None:
    """Rebuild a pack with its manifest changed by `change(manifest)` and manifest.sha256
    recomputed, as someone doctoring it with care would."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    change(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    digest = hashlib.sha256(members["manifest.json"]).hexdigest()
    members["manifest.sha256"] = f"{digest}  manifest.json\n".encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_an_evidence_pack_carries_signed_heads_that_cover_its_trail(world, client, run_cli,
                                                                    tmp_path):
    collector = world.user("collector")
    case = world.case(collector=collector)
    legal = world.login(world.user("legal"))
    assert client.get(f"/cases/{case.id}", headers=legal).status_code == 200  # on the trail
    response = client.get(f"/cases/{case.id}/evidence-pack", headers=legal)
    assert response.status_code == 200
    pack = tmp_path / "pack.zip"
    pack.write_bytes(b"".join(response.iter_encoded()))
    response.close()
    public = run_cli("audit", "public-key").output.split()[-1]

    checked = run_cli("evidence", "verify", str(pack), "--audit-public-key", public)
    assert checked.exit_code == 0, checked.output
    assert f"audit heads signed by {public} (the given key)" in checked.output
    with zipfile.ZipFile(pack) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        trail = json.loads(archive.read("audit.json"))
    heads = json.loads(manifest["audit_heads"]["statement"])["shards"]
    assert [r["action"] for r in trail] == ["case.read", "evidence.pack"]
    assert all(r["id"] <= heads[str(r["shard"])]["last_id"] for r in trail)
    assert verify().ok and verify().statements == 1  # the pack's statement is stored too

    def lower_a_count(manifest):
        statement = json.loads(manifest["audit_heads"]["statement"])
        for head in statement["shards"].values():
            head["count"] -= 1
        manifest["audit_heads"]["statement"] = audit.canonical(statement)

    doctored = tmp_path / "doctored.zip"
    rewrite_pack(pack, doctored, lower_a_count)
    failed = run_cli("evidence", "verify", str(doctored))
    assert failed.exit_code == 1 and "signature does not verify" in failed.output

    def sign_with_own_key(manifest):
        forger = audit.AuditKeys({1: b"\x09" * 32})
        statement = json.loads(manifest["audit_heads"]["statement"])
        statement["public_key"] = forger.public_key()
        manifest["audit_heads"]["statement"] = audit.canonical(statement)
        manifest["audit_heads"]["signature"] = forger.sign(audit.canonical(statement).encode())

    forged = tmp_path / "forged.zip"
    rewrite_pack(pack, forged, sign_with_own_key)
    assert run_cli("evidence", "verify", str(forged)).exit_code == 0  # consistent in itself,
    pinned = run_cli("evidence", "verify", str(forged), "--audit-public-key", public)
    assert pinned.exit_code == 1 and "other than the published audit key" in pinned.output


# --------------------------------------------------------------------------- the upgrade


def test_the_upgrade_keeps_old_rows_verifying_and_chains_keyed_rows_onto_them(empty_database):
    """Rows written by the code before d3c9f5a7b123, migrated: they verify as they are, and
    the first keyed row chains onto the last of them."""
    from alembic import command
    from sqlalchemy import create_engine

    from tests.test_migrations import alembic_config

    cfg = alembic_config(empty_database)
    command.upgrade(cfg, "c7e1a3f5b9d2")
    engine = create_engine(empty_database)
    prev = audit.GENESIS
    try:
        with engine.begin() as conn:
            for n in range(3):
                row = {"occurred_at": datetime(2026, 11, 1, 9, n, tzinfo=UTC), "actor_id": None,
                       "device_id": None, "action": "case.read", "case_id": n,
                       "detail": json.dumps({"masked": True}), "prev_hash": prev}
                row["hash"] = prev = audit._legacy_hash(type("Row", (), row))
                conn.execute(text(
                    "INSERT INTO audit_events (occurred_at, actor_id, device_id, action, case_id,"
                    " detail, prev_hash, hash) VALUES (:occurred_at, :actor_id, :device_id, "
                    ":action, :case_id, :detail, :prev_hash, :hash)"),
                    {**row, "occurred_at": row["occurred_at"].replace(tzinfo=None)
                     if engine.dialect.name == "sqlite" else row["occurred_at"]})
        command.upgrade(cfg, "head")
        keys = audit.AuditKeys.for_development("upgrade test")
        with Session(engine, info={audit.SESSION_AUDIT_KEYS: keys}) as session:
            keyed = audit.record(session, None, "case.list")
            assert (keyed.shard, keyed.key_id, keyed.prev_hash) == (0, 1, prev)
            session.commit()
            report = audit.verify_chain(session)
            assert report.ok and report.rows == 4, report
            session.execute(text("UPDATE audit_events SET case_id = 7 WHERE case_id = 1"))
            session.commit()
            report = audit.verify_chain(session)
            assert report.first_bad_id == 2 and "unkeyed, pre-upgrade" in report.reason
    finally:
        engine.dispose()
