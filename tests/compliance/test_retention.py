"""Retention over generated data: closed cases past and within their retention period, an
open one, one under legal hold, and a debtor with two cases. The dry run says what the real
run then does; after it the database and the blob store are read directly."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api.commands.compliance import command as compliance_cli
from api.extensions import db
from api.models import (
    Address,
    AuditEvent,
    Case,
    CaseNote,
    CaseStatus,
    Collateral,
    Complainant,
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintStatus,
    Contact,
    ContactAttempt,
    Debtor,
    EvidenceFile,
    FieldProposal,
    FieldReceipt,
    HoldKind,
    Instalment,
    LegalHold,
    NoticeServed,
    Payment,
    RepaymentPromise,
    Role,
    VehicleSighting,
    VisitReport,
)
from api.models.types import utcnow
from api.services.casefile.assignment import set_assignment
from api.services.compliance import retention
from api.services.compliance.holds import place_hold
from api.services.compliance.policies import store_version
from api.services.compliance.presets import PRESETS
from api.services.identity.accounts import Principal
from tests.compliance.stories import blob_keys, close, hold_when_locked, work_the_case
from tests.field.filing_records import note, visit
from tests.field.test_field_work import Phone

FIELD_MODELS = (VisitReport, ContactAttempt, CaseNote, RepaymentPromise, NoticeServed,
                VehicleSighting, FieldProposal, EvidenceFile, Collateral)
CN_DAYS = PRESETS["CN"].retention_days  # 730


def rows_of(model, case_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(model)
                             .where(model.case_id == case_id))


@pytest.fixture
def estate(app, world, client):
    """Six cases worked in the field, then the lender's closures and a court's hold."""
    team = world.team()
    collector = world.user(Role.COLLECTOR, team)
    legal = world.user(Role.LEGAL)
    phone = Phone(client, world.login(collector))
    names = ("expired", "recent", "open", "held", "expired_sibling", "just_expired")
    cases = {name: world.case(collector=collector) for name in names}
    # The sibling belongs to the debtor of "recent": a debtor with a case still kept.
    sibling = db.session.get(Case, cases["expired_sibling"].id)
    sibling.debtor_id = cases["recent"].debtor_id
    db.session.commit()
    for name in names:
        case = db.session.get(Case, cases[name].id)
        case.payments.append(Payment(lender_ref=f"P-{name}", paid_on=utcnow().date(),
                                     amount_fen=250_000, method="bank"))
        db.session.commit()
        work_the_case(app, phone, db.session.get(Case, case.id))
    close(cases["expired"], days_ago=CN_DAYS + 70)
    close(cases["recent"], days_ago=100, status=CaseStatus.WRITTEN_OFF)
    close(cases["held"], days_ago=CN_DAYS + 300)
    close(cases["expired_sibling"], days_ago=CN_DAYS + 5)
    close(cases["just_expired"], days_ago=CN_DAYS, status=CaseStatus.WRITTEN_OFF)
    principal = Principal(legal.id, Role.LEGAL, None, None)
    place_hold(db.session, principal, cases["held"].id, kind=HoldKind.LITIGATION,
               reference="(2026)粤0304民初12345号")
    db.session.commit()
    return {name: db.session.get(Case, c.id) for name, c in cases.items()}


def dry_run(app, at=None) -> retention.RetentionReport:
    return retention.run(db.session, app.extensions["fieldvisit.blobs"],
                         app.extensions["fieldvisit.pii"], at or utcnow(), dry_run=True)


def ids(verdicts) -> dict[int, str | None]:
    return {v.case_id: v.reason for v in verdicts}


@pytest.mark.rule("retention", preset="CN")
@pytest.mark.rule("legal_hold", preset="CN")
def test_a_dry_run_says_what_the_real_run_then_does(app, estate):
    blobs, cipher = app.extensions["fieldvisit.blobs"], app.extensions["fieldvisit.pii"]
    c = {name: case.id for name, case in estate.items()}
    keys = {name: blob_keys(case_id) for name, case_id in c.items()}
    assert all(keys.values()) and all(blobs.exists(k) for ks in keys.values() for k in ks)
    before = {name: {m: rows_of(m, case_id) for m in FIELD_MODELS} for name, case_id in c.items()}

    result = app.test_cli_runner().invoke(compliance_cli, ["purge", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    dry = json.loads(result.output)
    assert dry["dry_run"] is True
    purge = {c["expired"], c["expired_sibling"], c["just_expired"]}
    assert {v["case_id"] for v in dry["purged"]} == purge
    assert {v["case_id"]: v["reason"] for v in dry["kept"]} == {
        c["recent"]: "within_retention", c["open"]: "open", c["held"]: "legal_hold"}
    held = next(v for v in dry["kept"] if v["case_id"] == c["held"])
    assert "(2026)粤0304民初12345号" in held["sentence"]
    # The debtor of "recent" keeps their data; the other two are anonymised.
    assert dry["debtors_kept"] == {str(estate["recent"].debtor_id): [c["recent"]]}
    assert sorted(dry["debtors_anonymised"]) == sorted(
        [estate["expired"].debtor_id, estate["just_expired"].debtor_id])
    expired = next(v for v in dry["purged"] if v["case_id"] == c["expired"])
    assert expired["removed"]["visit_reports"] == before["expired"][VisitReport] == 1
    assert expired["removed"]["evidence_files"] == before["expired"][EvidenceFile] >= 5
    assert expired["policy"] == "cn-default@1"
    # Nothing changed.
    db.session.expire_all()
    assert {name: {m: rows_of(m, case_id) for m in FIELD_MODELS}
            for name, case_id in c.items()} == before
    assert all(blobs.exists(k) for ks in keys.values() for k in ks)

    result = app.test_cli_runner().invoke(compliance_cli, ["purge"])
    assert result.exit_code == 0, result.output
    assert "purged 3 case(s)" in result.output and "anonymised 2 debtor(s)" in result.output
    assert "kept (legal_hold)" in result.output

    db.session.expire_all()
    for name in ("expired", "expired_sibling", "just_expired"):
        case = db.session.get(Case, c[name])
        assert case.purged_at is not None
        assert {m: rows_of(m, case.id) for m in FIELD_MODELS} == dict.fromkeys(FIELD_MODELS, 0)
        assert not any(blobs.exists(k) for k in keys[name]), name
        # The ledger stays: schedule, payments, receipts' amounts; the payer's name goes.
        assert rows_of(Instalment, case.id) == 12 and rows_of(Payment, case.id) == 1
        (receipt,) = db.session.scalars(select(FieldReceipt).where(FieldReceipt.case_id == case.id))
        assert receipt.amount_fen == 100_000 and receipt.payer_name == ""
        assert case.paid_fen == estate[name].paid_fen and case.contract_no
    for name in ("recent", "open", "held"):
        assert db.session.get(Case, c[name]).purged_at is None
        assert {m: rows_of(m, c[name]) for m in FIELD_MODELS} == before[name], name
        assert all(blobs.exists(k) for k in keys[name]), name
        (receipt,) = db.session.scalars(select(FieldReceipt).where(FieldReceipt.case_id == c[name]))
        assert receipt.payer_name == "张伟"
    for name in ("expired", "just_expired"):
        debtor = db.session.get(Debtor, estate[name].debtor_id)
        assert debtor.anonymised_at is not None and debtor.name == retention.ANONYMISED
        assert cipher.decrypt(debtor.national_id_cipher) == "" and debtor.mobile_phone is None
        assert not db.session.scalars(select(Contact).where(Contact.debtor_id == debtor.id)).all()
        assert not db.session.scalars(select(Address).where(Address.debtor_id == debtor.id)).all()
    kept = db.session.get(Debtor, estate["recent"].debtor_id)
    assert kept.anonymised_at is None and kept.name.startswith("Debtor ")
    assert len(kept.contacts) == 2 and len(kept.addresses) == 2

    runs = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "compliance.purge")
                              .order_by(AuditEvent.id)).all()
    assert [json.loads(r.detail)["dry_run"] for r in runs] == [True, False]
    assert sorted(json.loads(runs[1].detail)["purged_case_ids"]) == sorted(purge)

    again = dry_run(app)  # nothing left to do
    assert not again.purged and len(again.kept) == 3


@pytest.mark.rule("retention", preset="CN")
def test_a_case_is_purged_from_the_moment_its_period_ends_not_before(app, world):
    case = world.case()
    case = close(case, days_ago=0)
    closed = case.closed_at
    end = closed + timedelta(days=CN_DAYS)
    before = dry_run(app, end - timedelta(seconds=1))
    assert ids(before.kept) == {case.id: "within_retention"}
    assert "until" in before.kept[0].sentence
    at_end = dry_run(app, end)
    assert ids(at_end.purged) == {case.id: None}


@pytest.mark.rule("retention", preset="CN")
@pytest.mark.parametrize("days_ago, new_days", [(100, 30), (CN_DAYS + 70, 3 * 365)])
def test_a_policy_change_never_cuts_a_running_period(app, world, days_ago, new_days):
    """The period is the longer of the policy at the close and the policy now: a version
    shortened to 30 days after a close keeps the 730 it closed under; one lengthened to 3 years
    holds a case whose 730 days are over."""
    case = close(world.case(), days_ago=days_ago)
    changed = dataclasses.replace(PRESETS["CN"], name="cn-2027", retention_days=new_days)
    stored = store_version(db.session, "CN", changed, effective_from=utcnow() - timedelta(hours=1))
    db.session.commit()
    report = dry_run(app)
    assert ids(report.kept) == {case.id: "within_retention"}
    assert f"{max(CN_DAYS, new_days)} days" in report.kept[0].sentence
    assert report.kept[0].policy == ("cn-default@1" if new_days < CN_DAYS else stored.ref)


@pytest.mark.rule("retention", preset="US")
def test_a_us_case_is_kept_three_years(app, world):
    case = db.session.get(Case, world.case().id)
    case.jurisdiction = "US"
    db.session.commit()
    case = close(case, days_ago=CN_DAYS + 10)
    assert ids(dry_run(app).kept) == {case.id: "within_retention"}
    assert "us-fdcpa@1" in dry_run(app).kept[0].sentence
    assert ids(dry_run(app, utcnow() + timedelta(days=365)).purged) == {case.id: None}


@pytest.mark.rule("legal_hold", preset="CN")
def test_a_released_hold_lets_retention_run_again(app, world, client):
    legal = world.login(world.user(Role.LEGAL))
    case = close(world.case(), days_ago=CN_DAYS + 1)
    placed = client.post(f"/cases/{case.id}/legal-holds", headers=legal,
                         json={"kind": "asset_preservation", "reference": "(2026)沪01财保7号"})
    assert placed.status_code == 201, placed.get_json()
    assert ids(dry_run(app).kept) == {
        case.id: "legal_hold"}
    db.session.commit()
    released = client.post(f"/legal-holds/{placed.get_json()['id']}/release", headers=legal,
                           json={"note": "order lifted"})
    assert released.status_code == 200 and released.get_json()["active"] is False
    again = client.post(f"/legal-holds/{placed.get_json()['id']}/release", headers=legal, json={})
    assert again.status_code == 409
    assert ids(dry_run(app).purged) == {case.id: None}


def test_the_close_time_is_kept_when_a_case_closes_and_cleared_when_it_reopens(app, world):
    case = db.session.get(Case, world.case().id)
    assert case.closed_at is None
    case.status = CaseStatus.SETTLED
    db.session.commit()
    first = case.closed_at
    assert first is not None and utcnow() - first < timedelta(minutes=5)
    case.status = CaseStatus.WRITTEN_OFF  # still closed: the close time stays
    db.session.commit()
    assert case.closed_at == first
    case.status = CaseStatus.ACTIVE
    db.session.commit()
    assert case.closed_at is None


def real_run(app, at=None) -> retention.RetentionReport:
    report = retention.run(db.session, app.extensions["fieldvisit.blobs"],
                           app.extensions["fieldvisit.pii"], at or utcnow(), dry_run=False)
    db.session.commit()
    return report


@pytest.mark.rule("retention", preset="CN")
def test_a_purged_case_that_reopens_is_purged_again_once_its_new_period_ends(
        app, world, client):
    collector = world.user(Role.COLLECTOR, world.team())
    phone = Phone(client, world.login(collector))
    case = close(world.case(), days_ago=CN_DAYS + 1)
    # The debtor's other loan, still in collection, keeps their addresses for the new visits.
    db.session.get(Case, world.case().id).debtor_id = case.debtor_id
    db.session.commit()
    assert ids(real_run(app).purged) == {case.id: None}
    case = db.session.get(Case, case.id)
    assert case.purged_at is not None
    case.status = CaseStatus.ACTIVE  # the lender's file reopens it
    set_assignment(db.session, case, team_id=collector.team_id, collector_id=collector.id,
                   assigned_by_id=None, reason="reopened")
    db.session.commit()
    assert case.purged_at is None
    assert ids(dry_run(app).kept)[case.id] == "open"
    db.session.commit()
    d = {"case": case, "home": case.debtor.addresses[0], "vehicle": None}
    for kind, build in (("case_note", note), ("visit_report", visit)):
        assert phone.send(kind, build(d))["status"] == "applied"
    assert rows_of(CaseNote, case.id) == 1 and rows_of(VisitReport, case.id) == 1
    close(case, days_ago=CN_DAYS + 1)
    assert ids(real_run(app).purged) == {case.id: None}
    db.session.expire_all()
    assert rows_of(CaseNote, case.id) == 0 and rows_of(VisitReport, case.id) == 0


@pytest.mark.rule("legal_hold", preset="CN")
def test_a_hold_placed_during_a_purge_keeps_the_case(app, world):
    case = close(world.case(), days_ago=CN_DAYS + 1)
    vin = db.session.get(Case, case.id).collateral[0].vin
    placed, stop = hold_when_locked(db.session(), case.id, world.user(Role.LEGAL).id)
    try:
        report = real_run(app)
    finally:
        stop()
    assert placed == [case.id]
    assert ids(report.kept) == {case.id: "legal_hold"} and not report.purged
    assert "(2026)京01民初88号" in report.kept[0].sentence
    db.session.expire_all()
    assert db.session.get(Case, case.id).purged_at is None
    assert db.session.get(Case, case.id).collateral[0].vin == vin
    assert db.session.get(Debtor, case.debtor_id).anonymised_at is None


@pytest.mark.rule("legal_hold", preset="CN")
def test_a_hold_on_a_purged_case_is_refused(app, world, client):
    legal = world.login(world.user(Role.LEGAL))
    case = close(world.case(), days_ago=CN_DAYS + 1)
    real_run(app)
    refused = client.post(f"/cases/{case.id}/legal-holds", headers=legal,
                          json={"kind": "litigation", "reference": "(2026)粤0304民初1号"})
    assert refused.status_code == 409, refused.get_json()
    error = refused.get_json()["error"]
    assert "purged" in error["message"] and "case_id" in error["fields"]
    assert db.session.scalars(select(LegalHold)).all() == []


@pytest.mark.rule("retention", preset="CN")
@pytest.mark.parametrize("status", [ComplaintStatus.OPEN, ComplaintStatus.ASSIGNED])
def test_a_case_with_a_complaint_being_handled_is_not_purged(app, world, status):
    case = close(world.case(), days_ago=CN_DAYS + 1)
    staff = world.user(Role.SUPERVISOR)
    complaint = Complaint(case_id=case.id, received_at=utcnow(), channel=ComplaintChannel.PHONE,
                          complainant=Complainant.DEBTOR, summary="Called at night.",
                          category=ComplaintCategory.IMPROPER_HOURS, status=status,
                          assignee_id=staff.id, recorded_by_id=staff.id)
    db.session.add(complaint)
    db.session.commit()
    report = real_run(app)
    assert ids(report.kept) == {case.id: "open_complaint"} and not report.purged
    assert "complaint" in report.kept[0].sentence
    db.session.expire_all()
    assert db.session.get(Complaint, complaint.id) is not None
    assert db.session.get(Case, case.id).purged_at is None
    complaint = db.session.get(Complaint, complaint.id)
    complaint.status, complaint.closed_at, complaint.outcome = (
        ComplaintStatus.CLOSED, utcnow(), "Apologised.")
    db.session.commit()
    assert ids(real_run(app).purged) == {case.id: None}
