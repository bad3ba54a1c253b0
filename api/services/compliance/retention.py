"""Retention: a closed case's collection records are kept for its policy's `retention_days`
after it closed, then purged; the money ledger stays, anonymised. What goes and what stays is
in docs/retention.md. A case under an active legal hold is never touched.

The period is the longer of the policy in effect when the case closed and the one in effect
now: neither a shortened nor a lengthened policy can cut a duty already running.

Blobs are deleted before the rows that name them: a run that fails half way leaves rows whose
files are gone, and the next run finishes the job (deleting an absent blob is no error). The
other order could leave files no row points to, personal data nobody could find again."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from api.config import Policy
from api.models import (
    Address,
    Case,
    CaseNote,
    Collateral,
    Complaint,
    ComplaintNote,
    Contact,
    ContactAttempt,
    Debtor,
    DebtorBlackout,
    EvidenceFile,
    ExceptionItem,
    FieldProposal,
    FieldReceipt,
    NoticeServed,
    Payment,
    ReachabilityChange,
    RepaymentPromise,
    Repossession,
    RouteStop,
    SubjectRequest,
    VehicleSighting,
    VisitPresence,
    VisitReport,
)
from api.models.cases import CLOSED_STATUSES
from api.models.complaints import OPEN_COMPLAINT
from api.services.compliance.holds import active_holds, hold_sentence
from api.services.compliance.policies import policy_for_case
from api.services.evidence.packs import STORED_PACK_DAYS, delete_stored_packs
from api.services.evidence.storage import BlobStore
from api.services.identity import audit
from api.services.identity.accounts import Principal
from api.services.identity.pii import PiiCipher

ANONYMISED = "(anonymised)"
# Field records removed with a purged case, in an order the foreign keys allow.
FIELD_RECORDS = (Repossession, VehicleSighting, RepaymentPromise, NoticeServed, ContactAttempt,
                 CaseNote, FieldProposal, VisitPresence, ReachabilityChange, VisitReport)


@dataclass
class CaseVerdict:
    """What retention makes of one case: `purge`, or kept with the reason (`open`,
    `legal_hold`, `open_complaint`, `within_retention`) and the sentence that explains it."""

    case_id: int
    contract_no: str
    debtor_id: int
    status: str
    closed_at: datetime | None
    purge_after: datetime | None
    policy: str | None
    action: str  # "purge" | "keep"
    reason: str | None = None
    sentence: str = ""
    removed: dict[str, int] = field(default_factory=dict)


@dataclass
class RetentionReport:
    at: datetime
    dry_run: bool
    purged: list[CaseVerdict] = field(default_factory=list)
    kept: list[CaseVerdict] = field(default_factory=list)
    debtors_anonymised: list[int] = field(default_factory=list)
    # Debtors whose personal data stays because another of their cases is kept: id -> case ids.
    debtors_kept: dict[int, list[int]] = field(default_factory=dict)
    files_deleted: int = 0

    def as_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=str))

    def summary(self) -> dict:
        kept: dict[str, int] = {}
        for verdict in self.kept:
            kept[verdict.reason] = kept.get(verdict.reason, 0) + 1
        return {"dry_run": self.dry_run, "purged": len(self.purged), "kept": kept,
                "debtors_anonymised": len(self.debtors_anonymised),
                "files_deleted": self.files_deleted}


def judge(session: Session, case: Case, at: datetime, holds: dict) -> CaseVerdict:
    """Whether `case` is due for purging at `at`, and why not if it is not. (An open case may
    be a row of its id, contract number, debtor id, status and close time.)"""
    verdict = CaseVerdict(case.id, case.contract_no, case.debtor_id, case.status.value,
                          case.closed_at, None, None, "keep")
    if case.id in holds:
        verdict.reason, verdict.sentence = "legal_hold", hold_sentence(case, holds[case.id])
        return verdict
    if case.status not in CLOSED_STATUSES:
        verdict.reason = "open"
        verdict.sentence = (f"Case {case.contract_no} is {case.status.value}: its records "
                            "are kept while it is in collection.")
        return verdict
    if session.scalar(select(exists().where(Complaint.case_id == case.id,
                                            Complaint.status.in_(OPEN_COMPLAINT)))):
        verdict.reason = "open_complaint"
        verdict.sentence = (f"Case {case.contract_no} has a complaint still being handled: its "
                            "records are kept until the complaint is closed.")
        return verdict
    closed_at = case.closed_at or case.updated_at
    policy = retention_policy(session, case, at)
    verdict.closed_at, verdict.policy = closed_at, policy.ref
    verdict.purge_after = closed_at + timedelta(days=policy.retention_days)
    if at < verdict.purge_after:
        verdict.reason = "within_retention"
        verdict.sentence = (f"Case {case.contract_no} closed on {closed_at:%Y-%m-%d}; policy "
                            f"{policy.ref} keeps its records {policy.retention_days} days, "
                            f"until {verdict.purge_after:%Y-%m-%d}.")
        return verdict
    verdict.action = "purge"
    verdict.sentence = (f"Case {case.contract_no} closed on {closed_at:%Y-%m-%d}; its "
                        f"{policy.retention_days} days under {policy.ref} ended on "
                        f"{verdict.purge_after:%Y-%m-%d}.")
    return verdict


def retention_policy(session: Session, case: Case, at: datetime) -> Policy:
    """The policy whose period governs the case at `at`: of the one in effect when it closed
    and the one in effect now, the longer (an open case: the one in effect now)."""
    now = policy_for_case(session, case, at)
    if case.status not in CLOSED_STATUSES:
        return now
    closed = policy_for_case(session, case, case.closed_at or case.updated_at)
    return max((closed, now), key=lambda p: p.retention_days)


def final_verdict(session: Session, case: Case, at: datetime, holds: dict, *,
                  dry_run: bool) -> CaseVerdict:
    """`judge` the case; one due on a real run is locked and judged again under the lock (a hold
    or complaint since the first look keeps it). A purge counts the records it removes."""
    verdict = judge(session, case, at, holds)
    if verdict.action == "purge" and not dry_run:
        case = lock_case(session, case.id)
        verdict = judge(session, case, at, active_holds(session, [case.id]))
    if verdict.action == "purge":
        verdict.removed = count_records(session, case.id)
    return verdict


def run(session: Session, blobs: BlobStore, cipher: PiiCipher, at: datetime, *, dry_run: bool,
        principal: Principal | None = None) -> RetentionReport:
    """Judge every case not yet purged; unless `dry_run`, purge those due and anonymise the
    debtors left with no kept case; stored evidence packs older than `STORED_PACK_DAYS` go too.
    Audited as "compliance.purge" (dry runs too).

    A real run locks each case due and judges it again under the lock: a hold placed (or a
    complaint received) since the first look keeps it; `place_hold` locks the same row."""
    report = RetentionReport(at=at, dry_run=dry_run)
    waiting = Case.purged_at.is_(None)
    closed = session.scalars(select(Case).where(waiting, Case.status.in_(CLOSED_STATUSES))
                             .order_by(Case.id)).all()
    # Open cases are only named in the report: their columns, not the whole case file.
    open_cases = session.execute(
        select(Case.id, Case.contract_no, Case.debtor_id, Case.status, Case.closed_at)
        .where(waiting, Case.status.not_in(CLOSED_STATUSES)).order_by(Case.id)).all()
    holds = active_holds(session, [c.id for c in (*closed, *open_cases)])
    for case in (*closed, *open_cases):
        verdict = final_verdict(session, case, at, holds, dry_run=dry_run)
        (report.purged if verdict.action == "purge" else report.kept).append(verdict)
    kept_by_debtor: dict[int, list[int]] = {}
    for verdict in report.kept:
        kept_by_debtor.setdefault(verdict.debtor_id, []).append(verdict.case_id)
    for debtor_id in sorted({v.debtor_id for v in report.purged}):
        if debtor_id in kept_by_debtor:
            report.debtors_kept[debtor_id] = kept_by_debtor[debtor_id]
        else:
            report.debtors_anonymised.append(debtor_id)
    report.files_deleted = sum(v.removed.get("evidence_files", 0) for v in report.purged)
    if not dry_run:
        for verdict in report.purged:
            purge_case(session, blobs, session.get(Case, verdict.case_id), at)
        for debtor_id in report.debtors_anonymised:
            anonymise_debtor(session, cipher, session.get(Debtor, debtor_id), at)
        delete_stored_packs(session, blobs, finished_before=at - timedelta(days=STORED_PACK_DAYS))
    audit.record(session, principal, "compliance.purge", detail={
        **report.summary(), "at": at.isoformat(),
        "purged_case_ids": [v.case_id for v in report.purged],
        "anonymised_debtor_ids": report.debtors_anonymised,
    })
    return report


def run_in_chunks(session: Session, blobs: BlobStore, cipher: PiiCipher, at: datetime, *,
                  dry_run: bool, principal: Principal | None = None,
                  checkpoint: Callable[[int, int], None], chunk: int = 200,
                  run_ref: dict | None = None) -> dict:
    """`run` in chunks of cases, for a job: each chunk is judged, purged and committed by
    `checkpoint(done, total)` (which may stop the run: what was committed stays, and the next
    run takes up the rest). A real chunk that purges anything carries its own audit row
    "compliance.purge" (`chunk` and `run_ref` in the detail), so nothing committed is off the
    record; the run ends with a summary row, as `run`. A debtor is anonymised in the chunk that
    purges their last kept case (or, left over by a stopped run, at the end of the next one).
    Returns the summary, with the purged case and anonymised debtor ids."""
    waiting = Case.purged_at.is_(None)
    total = session.scalar(select(func.count()).select_from(Case).where(waiting))
    kept: dict[str, int] = {}
    purged_ids: list[int] = []
    would_purge_debtors: set[int] = set()
    anonymised: list[int] = []
    files_deleted, done, last_id, number = 0, 0, 0, 0
    checkpoint(0, total)
    while True:
        ids = session.scalars(select(Case.id).where(waiting, Case.id > last_id)
                              .order_by(Case.id).limit(chunk)).all()
        if not ids:
            break
        last_id, number = ids[-1], number + 1
        cases = session.scalars(select(Case).where(Case.id.in_(ids)).order_by(Case.id)).all()
        holds = active_holds(session, ids)
        chunk_purged: list[CaseVerdict] = []
        for case in cases:
            verdict = final_verdict(session, case, at, holds, dry_run=dry_run)
            if verdict.action == "purge":
                chunk_purged.append(verdict)
            else:
                kept[verdict.reason] = kept.get(verdict.reason, 0) + 1
        files_deleted += sum(v.removed.get("evidence_files", 0) for v in chunk_purged)
        purged_ids += [v.case_id for v in chunk_purged]
        debtors = sorted({v.debtor_id for v in chunk_purged})
        if dry_run:
            would_purge_debtors.update(debtors)
        elif chunk_purged:
            for verdict in chunk_purged:
                purge_case(session, blobs, session.get(Case, verdict.case_id), at)
            chunk_anonymised = _anonymise_if_nothing_kept(session, cipher, debtors, at)
            anonymised += chunk_anonymised
            audit.record(session, principal, "compliance.purge", detail={
                "dry_run": False, "chunk": number, "run": run_ref or {}, "at": at.isoformat(),
                "purged_case_ids": [v.case_id for v in chunk_purged],
                "anonymised_debtor_ids": chunk_anonymised,
            })
        done += len(ids)
        checkpoint(done, total)
    if dry_run:
        anonymised = _debtors_with_nothing_kept(session, would_purge_debtors, set(purged_ids))
    else:
        leftover = session.scalars(select(Debtor.id).where(
            Debtor.anonymised_at.is_(None),
            exists().where(Case.debtor_id == Debtor.id, Case.purged_at.is_not(None)),
            ~exists().where(Case.debtor_id == Debtor.id, Case.purged_at.is_(None)))).all()
        anonymised += _anonymise_if_nothing_kept(session, cipher, leftover, at)
        delete_stored_packs(session, blobs, finished_before=at - timedelta(days=STORED_PACK_DAYS))
    summary = {"dry_run": dry_run, "purged": len(purged_ids), "kept": kept,
               "debtors_anonymised": len(anonymised), "files_deleted": files_deleted}
    audit.record(session, principal, "compliance.purge", detail={
        **summary, "at": at.isoformat(), "run": run_ref or {}, "chunks": number,
        "purged_case_ids": purged_ids, "anonymised_debtor_ids": anonymised,
    })
    return {**summary, "purged_case_ids": purged_ids, "anonymised_debtor_ids": anonymised}


def _debtors_with_nothing_kept(session: Session, debtor_ids: set[int],
                               leaving: set[int]) -> list[int]:
    """Of `debtor_ids`, those whose every case not yet purged is in `leaving`."""
    found = []
    ordered = sorted(debtor_ids)
    for start in range(0, len(ordered), 500):
        part = ordered[start:start + 500]
        staying = {debtor for debtor, case_id in session.execute(
            select(Case.debtor_id, Case.id).where(Case.debtor_id.in_(part),
                                                  Case.purged_at.is_(None)))
            if case_id not in leaving}
        found += [d for d in part if d not in staying]
    return found


def _anonymise_if_nothing_kept(session: Session, cipher: PiiCipher, debtor_ids, at) -> list[int]:
    done = _debtors_with_nothing_kept(session, set(debtor_ids), set())
    for debtor_id in done:
        anonymise_debtor(session, cipher, session.get(Debtor, debtor_id), at)
    return done


def lock_case(session: Session, case_id: int) -> Case:
    """The case row, read afresh and locked until the transaction ends (no-op on SQLite)."""
    return session.scalars(select(Case).where(Case.id == case_id).with_for_update(of=Case)
                           .execution_options(populate_existing=True)).one()


def count_records(session: Session, case_id: int) -> dict[str, int]:
    """What purging the case removes (and the receipts it anonymises), by table."""
    counts = {}
    for model in (EvidenceFile, *FIELD_RECORDS, Collateral, ExceptionItem, RouteStop, Complaint):
        counts[model.__tablename__] = session.scalar(
            select(func.count()).select_from(model).where(model.case_id == case_id))
    counts["field_receipts_anonymised"] = session.scalar(
        select(func.count()).select_from(FieldReceipt).where(FieldReceipt.case_id == case_id))
    return counts


def purge_case(session: Session, blobs: BlobStore, case: Case, at: datetime) -> None:
    """Remove the case's field records, evidence (files first) and vehicles; keep the case,
    its schedule, payments and assignments, and its field receipts with the payer's name
    blanked (the money ledger)."""
    files = session.scalars(select(EvidenceFile).where(EvidenceFile.case_id == case.id)).all()
    for slot in files:
        for key in (slot.storage_key, slot.thumbnail_key):
            if key:
                blobs.delete(key)
    delete_stored_packs(session, blobs, case_id=case.id)
    session.flush()
    case_id = case.id
    session.execute(update(FieldReceipt).where(FieldReceipt.case_id == case_id)
                    .values(payer_name="", visit_report_id=None))
    session.execute(update(SubjectRequest).where(SubjectRequest.proposal_id.in_(
        select(FieldProposal.id).where(FieldProposal.case_id == case_id))).values(proposal_id=None))
    session.execute(update(VisitReport).where(VisitReport.case_id == case_id)
                    .values(supersedes_id=None))
    session.execute(delete(ComplaintNote).where(ComplaintNote.complaint_id.in_(
        select(Complaint.id).where(Complaint.case_id == case_id))))
    for model in (EvidenceFile, ExceptionItem, RouteStop, *FIELD_RECORDS, Complaint):
        session.execute(delete(model).where(model.case_id == case_id))
    session.execute(delete(Collateral).where(Collateral.case_id == case_id))
    session.expire_all()
    case = session.get(Case, case_id)
    case.purged_at = at  # through the ORM: the change log re-seals the case's document
    session.flush()


def anonymise_debtor(session: Session, cipher: PiiCipher, debtor: Debtor, at: datetime) -> None:
    """Strip the debtor's personal data: contacts and addresses removed, identity blanked (the
    national ID sealed empty, so every reader still opens it). The row stays (the kept cases
    point at it), unidentifiable. Its data-subject requests keep their kind, status and
    outcome; who asked and the note (free text that may name the debtor or a lawyer) go."""
    session.execute(update(ContactAttempt).where(ContactAttempt.contact_id.in_(
        select(Contact.id).where(Contact.debtor_id == debtor.id))).values(contact_id=None))
    session.execute(update(RouteStop).where(RouteStop.address_id.in_(
        select(Address.id).where(Address.debtor_id == debtor.id))).values(address_id=None))
    session.execute(update(Complaint).where(Complaint.contact_id.in_(
        select(Contact.id).where(Contact.debtor_id == debtor.id))).values(contact_id=None))
    session.execute(delete(DebtorBlackout).where(DebtorBlackout.debtor_id == debtor.id))
    session.execute(update(SubjectRequest).where(SubjectRequest.debtor_id == debtor.id)
                    .values(requested_by=ANONYMISED, note=None))
    session.execute(delete(Address).where(Address.debtor_id == debtor.id))
    session.execute(delete(Contact).where(Contact.debtor_id == debtor.id))
    session.expire(debtor)
    tag = f"anonymised:{debtor.id}"
    debtor.lender_ref, debtor.name = tag, ANONYMISED
    debtor.national_id_cipher = cipher.encrypt("")
    debtor.national_id_digest, debtor.national_id_last4 = tag, ""
    debtor.mobile_phone = debtor.home_phone = debtor.work_phone = None
    debtor.employer = debtor.risk_notes = None
    debtor.anonymised_at = at
    session.flush()


def was_collected(session: Session, case_id: int) -> bool:
    """Whether any collection work or money is on record for the case."""
    return any(session.scalar(select(exists().where(model.case_id == case_id)))
               for model in (*FIELD_RECORDS, FieldReceipt, EvidenceFile, Payment))

