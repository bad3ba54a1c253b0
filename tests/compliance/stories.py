"""Collection histories for the retention and data-subject tests: a case worked in the field
through the real push (a visit with a photo, a call, a note, a promise with its PDF, a cash
receipt, a notice, a vehicle sighting and a proposal), the evidence files' bytes in the blob
store, and then the case closed some days ago."""

from __future__ import annotations

import uuid
from datetime import timedelta
from itertools import count

from sqlalchemy import event, insert, select

from api.extensions import db
from api.models import Case, CaseStatus, Collateral, EvidenceFile, HoldKind, LegalHold
from api.models.types import utcnow
from api.services.casefile.assignment import set_assignment
from tests.field.conftest import finish_jobs
from tests.field.filing_records import note, notice, proposal, receipt, sighting, visit
from tests.field.test_field_work import Phone, promise

PHOTO = "DSCN0010.jpg"
RECEIPT_NUMBERS = count(1)


def call(d) -> dict:
    return {"id": str(uuid.uuid4()), "case_id": d["case"].id, "channel": "call",
            "outcome": "connected", "occurred_at": "2026-11-20T09:12:00+08:00",
            "duration_s": 95, "note": "Debtor answered."}


def work_the_case(app, phone: Phone, case: Case) -> dict[str, str]:
    """File one record of each kind on `case` from its collector's phone; upload every
    declared file. Returns record type -> record id."""
    d = {"case": case, "home": case.debtor.addresses[0],
         "vehicle": db.session.scalar(select(Collateral).where(Collateral.case_id == case.id))}
    filed = {}
    builders = {"visit_report": visit, "contact_attempt": call, "case_note": note,
                "repayment_promise": lambda d: promise(d["case"].id),
                "field_receipt": receipt, "notice_served": notice,
                "vehicle_sighting": sighting, "field_proposal": proposal}
    for kind, build in builders.items():
        payload = build(d)
        if kind == "field_receipt":
            payload["receipt_no"] = f"R-{next(RECEIPT_NUMBERS):06d}"
        result = phone.send(kind, payload)
        assert result["status"] == "applied", result
        filed[kind] = result["record_id"]
    finish_jobs()  # the promise's PDF: made before the story goes on writing
    upload_declared_files(app, case.id)
    return filed


def upload_declared_files(app, case_id: int) -> None:
    """The phone's uploads: each declared file's bytes into the blob store."""
    from tests.conftest import DATA

    blobs = app.extensions["fieldvisit.blobs"]
    data = (DATA / "photos" / PHOTO).read_bytes()
    for slot in db.session.scalars(select(EvidenceFile).where(EvidenceFile.case_id == case_id)):
        if not blobs.exists(slot.storage_key):
            blobs.put_bytes(slot.storage_key, data, content_type=slot.mime)


def close(case: Case, *, days_ago: int, status: CaseStatus = CaseStatus.SETTLED) -> Case:
    """The lender settles (or writes off) the case: it leaves its collector."""
    case = db.session.get(Case, case.id)
    set_assignment(db.session, case, team_id=case.team_id, collector_id=None,
                   assigned_by_id=None, reason="closed")
    case.status = status
    case.closed_at = utcnow() - timedelta(days=days_ago)
    db.session.commit()
    return case


def blob_keys(case_id: int) -> list[str]:
    keys = []
    for slot in db.session.scalars(select(EvidenceFile).where(EvidenceFile.case_id == case_id)):
        keys += [k for k in (slot.storage_key, slot.thumbnail_key) if k]
    return keys


def hold_when_locked(session, case_id: int, legal_id: int):
    """Another desk's hold, committed just as the purge or erasure asks for the case's lock
    (what a hold placed mid-run looks like once the lock is granted)."""
    placed = []

    def place(state):
        if not placed and state.is_select and state.statement._for_update_arg is not None:
            placed.append(case_id)
            state.session.connection().execute(insert(LegalHold).values(
                case_id=case_id, kind=HoldKind.LITIGATION, reference="(2026)京01民初88号",
                placed_by_id=legal_id, placed_at=utcnow()))

    event.listen(session, "do_orm_execute", place)
    return placed, lambda: event.remove(session, "do_orm_execute", place)
