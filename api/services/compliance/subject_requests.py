"""Data-subject requests (PIPL Art. 45-47), each logged with its outcome:

- export: everything held on the debtor, as JSON, with the audit of who read it;
- correction: a field proposal reviewed like any other (casefile.proposals); the review's
  decision closes the request;
- erasure: the debtor's cases purged and the debtor anonymised as retention would, only where
  no legal hold and no retention duty applies; otherwise refused with the rule that applies."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from api.models import (
    Assignment,
    AuditEvent,
    Case,
    CaseNote,
    Collateral,
    Complaint,
    ContactAttempt,
    Debtor,
    DebtorBlackout,
    EvidenceFile,
    FieldProposal,
    FieldReceipt,
    Instalment,
    LegalHold,
    NoticeServed,
    Payment,
    ProposalKind,
    ProposalStatus,
    ReachabilityChange,
    RepaymentPromise,
    Repossession,
    Role,
    SubjectRequest,
    SubjectRequestKind,
    SubjectRequestStatus,
    User,
    VehicleSighting,
    VisitPresence,
    VisitReport,
)
from api.models.cases import CLOSED_STATUSES
from api.models.types import utcnow
from api.services.casefile.identifiers import normalize_phone
from api.services.compliance import retention
from api.services.compliance.breaches import RuleBreach
from api.services.compliance.holds import active_holds, hold_sentence
from api.services.compliance.policies import policy_for_case
from api.services.evidence.storage import BlobStore
from api.services.exceptions import Conflict, InvalidInput, NotFound
from api.services.identity import audit
from api.services.identity.access import require_role
from api.services.identity.accounts import Principal
from api.services.identity.pii import PiiCipher

REQUEST_ROLES = (Role.ADMIN, Role.LEGAL)
EXPORT_FORMAT = "fieldvisit.subject-export/1"
EXPORT_READ = "subject_request.export_read"
# Columns an export leaves out: ciphertexts and keyed hashes (the clear values are given).
SEALED = {"national_id_cipher", "national_id_digest", "signer_id_cipher"}
FIELD_RECORDS = {
    "visit_reports": VisitReport, "contact_attempts": ContactAttempt,
    "repayment_promises": RepaymentPromise, "field_receipts": FieldReceipt,
    "notices_served": NoticeServed, "case_notes": CaseNote, "field_proposals": FieldProposal,
    "vehicle_sightings": VehicleSighting, "repossessions": Repossession,
    "visit_presences": VisitPresence, "reachability_changes": ReachabilityChange,
}
JSON_COLUMNS = {"collector_ids", "co_collectors", "fixes", "flags", "plan", "data", "exif"}


# --- the log ---------------------------------------------------------------------------------


def subject_of(session: Session, debtor_id: int | None, case_id: int | None
               ) -> tuple[Debtor, Case | None]:
    """The request's debtor, named directly or by one of their cases."""
    if debtor_id is None and case_id is None:
        raise InvalidInput("A request names its debtor or one of their cases.",
                           fields={"debtor_id": ["give debtor_id or case_id"],
                                   "case_id": ["give debtor_id or case_id"]})
    case = None
    if case_id is not None:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound("No such case.", fields={"case_id": ["no such case"]})
        if debtor_id is not None and debtor_id != case.debtor_id:
            raise InvalidInput("The case is not the debtor's.",
                               fields={"case_id": ["is not a case of this debtor"]})
        debtor_id = case.debtor_id
    debtor = session.get(Debtor, debtor_id) if debtor_id is not None else None
    if debtor is None:
        raise NotFound("No such debtor.", fields={"debtor_id": ["no such debtor"]})
    return debtor, case


