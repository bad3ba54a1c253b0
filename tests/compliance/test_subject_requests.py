"""A debtor's requests under PIPL: the export of everything held on them (parsed and checked
against the database), a correction through review, and an erasure refused under a legal hold
or a retention duty and performed where none applies. Each request is logged with its
outcome."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from api.extensions import db
from api.models import (
    AuditEvent,
    Case,
    CaseStatus,
    Debtor,
    EvidenceFile,
    FieldProposal,
    FieldReceipt,
    Role,
    SubjectRequest,
    VisitReport,
)
from api.services.compliance import subject_requests as requests
from api.services.compliance.subject_requests import FIELD_RECORDS
from api.services.exceptions import InvalidInput
from tests.compliance.stories import blob_keys, close, hold_when_locked, work_the_case
from tests.field.test_field_work import Phone

CN_DAYS = 730


@pytest.fixture
def desk(world, client):
    """A team with a collector and a supervisor, and the legal desk and an administrator."""
    team = world.team()
    collector = world.user(Role.COLLECTOR, team)
    people = {"collector": collector, "supervisor": world.user(Role.SUPERVISOR, team),
              "legal": world.user(Role.LEGAL), "admin": world.user(Role.ADMIN)}
    headers = {role: world.login(user) for role, user in people.items()}
    return {"team": team, "people": people, "headers": headers,
            "phone": Phone(client, headers["collector"])}


def file(client, headers, **body):
    body = {"requested_by": "the debtor, in person", "received_at": "2026-12-01T09:30:00+08:00",
            **body}
    return client.post("/subject-requests", headers=headers, json=body)


@pytest.mark.rule("subject_export", preset="CN")
def test_a_debtors_export_holds_what_the_database_holds_with_who_read_it(
        app, world, client, desk):
    case = world.case(collector=desk["people"]["collector"])
    filed = work_the_case(app, desk["phone"], case)
    other = world.case(collector=desk["people"]["collector"])  # someone else's data
    read = client.get(f"/cases/{case.id}", headers=desk["headers"]["collector"])
    assert read.status_code == 200
    assert client.get("/cases", headers=desk["headers"]["collector"]).status_code == 200
    legal = desk["headers"]["legal"]

    created = file(client, legal, kind="export", case_id=case.id)
    assert created.status_code == 201, created.get_json()
    request = created.get_json()
    assert request["status"] == "done" and request["debtor_id"] == case.debtor_id
    response = client.get(f"/subject-requests/{request['id']}/export", headers=legal)
    assert response.status_code == 200, response.get_json()
    export = json.loads(response.get_data(as_text=True))

    db.session.expire_all()
    debtor = db.session.get(Debtor, case.debtor_id)
    cipher = app.extensions["fieldvisit.pii"]
    assert export["format"] == "fieldvisit.subject-export/1"
    assert export["debtor"]["name"] == debtor.name
    assert export["debtor"]["national_id"] == cipher.decrypt(debtor.national_id_cipher)
    assert export["debtor"]["mobile_phone"] == debtor.mobile_phone
    assert "national_id_cipher" not in export["debtor"]
    assert [(c["id"], c["name"], c["phone"]) for c in export["contacts"]] == [
        (c.id, c.name, c.phone) for c in debtor.contacts]
    assert [a["text"] for a in export["addresses"]] == [a.text for a in debtor.addresses]
    (exported,) = export["cases"]
    stored = db.session.get(Case, case.id)
    assert exported["contract_no"] == stored.contract_no
    assert [(i["seq"], i["amount_fen"]) for i in exported["schedule"]] == [
        (i.seq, i.amount_fen) for i in stored.instalments]
    assert exported["collateral"][0]["vin"] == stored.collateral[0].vin
    for name, model in FIELD_RECORDS.items():
        in_db = set(db.session.scalars(select(model.id).where(model.case_id == case.id)))
        assert {r["id"] for r in exported["field_records"][name]} == in_db, name
    records = exported["field_records"]
    assert {r["id"] for r in records["visit_reports"]} == {filed["visit_report"]}
    (visit,) = records["visit_reports"]
    assert visit["flags"] == json.loads(db.session.get(VisitReport, visit["id"]).flags)
    (receipt,) = records["field_receipts"]
    assert receipt["amount_fen"] == db.session.get(FieldReceipt, receipt["id"]).amount_fen
    (promise,) = records["repayment_promises"]
    assert promise["signer_id"] == "440308199901101512" and "signer_id_cipher" not in promise
    files = {f.id: f.sha256 for f in db.session.scalars(
        select(EvidenceFile).where(EvidenceFile.case_id == case.id))}
    assert {f["id"]: f["sha256"] for f in exported["evidence_files"]} == files and files
    # Who read it: the collector's read of the case, and this export itself.
    reads = export["reads"]
    assert any(r["action"] == "case.read" and r["actor_id"] == desk["people"]["collector"].id
               and r["device_id"] == desk["headers"]["collector"]["X-Device-Id"] for r in reads)
    listed = [r for r in reads if r["action"] == "case.list"]
    assert listed and all(r["detail"]["case_ids"] == [case.id] for r in listed)
    exports = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "subject_request.export_read")).all()
    assert len(exports) == 1 and exports[0].actor_id == desk["people"]["legal"].id
    assert exports[0].id in {r["id"] for r in reads}
    assert all(r["case_id"] in (None, case.id) for r in reads)
    text = response.get_data(as_text=True)
    assert other.contract_no not in text and other.debtor.name not in text


@pytest.mark.rule("subject_correction", preset="CN")
def test_a_correction_goes_through_review_and_the_request_records_the_outcome(
        world, client, desk):
    case = world.case(collector=desk["people"]["collector"])
    legal, supervisor = desk["headers"]["legal"], desk["headers"]["supervisor"]
    created = file(client, legal, kind="correction", debtor_id=case.debtor_id,
                   correction={"kind": "phone", "data": {"phone": "13900001111"}})
    assert created.status_code == 201, created.get_json()
    request = created.get_json()
    assert request["status"] == "in_review" and request["proposal_id"]
    assert db.session.get(Debtor, case.debtor_id).mobile_phone == "13812345678"  # not yet

    proposal = client.get(f"/proposals/{request['proposal_id']}", headers=supervisor)
    assert proposal.status_code == 200 and proposal.get_json()["case_id"] == case.id
    refused = client.post(f"/proposals/{request['proposal_id']}/review", headers=legal,
                          json={"decision": "accept"})
    assert refused.status_code == 403  # legal staff file requests; supervisors review
    reviewed = client.post(f"/proposals/{request['proposal_id']}/review", headers=supervisor,
                           json={"decision": "accept", "note": "checked with the debtor"})
    assert reviewed.status_code == 200, reviewed.get_json()

    db.session.expire_all()
    assert db.session.get(Debtor, case.debtor_id).mobile_phone == "13900001111"
    done = client.get(f"/subject-requests/{request['id']}", headers=legal).get_json()
    assert done["status"] == "done" and "checked with the debtor" in done["outcome"]

    second = file(client, legal, kind="correction", case_id=case.id,
                  correction={"kind": "address", "data": {"kind": "home", "text": "Nowhere"}})
    proposal_id = second.get_json()["proposal_id"]
    client.post(f"/proposals/{proposal_id}/review", headers=supervisor,
                json={"decision": "reject", "note": "no such address"})
    rejected = client.get(f"/subject-requests/{second.get_json()['id']}", headers=legal)
    assert rejected.get_json()["status"] == "refused"
    assert db.session.get(FieldProposal, proposal_id).status.value == "rejected"


def test_a_correction_says_what_to_correct_and_names_the_field(world, client, desk):
    case = world.case()
    legal = desk["headers"]["legal"]
    missing = file(client, legal, kind="correction", debtor_id=case.debtor_id)
    assert missing.status_code == 422 and "correction" in missing.get_json()["error"]["fields"]
    bad = file(client, legal, kind="correction", debtor_id=case.debtor_id,
               correction={"kind": "phone", "data": {"phone": "not a phone"}})
    assert bad.status_code == 422 and "correction.data.phone" in bad.get_json()["error"]["fields"]
    nobody = file(client, legal, kind="export")
    assert nobody.status_code == 422 and "debtor_id" in nobody.get_json()["error"]["fields"]
    assert file(client, legal, kind="export", debtor_id=2**40).status_code == 404
    assert db.session.scalars(select(SubjectRequest)).all() == []  # nothing half-saved


@pytest.mark.rule("subject_erasure", preset="CN")
@pytest.mark.rule("legal_hold", preset="CN")
def test_erasure_is_refused_under_a_hold_and_performed_once_it_is_released(
        app, world, client, desk):
    case = world.case(collector=desk["people"]["collector"])
    work_the_case(app, desk["phone"], case)
    keys = blob_keys(case.id)
    close(case, days_ago=CN_DAYS + 30)
    legal = desk["headers"]["legal"]
    hold = client.post(f"/cases/{case.id}/legal-holds", headers=legal,
                       json={"kind": "litigation", "reference": "(2026)粤0304民初9号"})
    assert hold.status_code == 201

    refused = file(client, legal, kind="erasure", debtor_id=case.debtor_id)
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "rule_breach" and error["rule"] == "legal_hold"
    assert error["policy"] == "cn-default" and "(2026)粤0304民初9号" in error["message"]
    (logged,) = db.session.scalars(select(SubjectRequest)).all()
    assert logged.status.value == "refused" and logged.refused_rule == "legal_hold"
    blobs = app.extensions["fieldvisit.blobs"]
    assert all(blobs.exists(k) for k in keys)
    assert db.session.get(Debtor, case.debtor_id).anonymised_at is None

    client.post(f"/legal-holds/{hold.get_json()['id']}/release", headers=legal, json={})
    erased = file(client, legal, kind="erasure", debtor_id=case.debtor_id)
    assert erased.status_code == 201, erased.get_json()
    assert erased.get_json()["status"] == "done"
    db.session.expire_all()
    debtor = db.session.get(Debtor, case.debtor_id)
    assert debtor.anonymised_at is not None and not debtor.contacts and not debtor.addresses
    assert not any(blobs.exists(k) for k in keys)
    assert db.session.scalars(select(VisitReport).where(VisitReport.case_id == case.id)).all() == []
    assert db.session.get(Case, case.id).purged_at is not None
    listed = client.get("/subject-requests?kind=erasure", headers=legal).get_json()
    assert [r["status"] for r in listed["items"]] == ["done", "refused"]


@pytest.mark.rule("subject_erasure", preset="CN")
@pytest.mark.rule("retention", preset="CN")
def test_erasure_is_refused_while_a_retention_duty_runs_unless_nothing_was_collected(
        app, world, client, desk):
    legal = desk["headers"]["legal"]
    open_case = world.case(collector=desk["people"]["collector"])
    work_the_case(app, desk["phone"], open_case)
    refused = file(client, legal, kind="erasure", case_id=open_case.id)
    assert refused.status_code == 422 and refused.get_json()["error"]["rule"] == "retention"
    assert "kept while it is in collection" in refused.get_json()["error"]["message"]

    close(open_case, days_ago=10)
    within = file(client, legal, kind="erasure", case_id=open_case.id)
    error = within.get_json()["error"]
    assert within.status_code == 422 and error["rule"] == "retention"
    assert "cannot be erased before then" in error["message"]

    never_worked = close(world.case(), days_ago=10, status=CaseStatus.WRITTEN_OFF)
    erased = file(client, legal, kind="erasure", case_id=never_worked.id)
    assert erased.status_code == 201, erased.get_json()
    db.session.expire_all()
    assert db.session.get(Debtor, never_worked.debtor_id).anonymised_at is not None
    outcomes = db.session.scalars(select(SubjectRequest.status).order_by(SubjectRequest.id))
    assert [s.value for s in outcomes] == ["refused", "refused", "done"]


@pytest.mark.rule("subject_export", preset="CN")
@pytest.mark.rule("legal_hold", preset="CN")
def test_only_legal_staff_and_administrators_handle_requests_and_holds(world, client, desk):
    case = world.case(collector=desk["people"]["collector"])
    legal = desk["headers"]["legal"]
    hold = client.post(f"/cases/{case.id}/legal-holds", headers=legal,
                       json={"kind": "litigation", "reference": "A-1"}).get_json()
    request = file(client, legal, kind="export", case_id=case.id).get_json()
    for role in ("collector", "supervisor"):
        headers = desk["headers"][role]
        assert file(client, headers, kind="export", case_id=case.id).status_code == 403
        assert client.get(f"/subject-requests/{request['id']}/export",
                          headers=headers).status_code == 403
        assert client.get("/legal-holds", headers=headers).status_code == 403
        assert client.post(f"/cases/{case.id}/legal-holds", headers=headers,
                           json={"kind": "litigation", "reference": "X"}).status_code == 403
        assert client.post(f"/legal-holds/{hold['id']}/release", headers=headers,
                           json={}).status_code == 403
    admin = desk["headers"]["admin"]
    assert client.get(f"/subject-requests/{2**40}", headers=admin).status_code == 404
    assert client.post(f"/legal-holds/{2**40}/release", headers=admin, json={}).status_code == 404
    assert client.post(f"/cases/{2**40}/legal-holds", headers=admin,
                       json={"kind": "litigation", "reference": "X"}).status_code == 404
    listed = client.get(f"/legal-holds?case_id={case.id}&active=true", headers=admin).get_json()
    assert [h["id"] for h in listed["items"]] == [hold["id"]] and listed["page"]["total"] == 1


@pytest.mark.rule("subject_correction", preset="CN")
def test_a_correction_for_a_debtor_with_no_case_or_a_request_naming_nobody_is_refused(
        app, world, client, desk):
    legal = desk["headers"]["legal"]
    keeper, caseless = world.case(), world.case()
    debtor_id = caseless.debtor_id
    db.session.get(Case, caseless.id).debtor_id = keeper.debtor_id  # the loan moved away
    db.session.commit()
    nothing = file(client, legal, kind="correction", debtor_id=debtor_id,
                   correction={"kind": "phone", "data": {"phone": "13800001111"}})
    assert nothing.status_code == 422, nothing.get_json()
    assert "debtor_id" in nothing.get_json()["error"]["fields"]
    nobody = file(client, legal, kind="export")
    assert set(nobody.get_json()["error"]["fields"]) >= {"debtor_id", "case_id"}
    with pytest.raises(InvalidInput) as refused:  # the service says so too, not "no such debtor"
        requests.subject_of(db.session, None, None)
    assert set(refused.value.fields) == {"debtor_id", "case_id"}
    db.session.rollback()
    assert db.session.scalars(select(SubjectRequest)).all() == []
    assert db.session.scalars(select(FieldProposal)).all() == []


@pytest.mark.rule("subject_erasure", preset="CN")
def test_an_anonymised_debtors_requests_keep_their_outcome_but_not_who_asked(
        world, client, desk):
    legal = desk["headers"]["legal"]
    case = close(world.case(), days_ago=10, status=CaseStatus.WRITTEN_OFF)  # never worked
    exported = file(client, legal, kind="export", case_id=case.id,
                    requested_by="律师 王芳 (for 张伟)", note="Called from 13812345678")
    assert exported.status_code == 201
    erased = file(client, legal, kind="erasure", case_id=case.id, requested_by="张伟",
                  note="Wants everything gone")
    assert erased.status_code == 201, erased.get_json()
    db.session.expire_all()
    logged = db.session.scalars(select(SubjectRequest).order_by(SubjectRequest.id)).all()
    assert [(r.kind.value, r.status.value) for r in logged] == [("export", "done"),
                                                                 ("erasure", "done")]
    assert all(r.outcome and r.debtor_id == case.debtor_id for r in logged)
    assert [(r.requested_by, r.note) for r in logged] == [("(anonymised)", None)] * 2


@pytest.mark.rule("subject_erasure", preset="CN")
@pytest.mark.rule("legal_hold", preset="CN")
def test_a_hold_placed_while_an_erasure_runs_refuses_it(app, world, client, desk):
    legal = desk["headers"]["legal"]
    case = close(world.case(), days_ago=10, status=CaseStatus.WRITTEN_OFF)
    placed, stop = hold_when_locked(db.session(), case.id, desk["people"]["legal"].id)
    try:
        refused = file(client, legal, kind="erasure", case_id=case.id)
    finally:
        stop()
    assert placed == [case.id]
    assert refused.status_code == 422 and refused.get_json()["error"]["rule"] == "legal_hold"
    db.session.expire_all()
    assert db.session.get(Debtor, case.debtor_id).anonymised_at is None
    assert db.session.get(Case, case.id).purged_at is None
