"""The records of the online-filing tests, as a phone would push them, and what the server
stored for them: columns, declared files, change-log rows and the case document."""

from __future__ import annotations

import contextlib
import copy
import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, inspect, select

from api.extensions import db
from api.models import (
    CaseNote,
    ContactAttempt,
    EvidenceFile,
    FieldProposal,
    FieldReceipt,
    NoticeServed,
    RepaymentPromise,
    SyncChange,
    VehicleSighting,
    VisitPresence,
    VisitReport,
)
from api.models.sync import CaseDocument
from mobile_sync.documents import open_document
from tests.conftest import DATA
from tests.field.test_field_work import HOME, photo, promise, report

FAR = (HOME[0] + 0.01, HOME[1])  # about 1.1 km north of the home address
SAME_EVERYWHERE = {"id", "device_id", "mutation_id", "received_at"}


# --------------------------------------------------------------------------- the records


def visit(d):
    return report(
        d["case"].id, d["home"].id, start="2026-11-20T21:50:00+08:00", fix=FAR, mock=True,
        files=[photo("site")],
    )


def receipt(d):
    return {
        "id": str(uuid.uuid4()), "case_id": d["case"].id, "receipt_no": "R-000123",
        "amount_fen": 100_000, "method": "cash", "payer_name": "张伟",
        "received_at": "2026-11-20T10:40:00+08:00", "files": [photo("receipt")],
    }


def notice(d):
    return {
        "id": str(uuid.uuid4()), "case_id": d["case"].id, "notice_type": "overdue_notice",
        "served_to_name": "张伟", "served_to_role": "debtor", "method": "in_person",
        "served_at": "2026-11-20T10:45:00+08:00", "files": [photo("notice")],
    }


def sighting(d):
    return {
        "id": str(uuid.uuid4()), "case_id": d["case"].id, "collateral_id": d["vehicle"].id,
        "vin_read": "LSJA24U62JG269225", "engine_no_read": "G4FC1234567",
        "plate_read": "京AD92035", "seen_at": "2026-11-20T11:00:00+08:00",
        "lat": HOME[0], "lon": HOME[1], "files": [photo("vehicle_vin_plate")],
    }


def contact_attempt(d):
    return {
        "id": str(uuid.uuid4()), "case_id": d["case"].id, "channel": "call",
        "outcome": "connected", "occurred_at": "2026-11-20T09:12:00+08:00", "duration_s": 95,
        "contact_id": d["case"].debtor.contacts[0].id, "note": "Spouse answered.",
    }


def note(d):
    return {"id": str(uuid.uuid4()), "case_id": d["case"].id, "text": "Works nights."}


def proposal(d):
    return {
        "id": str(uuid.uuid4()), "case_id": d["case"].id, "kind": "phone",
        "data": {"phone": "+86 139 1234 5678", "label": "work"}, "note": "From the neighbour",
    }


# type as pushed, online path, model, payload builder, columns that differ by necessity
def presence(d):
    return {
        "id": str(uuid.uuid4()), "case_id": d["case"].id,
        "recorded_at": "2026-11-20T21:55:00+08:00", "lat": FAR[0], "lon": FAR[1],
        "accuracy_m": 9.0,
    }


KINDS = {
    "visit_report": ("visits", VisitReport, visit, ()),
    "repayment_promise": (
        "promises", RepaymentPromise, lambda d: promise(d["case"].id),
        # the PDF prints the record id; the national ID is sealed with a fresh nonce
        ("pdf_file_id", "pdf_sha256", "signer_id_cipher"),
    ),
    "field_receipt": ("receipts", FieldReceipt, receipt, ("receipt_no",)),  # unique per book
    "notice_served": ("notices", NoticeServed, notice, ()),
    "vehicle_sighting": ("sightings", VehicleSighting, sighting, ()),
    "contact_attempt": ("contact-attempts", ContactAttempt, contact_attempt, ()),
    "case_note": ("notes", CaseNote, note, ()),
    "field_proposal": ("proposals", FieldProposal, proposal, ()),
    "visit_presence": ("presence", VisitPresence, presence, ()),
}


def as_online(payload: dict, *, keep_case_id: bool) -> dict:
    """The same record as a second one: a new id (and file ids, receipt number)."""
    body = copy.deepcopy(payload)
    body["id"] = str(uuid.uuid4())
    for declared in body.get("files", []):
        declared["id"] = str(uuid.uuid4())
    if "receipt_no" in body:
        body["receipt_no"] = "R-000124"
    if not keep_case_id:
        del body["case_id"]
    return body


def file_online(client, headers, case_id, path, body):
    return client.post(f"/cases/{case_id}/{path}", headers=headers, json=body)


# --------------------------------------------------------------------------- what is stored


def columns(row, *skip) -> dict:
    left_out = SAME_EVERYWHERE | set(skip)
    return {a.key: getattr(row, a.key) for a in inspect(type(row)).column_attrs
            if a.key not in left_out}


def declared_files(record_id: str) -> list[dict]:
    files = db.session.scalars(
        select(EvidenceFile)
        .where(EvidenceFile.record_id == record_id, EvidenceFile.kind != "promise_pdf")
        .order_by(EvidenceFile.kind)
    )
    return [columns(f, "record_id", "storage_key", "declared_at") for f in files]


def last_seq() -> int:
    return db.session.scalar(select(func.max(SyncChange.seq))) or 0


def changes_since(seq: int) -> list[tuple]:
    rows = db.session.scalars(select(SyncChange).where(SyncChange.seq > seq))
    return [(c.bucket, c.entity, c.entity_id, c.op) for c in rows]


def case_document(app, case_id: int) -> dict:
    """The collector's document of the case, times as UTC instants (a row the filing
    transaction holds is serialised with the offset it was given, a row read back in UTC)."""
    db.session.expire_all()
    sealed = db.session.get(CaseDocument, case_id).sealed
    return json.loads(open_document(app.extensions["fieldvisit.pii"], sealed), object_hook=_in_utc)


def _in_utc(obj: dict) -> dict:
    for key, value in obj.items():
        if isinstance(value, str) and "T" in value and value[-6] in "+-":
            with contextlib.suppress(ValueError):
                obj[key] = datetime.fromisoformat(value).astimezone(UTC)
    return obj


# The document's lists of recent records (mobile_sync.documents and field_history).
RECENT_LISTS = (
    "recent_contacts", "notes", "proposals", "visits", "open_promises", "receipts", "notices",
)


def without(doc: dict, record_id: str) -> dict:
    """The document without the entries a record put in its recent lists."""
    return {k: [e for e in v if e["id"] != record_id] if k in RECENT_LISTS else v
            for k, v in doc.items()}


def entries(doc: dict, record_id: str) -> list[dict]:
    """A record's entries in the recent lists, less what must differ (id, receipt number, the
    id of a promise's PDF, derived from the record's)."""
    return [{**e, "id": "?", **{n: "?" for n in ("receipt_no", "pdf_file_id") if n in e}}
            for k in RECENT_LISTS for e in doc[k] if e["id"] == record_id]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def file_id_of(record_id: str) -> str:
    return db.session.scalar(select(EvidenceFile.id).where(EvidenceFile.record_id == record_id))


def photo_bytes(name: str = "DSCN0010.jpg") -> bytes:
    return (DATA / "photos" / name).read_bytes()