def requests_query(*, kind=None, status=None, debtor_id=None):
    stmt = select(SubjectRequest)
    for column, value in ((SubjectRequest.kind, kind), (SubjectRequest.status, status),
                          (SubjectRequest.debtor_id, debtor_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def get_request(session: Session, principal: Principal, request_id: int) -> SubjectRequest:
    require_role(principal, *REQUEST_ROLES)
    request = session.get(SubjectRequest, request_id)
    if request is None:
        raise NotFound("No such data-subject request.")
    return request


def file_request(session: Session, principal: Principal, blobs: BlobStore, cipher: PiiCipher, *,
                 kind: SubjectRequestKind, requested_by: str, received_at: datetime,
                 debtor_id: int | None = None, case_id: int | None = None,
                 note: str | None = None, correction: dict | None = None,
                 ) -> tuple[SubjectRequest, RuleBreach | None]:
    """Log a request and act on it. A refused erasure is logged too: the breach is returned
    for the caller to raise once the log is committed."""
    require_role(principal, *REQUEST_ROLES)
    debtor, case = subject_of(session, debtor_id, case_id)
    if kind is SubjectRequestKind.CORRECTION:
        if correction is None:
            raise InvalidInput("A correction says what to correct.",
                               fields={"correction": ["required for a correction"]})
        case = case or latest_case(session, debtor)
        if case is None:
            raise InvalidInput("The debtor has no case to file the correction on.",
                               fields={"debtor_id": ["has no case: a correction is reviewed "
                                                     "on one of the debtor's cases"]})
    request = SubjectRequest(
        kind=kind, debtor_id=debtor.id, case_id=case.id if case else None,
        requested_by=requested_by, received_at=received_at, note=note,
        handled_by_id=principal.user_id, status=SubjectRequestStatus.IN_REVIEW)
    session.add(request)
    session.flush()
    breach = None
    if kind is SubjectRequestKind.EXPORT:
        close(request, SubjectRequestStatus.DONE,
              f"Export of debtor {debtor.id}'s data made available.")
    elif kind is SubjectRequestKind.CORRECTION:
        propose_correction(session, principal, request, debtor, case, correction)
    else:
        breach = erase(session, blobs, cipher, request, debtor)
    audit.record(session, principal, f"subject_request.{kind.value}",
                 case_id=request.case_id,
                 detail={"request_id": request.id, "debtor_id": debtor.id,
                         "status": request.status.value, "rule": request.refused_rule})
    return request, breach


def close(request: SubjectRequest, status: SubjectRequestStatus, outcome: str,
          rule: str | None = None) -> None:
    request.status, request.outcome, request.refused_rule = status, outcome, rule
    request.closed_at = utcnow()


# --- correction ------------------------------------------------------------------------------


def latest_case(session: Session, debtor: Debtor) -> Case | None:
    return session.scalar(select(Case).where(Case.debtor_id == debtor.id)
                          .order_by(Case.id.desc()).limit(1))


def propose_correction(session: Session, principal: Principal, request: SubjectRequest,
                       debtor: Debtor, case: Case, correction: dict) -> FieldProposal:
    """The correction as a field proposal on the case named (else the debtor's latest, chosen
    by `file_request`), for a supervisor or administrator to review."""
    data = {k: getattr(v, "value", v) for k, v in correction["data"].items()}
    if data.get("phone"):
        data["phone"] = normalize_phone(data["phone"], field="correction.data.phone")
    if data.get("contact_id") is not None and not any(
            c.id == data["contact_id"] for c in debtor.contacts):
        raise InvalidInput("No such contact of the debtor.",
                           fields={"correction.data.contact_id": ["not a contact of the debtor"]})
    now = utcnow()
    proposal = FieldProposal(
        id=str(uuid.uuid4()), case_id=case.id, author_id=principal.user_id,
        device_id=principal.device_id, mutation_id=0, client_time=now, received_at=now,
        kind=ProposalKind(correction["kind"]), data=json.dumps(data, ensure_ascii=False),
        note=f"Data-subject correction request {request.id}")
    session.add(proposal)
    session.flush()
    request.case_id, request.proposal_id = case.id, proposal.id
    return proposal


def correction_reviewed(session: Session, proposal: FieldProposal) -> None:
    """Close the correction request a reviewed proposal came from, with the decision."""
    request = session.scalar(select(SubjectRequest).where(
        SubjectRequest.proposal_id == proposal.id))
    if request is None:
        return
    accepted = proposal.status is ProposalStatus.ACCEPTED
    outcome = "Correction applied" if accepted else "Correction rejected on review"
    close(request, SubjectRequestStatus.DONE if accepted else SubjectRequestStatus.REFUSED,
          f"{outcome}{': ' + proposal.review_note if proposal.review_note else ''}.")


# --- erasure ---------------------------------------------------------------------------------


def erasure_breach(session: Session, debtor: Debtor, at: datetime) -> RuleBreach | None:
    """Why the debtor's data may not be erased now: a legal hold on any of their cases, or a
    case still open or within its retention period that holds collection records."""
    cases = session.scalars(select(Case).where(Case.debtor_id == debtor.id)
                            .order_by(Case.id)).all()
    holds = active_holds(session, [c.id for c in cases])
    for case in cases:
        if case.id in holds:
            return RuleBreach("legal_hold", policy_for_case(session, case, at),
                              hold_sentence(case, holds[case.id]) + " Nothing of it is erased.")
    for case in cases:
        if case.purged_at is not None or not retention.was_collected(session, case.id):
            continue
        verdict = retention.judge(session, case, at, {})
        if verdict.action == "keep":
            later = " It cannot be erased before then." if case.status in CLOSED_STATUSES else ""
            return RuleBreach("retention", retention.retention_policy(session, case, at),
                              verdict.sentence + later)
    return None


def erase(session: Session, blobs: BlobStore, cipher: PiiCipher, request: SubjectRequest,
          debtor: Debtor) -> RuleBreach | None:
    at = utcnow()
    # Locked before the holds are read: a hold placed meanwhile waits (holds.place_hold).
    for case_id in session.scalars(select(Case.id).where(Case.debtor_id == debtor.id)
                                   .order_by(Case.id)).all():
        retention.lock_case(session, case_id)
    breach = erasure_breach(session, debtor, at)
    if breach is not None:
        close(request, SubjectRequestStatus.REFUSED, breach.message, breach.rule)
        return breach
    cases = session.scalars(select(Case).where(Case.debtor_id == debtor.id,
                                               Case.purged_at.is_(None))).all()
    for case in cases:
        retention.purge_case(session, blobs, case, at)
    retention.anonymise_debtor(session, cipher, session.get(Debtor, debtor.id), at)
    close(request, SubjectRequestStatus.DONE,
          f"Debtor {debtor.id} anonymised; field records and evidence of "
          f"{len(cases)} case(s) erased; the money ledger kept anonymised.")
    return None


# --- export ----------------------------------------------------------------------------------


def export(session: Session, principal: Principal, request_id: int, cipher: PiiCipher) -> dict:
    """Everything held on the request's debtor, read now. Audited as "subject_request.export"
    (the export's own audit row is in its `reads`)."""
    request = get_request(session, principal, request_id)
    if request.kind is not SubjectRequestKind.EXPORT:
        raise Conflict("This request is not an export.", fields={"request_id": ["not an export"]})
    debtor = session.get(Debtor, request.debtor_id)
    cases = session.scalars(select(Case).where(Case.debtor_id == debtor.id)
                            .order_by(Case.id)).all()
    case_ids = [c.id for c in cases]
    audit.record(session, principal, EXPORT_READ, case_id=None,
                 detail={"request_id": request.id, "debtor_id": debtor.id, "case_ids": case_ids})
    person = row(debtor)
    person["national_id"] = cipher.decrypt(debtor.national_id_cipher) or None
    return {
        "format": EXPORT_FORMAT,
        "generated_at": utcnow().isoformat(),
        "request_id": request.id,
        "debtor": person,
        "contacts": [row(c) for c in debtor.contacts],
        "addresses": [row(a) for a in debtor.addresses],
        "blackouts": [row(b) for b in session.scalars(
            select(DebtorBlackout).where(DebtorBlackout.debtor_id == debtor.id)
            .order_by(DebtorBlackout.id))],
        "cases": [case_export(session, case, cipher) for case in cases],
        "reads": reads(session, case_ids, request.id),
    }


def case_export(session: Session, case: Case, cipher: PiiCipher) -> dict:
    out = row(case)
    for name, model, order in (("schedule", Instalment, Instalment.seq),
                               ("payments", Payment, Payment.paid_on),
                               ("collateral", Collateral, Collateral.id),
                               ("assignments", Assignment, Assignment.id),
                               ("legal_holds", LegalHold, LegalHold.id),
                               ("complaints", Complaint, Complaint.id)):
        out[name] = rows(session, model, case.id, order, Payment.id if model is Payment else None)
    out["field_records"] = {
        name: rows(session, model, case.id, model.received_at, model.id)
        for name, model in FIELD_RECORDS.items()}
    for promise, source in zip(out["field_records"]["repayment_promises"], session.scalars(
            select(RepaymentPromise).where(RepaymentPromise.case_id == case.id)
            .order_by(RepaymentPromise.received_at, RepaymentPromise.id)), strict=True):
        promise["signer_id"] = (cipher.decrypt(source.signer_id_cipher)
                                if source.signer_id_cipher else None)
    out["evidence_files"] = rows(session, EvidenceFile, case.id, EvidenceFile.declared_at,
                                 EvidenceFile.id)
    return out


def reads(session: Session, case_ids: list[int], request_id: int) -> list[dict]:
    """Who read the debtor's data: every audit row about one of their cases, the lists that
    showed one of them (`detail.case_ids`: a scan of those rows, an export being rare), and the
    audit rows of this request's exports."""
    wanted = set(case_ids)
    events = session.scalars(select(AuditEvent).where(AuditEvent.case_id.in_(case_ids))
                             ).all() if case_ids else []
    for event in session.scalars(select(AuditEvent).where(
            AuditEvent.case_id.is_(None),
            AuditEvent.detail.contains('"case_ids"') | AuditEvent.detail.contains(
                '"request_id"')).execution_options(yield_per=1000)):
        detail = json.loads(event.detail or "{}")
        if (wanted & set(detail.get("case_ids") or ())
                or (event.action == EXPORT_READ and detail.get("request_id") == request_id)):
            events.append(event)
    events.sort(key=lambda e: e.id)
    people = {u.id: u for u in session.scalars(select(User).where(
        User.id.in_({e.actor_id for e in events if e.actor_id is not None})))}
    return [{"id": e.id, "occurred_at": e.occurred_at.isoformat(), "action": e.action,
             "case_id": e.case_id, "actor_id": e.actor_id,
             "actor": people[e.actor_id].full_name if e.actor_id in people else None,
             "device_id": e.device_id, "detail": own_detail(e, wanted)} for e in events]


def own_detail(event: AuditEvent, case_ids: set[int]) -> dict:
    """The row's detail, a list's `case_ids` narrowed to the debtor's own (the other cases a
    list showed are other people's business)."""
    detail = json.loads(event.detail or "{}")
    if isinstance(detail.get("case_ids"), list):
        detail["case_ids"] = [i for i in detail["case_ids"] if i in case_ids]
    return detail


def rows(session: Session, model, case_id: int, *order) -> list[dict]:
    return [row(r) for r in session.scalars(select(model).where(model.case_id == case_id)
                                            .order_by(*[o for o in order if o is not None]))]


def row(obj) -> dict[str, Any]:
    """Every column of a row as JSON values (sealed columns left out, JSON text decoded)."""
    out = {}
    for attr in inspect(type(obj)).column_attrs:
        if attr.key in SEALED:
            continue
        value = getattr(obj, attr.key)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif hasattr(value, "value"):
            value = value.value
        elif attr.key in JSON_COLUMNS and isinstance(value, str):
            value = json.loads(value)
        out[attr.key] = value
    return out
