"""Case documents are stored compactly: their JSON compressed, then sealed, small enough to
stay in the table row; a page carries them as stored, byte for byte, without parsing them.
A document sealed as plain JSON (before compression) is served all the same."""

from __future__ import annotations

import json

from sqlalchemy import text

from api.extensions import db
from api.models.sync import CaseDocument
from mobile_sync.documents import open_document
from tests.sync.test_protocol import pull_all


def test_a_document_is_stored_compressed_and_served_as_it_was_serialised(world, client):
    alice = world.user("collector")
    case = world.case(collector=alice)
    changes, _ = pull_all(client, world.login(alice))
    [put] = [c for c in changes if c["entity"] == "case"]
    stored = db.session.get(CaseDocument, case.id).sealed
    document = open_document(world.cipher, stored)
    assert json.loads(document) == put["data"]
    assert len(stored) < 0.6 * len(document.encode()), (len(stored), len(document))
    assert world.cipher.unseal(stored)[:1] == b"\x78"  # zlib, not JSON
    if db.engine.dialect.name == "postgresql":  # kept in the row, not moved to TOAST
        storage = db.session.scalar(text(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = 'case_documents'::regclass "
            "AND attname = 'sealed'"))
        assert storage == "m"
        assert db.session.scalar(text(
            "SELECT pg_column_size(sealed) FROM case_documents WHERE case_id = :c"),
            {"c": case.id}) < 2000


def test_a_document_sealed_as_plain_json_is_still_served(world, client):
    alice = world.user("collector")
    case = world.case(collector=alice)
    row = db.session.get(CaseDocument, case.id)
    plain = {**json.loads(open_document(world.cipher, row.sealed)), "product": "older"}
    row.sealed = world.cipher.seal(json.dumps(plain, separators=(",", ":")).encode())
    db.session.commit()
    changes, _ = pull_all(client, world.login(alice))
    [put] = [c for c in changes if c["entity"] == "case"]
    assert put["data"] == plain
