"""Telling an unchanged case record at a glance: the digest of what the file said, kept with a
fingerprint of the case's device document just after that import.

A later import given a record of the same digest (the same record, holder and `as_of`) skips
the case without checking or comparing a field, provided the case's device document is
still the one fingerprinted: every change to a case, its debtor or anything hanging off them
re-seals the document (`mobile_sync.changelog`), and a sealed document never comes out the
same twice, so anything that touched the case since makes the importer look at it again."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import orjson
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from api.models import Case, CaseDocument
from api.models.imports import CaseImportDigest
from api.services.imports.bulk import among


def record_digest(raw: dict, holder: tuple | None, as_of: date) -> str:
    """The digest of a case record as the file gives it, with the holder it resolves to and
    the day its figures are computed for."""
    # In the file's own key order (a file written again in another order is merely compared
    # field by field once): sorting would cost more than the rest of the digest.
    record = [raw, holder, as_of.isoformat()]
    try:
        material = orjson.dumps(record)
    except TypeError:  # an integer beyond 64 bits or a lone surrogate ("\ud800"), which
        # only the standard library writes (the record is refused later, field by field)
        material = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "surrogatepass")
    return hashlib.blake2b(material, digest_size=16).hexdigest()


def stored(session: Session, contract_nos: list[str]) -> dict[str, str]:
    """{contract_no: the record digest its case was last imported from} for the cases among
    `contract_nos` that have not changed since, in one query (of the kept fingerprints: no
    document is read)."""
    if not contract_nos:
        return {}
    rows = session.execute(
        select(Case.contract_no, CaseImportDigest.digest, CaseImportDigest.document_sha,
               CaseDocument.fingerprint)
        .join(CaseImportDigest, CaseImportDigest.case_id == Case.id)
        .join(CaseDocument, CaseDocument.case_id == Case.id)
        .where(among(session, Case.contract_no, contract_nos)))
    # Compared here, not joined on: the planner would hash-join the whole documents table.
    return {no: digest for no, digest, kept, now in rows if kept == now}


def remember(session: Session, digests: dict[str, str]) -> None:
    """Keep each case's record digest ({contract_no: digest}) with its document's fingerprint
    as it is now (call it once the cases' documents are published)."""
    if not digests:
        return
    rows = session.execute(
        select(Case.id, Case.contract_no, CaseDocument.fingerprint)
        .join(CaseDocument, CaseDocument.case_id == Case.id)
        .where(among(session, Case.contract_no, digests))).all()
    ids = [case_id for case_id, _, _ in rows]
    session.execute(delete(CaseImportDigest).where(among(session, CaseImportDigest.case_id, ids)))
    if rows:
        session.execute(insert(CaseImportDigest), [
            {"case_id": case_id, "digest": digests[no], "document_sha": fingerprint}
            for case_id, no, fingerprint in rows])

