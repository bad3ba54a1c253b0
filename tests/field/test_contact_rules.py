"""Contacts and third parties: a debtor's friend is called only once the debtor is marked
unreachable (flagged otherwise, since calls are filed offline), a friend's phone is revealed
only then, nothing recorded with a third party carries an amount, and a contact who does not
know of the loan is never handed anything that shows it.

The factory's case has two contacts: the spouse, a guarantor who knows of the loan (a party to
it), and a friend, a reference who does not (a third party)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api.extensions import db
from api.models import (
    AuditEvent,
    ContactAttempt,
    FieldReceipt,
    NoticeServed,
    ReachabilityChange,
    RepaymentPromise,
    RuleRefusal,
    VisitReport,
)
from api.models.types import utcnow
from api.services.casefile.assignment import set_assignment
from api.services.compliance.presets import PRESETS
from tests.field.filing_records import case_document
from tests.field.test_field_work import Phone, photo, promise, report

CN = PRESETS["CN"]
PURPOSE = {"purpose_code": "litigation",
           "purpose": "Statement of claim to the Futian District People's Court"}
FIGURES = {"overdue_fen", "outstanding_fen", "total_due_fen", "principal_fen", "paid_fen",
           "amount_fen", "schedule", "payments", "figures"}


@pytest.fixture
def desk(world, client, use_policy):
    """Team A: collector Alice holds the case, a supervisor; team B: a collector and a
    supervisor; legal staff and an administrator. The CN preset is the stored policy."""
    use_policy(CN)
    team_a, team_b = world.team("A"), world.team("B")
    people = {
        "alice": world.user("collector", team_a),
        "supervisor": world.user("supervisor", team_a),
        "outsider": world.user("collector", team_b),
        "other_supervisor": world.user("supervisor", team_b),
        "legal": world.user("legal"),
        "admin": world.user("admin"),
    }
    case = world.case(collector=people["alice"], team=team_a)
    spouse, friend = case.debtor.contacts
    headers = {name: world.login(user) for name, user in people.items()}
    return {"case": case, "spouse": spouse, "friend": friend, "people": people,
            "headers": headers, "phone": Phone(client, headers["alice"]), "client": client}


def attempt(case_id, contact_id=None, at="2026-11-20T11:00:00+08:00", **extra):
    return {"id": str(uuid.uuid4()), "case_id": case_id, "channel": "call",
            "outcome": "no_answer", "occurred_at": at, "contact_id": contact_id, **extra}


def mark(case_id, unreachable=True, **extra):
    body = {"id": str(uuid.uuid4()), "case_id": case_id, "unreachable": unreachable}
    if unreachable:
        body["reason"] = "phones_off"
    return {**body, **extra}


def put_reachability(desk, who, body, case=None):
    case = case or desk["case"]
    body = {k: v for k, v in body.items() if k != "case_id"}
    return desk["client"].put(f"/cases/{case.id}/reachability", headers=desk["headers"][who],
                              json=body)


def reveal(desk, who="legal", **extra):
    return desk["client"].post(f"/cases/{desk['case'].id}/reveal", headers=desk["headers"][who],
                               json={**PURPOSE, **extra})


def breach(response, rule):
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert (error["code"], error["rule"]) == ("rule_breach", rule)
    assert (error["policy"], error["policy_version"]) == ("cn-default", 2)  # desk's use_policy
    return error


# --------------------------------------------------------------------- the debtor's reachability


def test_the_collector_marks_the_debtor_unreachable_from_the_phone_and_a_supervisor_clears_it(
        desk, app):
    case, phone = desk["case"], desk["phone"]
    got = desk["client"].get(f"/cases/{case.id}/reachability", headers=desk["headers"]["alice"])
    assert got.status_code == 200
    assert got.get_json()["state"]["unreachable"] is False and got.get_json()["items"] == []

    marked = phone.send("reachability", mark(case.id, since="2026-11-18T09:00:00+08:00",
                                             note="Both phones off since Wednesday."))
    assert marked["status"] == "applied", marked
    doc = case_document(app, case.id)["reachability"]
    assert (doc["unreachable"], doc["reason"]) == (True, "phones_off")
    assert doc["since"].isoformat() == "2026-11-18T01:00:00+00:00"
    assert doc["changed_by_id"] == desk["people"]["alice"].id

    cleared = put_reachability(desk, "supervisor", {"unreachable": False,
                                                    "client_time": "2026-11-21T09:00:00+08:00"})
    assert cleared.status_code == 200, cleared.get_json()
    body = cleared.get_json()
    assert body["state"]["unreachable"] is False and body["state"]["reason"] is None
    assert [(i["unreachable"], i["changed_by_name"]) for i in body["items"]] == [
        (False, desk["people"]["supervisor"].full_name),
        (True, desk["people"]["alice"].full_name),
    ]
    assert body["page"]["total"] == 2
    assert case_document(app, case.id)["reachability"]["unreachable"] is False
    reads = db.session.scalar(select(func.count()).where(
        AuditEvent.action == "case.reachability", AuditEvent.case_id == case.id))
    assert reads == 2  # the read and the answer to the change


@pytest.mark.parametrize("body, field", [
    ({"unreachable": True}, "reason"),
    ({"unreachable": True, "reason": "on_holiday"}, "reason"),
    ({"unreachable": False, "reason": "phones_off"}, "reason"),
    ({"unreachable": True, "reason": "moved_away",
      "since": "2026-11-21T10:00:00+08:00", "client_time": "2026-11-20T10:00:00+08:00"}, "since"),
    ({"reason": "moved_away"}, "unreachable"),
])
def test_a_marking_that_makes_no_sense_is_refused_naming_the_field(desk, body, field):
    response = put_reachability(desk, "alice", body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(ReachabilityChange)) == 0


@pytest.mark.rule("contacts_when_unreachable", preset="CN")
@pytest.mark.parametrize("who, status", [
    ("outsider", 404), ("other_supervisor", 404), ("legal", 403), ("admin", 403),
])
def test_only_the_holder_and_the_teams_supervisors_mark_it(desk, who, status):
    response = put_reachability(desk, who, mark(desk["case"].id))
    assert response.status_code == status, response.get_json()
    if who in ("outsider", "other_supervisor"):
        read = desk["client"].get(f"/cases/{desk['case'].id}/reachability",
                                  headers=desk["headers"][who])
        assert read.status_code == 404
    outsider = Phone(desk["client"], desk["headers"]["outsider"])
    pushed = outsider.send("reachability", mark(desk["case"].id))
    assert (pushed["status"], pushed["code"]) == ("rejected", "not_found")
    assert "payload.case_id" in pushed["fields"]
    assert db.session.scalar(select(func.count()).select_from(ReachabilityChange)) == 0


def test_a_phone_that_lost_the_case_cannot_mark_it(desk, world):
    case, alice = desk["case"], desk["people"]["alice"]
    bob = world.user("collector", alice.team)
    set_assignment(db.session, db.session.merge(case), team_id=bob.team_id, collector_id=bob.id,
                   assigned_by_id=None, reason="moved to Bob")
    db.session.commit()
    pushed = desk["phone"].send("reachability", mark(case.id))  # still in Alice's outbox
    assert (pushed["status"], pushed["code"]) == ("rejected", "forbidden"), pushed
    assert db.session.scalar(select(func.count()).select_from(ReachabilityChange)) == 0


def test_lost_contact_is_suggested_never_marked(desk):
    case, phone = desk["case"], desk["phone"]
    now = utcnow()
    for days in (3, 2, 1):
        at = (now - timedelta(days=days)).isoformat()
        assert phone.send("contact_attempt", attempt(case.id, at=at, outcome="powered_off"))[
            "status"] == "applied"
    body = desk["client"].get(f"/cases/{case.id}/reachability",
                              headers=desk["headers"]["supervisor"]).get_json()
    assert body["state"]["unreachable"] is False
    assert body["suggestion"]["rule"] == "contact_lost"
    assert "powered_off" in body["suggestion"]["evidence"]
    assert db.session.scalar(select(func.count()).select_from(ReachabilityChange)) == 0


# ----------------------------------------------------------- contacts only when unreachable


@pytest.mark.rule("contacts_when_unreachable", preset="CN")
def test_a_call_to_a_third_party_is_flagged_until_the_debtor_is_marked_unreachable(desk):
    case, phone = desk["case"], desk["phone"]
    friend, spouse = desk["friend"].id, desk["spouse"].id

    def flagged(payload) -> bool:
        result = phone.send("contact_attempt", payload)
        assert result["status"] == "applied", result  # flagged, never refused
        return "contact_while_reachable" in result["flags"]

    assert flagged(attempt(case.id, friend))
    assert not flagged(attempt(case.id, spouse))  # a guarantor is a party to the loan
    assert not flagged(attempt(case.id))  # the debtor

    assert phone.send("reachability", mark(case.id))["status"] == "applied"  # at 10:00
    assert not flagged(attempt(case.id, friend))
    assert flagged(attempt(case.id, friend, at="2026-11-20T09:59:59+08:00"))  # at its moment

    cleared = put_reachability(desk, "supervisor", {"unreachable": False,
                                                    "client_time": "2026-11-20T12:00:00+08:00"})
    assert cleared.status_code == 200
    online = desk["client"].post(
        f"/cases/{case.id}/contact-attempts", headers=desk["headers"]["alice"],
        json={k: v for k, v in attempt(case.id, friend, at="2026-11-20T12:30:00+08:00").items()
              if k != "case_id"})
    assert online.status_code == 201
    assert "contact_while_reachable" in online.get_json()["flags"]
    assert db.session.scalar(select(func.count()).select_from(ContactAttempt)) == 6
    flagged_rows = db.session.scalar(select(func.count()).where(
        ContactAttempt.flags.like('%"contact_while_reachable"%')))
    assert flagged_rows == 3  # kept on the record, for review
    timeline = desk["client"].get(f"/cases/{case.id}/timeline",
                                  headers=desk["headers"]["supervisor"]).get_json()
    assert sum("contact_while_reachable" in i["flags"] for i in timeline["items"]) == 3


@pytest.mark.rule("contacts_when_unreachable", preset="CN")
def test_a_friends_phone_is_revealed_only_once_the_debtor_is_marked_unreachable(desk):
    refused = reveal(desk, include_third_parties=True)
    error = breach(refused, "contacts_when_unreachable")
    assert "include_third_parties" in error["fields"]
    assert desk["friend"].name not in error["message"]  # refusals are kept: no names
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "case.reveal")) == 0

    plain = reveal(desk)
    assert plain.status_code == 200
    shown = {c["id"]: c for c in plain.get_json()["contacts"]}
    assert shown[desk["spouse"].id]["phone"] == "13987654321"  # a guarantor: a party
    assert shown[desk["friend"].id]["phone_masked"] is True
    assert shown[desk["friend"].id]["phone"] != "13711112222"

    assert put_reachability(desk, "supervisor", mark(desk["case"].id)).status_code == 200
    allowed = reveal(desk, include_third_parties=True)
    assert allowed.status_code == 200, allowed.get_json()
    shown = {c["id"]: c for c in allowed.get_json()["contacts"]}
    assert shown[desk["friend"].id]["phone"] == "13711112222"
    assert shown[desk["friend"].id]["phone_masked"] is False
    row = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case.reveal")
                             .order_by(AuditEvent.id.desc())).first()
    assert json.loads(row.detail)["third_parties"] is True


@pytest.mark.rule("contacts_when_unreachable", preset="CN")
def test_with_the_rule_switched_off_friends_are_called_and_revealed_freely(desk, use_policy):
    use_policy(dataclasses.replace(CN, contacts_only_when_unreachable=False))
    case = desk["case"]
    result = desk["phone"].send("contact_attempt", attempt(case.id, desk["friend"].id))
    assert result["status"] == "applied" and "contact_while_reachable" not in result["flags"]
    allowed = reveal(desk, include_third_parties=True)
    assert allowed.status_code == 200, allowed.get_json()


@pytest.mark.rule("contacts_when_unreachable", preset="CN")
@pytest.mark.parametrize("who", ["alice", "supervisor", "outsider", "other_supervisor"])
def test_no_one_but_legal_staff_and_admins_reveals(desk, who):
    assert put_reachability(desk, "supervisor", mark(desk["case"].id)).status_code == 200
    assert reveal(desk, who, include_third_parties=True).status_code == 403


# ----------------------------------------------------------- no amounts with third parties


def visit(desk, **extra):
    return report(desk["case"].id, None, files=[photo("site")], **extra)


@pytest.mark.rule("third_party_no_amounts", preset="CN")
@pytest.mark.parametrize("fields, amounts", [
    ({"met": "other", "met_contact_id": "friend"}, {"promised_fen": 500_000}),
    ({"met": "other", "met_contact_id": "friend"}, {"promised_fen": None, "collected_fen": 1}),
    ({"met": "neighbour"}, {"promised_fen": None, "collected_fen": 200_000}),
    ({"met": "guarantor", "met_contact_id": "friend"}, {"promised_fen": 0}),
])
def test_a_visit_that_met_a_third_party_records_no_amount(desk, fields, amounts):
    """Kept, as evidence of what happened at the door, and flagged for review."""
    fields = {k: desk[v].id if k == "met_contact_id" else v for k, v in fields.items()}
    payload = visit(desk, **fields, **amounts)
    pushed = desk["phone"].send("visit_report", payload)
    assert pushed["status"] == "applied" and "third_party_amount" in pushed["flags"], pushed
    online = desk["client"].post(f"/cases/{desk['case'].id}/visits",
                                 headers=desk["headers"]["alice"],
                                 json={k: v for k, v in visit(desk, **fields, **amounts).items()
                                       if k != "case_id"})
    assert online.status_code == 201, online.get_json()
    assert "third_party_amount" in online.get_json()["flags"]
    stored = db.session.scalars(select(VisitReport)).all()
    assert len(stored) == 2 and all("third_party_amount" in r.flags for r in stored)
    assert {r.policy_ref for r in stored} == {"cn-default@2"}  # desk's use_policy


@pytest.mark.rule("third_party_no_amounts", preset="CN")
def test_a_visit_with_a_guarantor_or_a_third_party_without_amounts_is_filed(desk):
    phone = desk["phone"]
    with_spouse = visit(desk, met="spouse", met_contact_id=desk["spouse"].id)
    filed = phone.send("visit_report", with_spouse)
    assert filed["status"] == "applied" and "third_party_amount" not in filed["flags"]
    no_amount = visit(desk, met="other", met_contact_id=desk["friend"].id, promised_fen=None,
                      outcome="debtor_absent")
    filed = phone.send("visit_report", no_amount)
    assert filed["status"] == "applied" and "third_party_amount" not in filed["flags"]


@pytest.mark.rule("third_party_no_amounts", preset="CN")
def test_a_promise_or_receipt_is_never_a_third_partys(desk):
    case, phone, friend, spouse = desk["case"], desk["phone"], desk["friend"], desk["spouse"]
    signed = phone.send("repayment_promise", promise(case.id, signer_contact_id=friend.id))
    assert (signed["status"], signed["rule"]) == ("rejected", "third_party_no_amounts")
    assert "payload.signer_contact_id" in signed["fields"]
    receipt = {"id": str(uuid.uuid4()), "case_id": case.id, "receipt_no": "R-000777",
               "amount_fen": 100_000, "method": "cash", "payer_name": friend.name,
               "payer_contact_id": friend.id, "received_at": "2026-11-20T10:40:00+08:00",
               "files": [photo("receipt")]}
    paid = phone.send("field_receipt", receipt)
    assert (paid["status"], paid["rule"]) == ("rejected", "third_party_no_amounts")
    assert db.session.scalar(select(func.count()).select_from(RepaymentPromise)) == 0
    assert db.session.scalar(select(func.count()).select_from(FieldReceipt)) == 0
    # A phone's refusals are kept like any other, naming no one.
    kept = db.session.scalars(select(RuleRefusal).order_by(RuleRefusal.id)).all()
    assert [(r.operation, r.rule) for r in kept] == [
        ("push repayment_promise", "third_party_no_amounts"),
        ("push field_receipt", "third_party_no_amounts")]
    assert not any(friend.name in r.sentence for r in kept)

    by_guarantor = phone.send("repayment_promise", promise(case.id, signer_contact_id=spouse.id))
    assert by_guarantor["status"] == "applied", by_guarantor
    stored = db.session.get(RepaymentPromise, by_guarantor["record_id"])
    assert stored.signer_contact_id == spouse.id


# --------------------------------------------------------------------- uninformed contacts


def _no_loan_figures(contact_view: dict) -> None:
    assert not (set(contact_view) & FIGURES)
    assert not [k for k in contact_view if k.endswith("_fen")]


@pytest.mark.rule("uninformed_contact_no_loan_data", preset="CN")
def test_the_case_file_and_the_phone_mark_the_uninformed_friend_and_show_no_figures_on_them(
        desk, app):
    case = desk["case"]
    for who in ("alice", "supervisor", "legal"):
        detail = desk["client"].get(f"/cases/{case.id}", headers=desk["headers"][who]).get_json()
        views = {c["id"]: c for c in detail["contacts"]}
        friend = views[desk["friend"].id]
        assert (friend["knows_of_loan"], friend["may_discuss_debt"], friend["third_party"]) == (
            False, False, True)
        assert views[desk["spouse"].id]["third_party"] is False
        for view in views.values():
            _no_loan_figures(view)
    desk["phone"].send("case_note", {"id": str(uuid.uuid4()), "case_id": case.id, "text": "x"})
    doc = case_document(app, case.id)
    friend = next(c for c in doc["contacts"] if c["id"] == desk["friend"].id)
    assert (friend["may_discuss_debt"], friend["third_party"]) == (False, True)
    for view in doc["contacts"]:
        _no_loan_figures(view)


@pytest.mark.rule("contacts_when_unreachable", preset="CN")
def test_the_phone_gets_a_third_partys_number_only_once_the_debtor_is_unreachable(desk, app):
    case, friend, spouse = desk["case"], desk["friend"], desk["spouse"]
    desk["phone"].send("case_note", {"id": str(uuid.uuid4()), "case_id": case.id, "text": "x"})
    phones = {c["id"]: c["phone"] for c in case_document(app, case.id)["contacts"]}
    assert phones[spouse.id] == spouse.phone  # a guarantor: a party to the loan
    assert phones[friend.id] != friend.phone and friend.phone[-4:] in phones[friend.id]
    assert desk["phone"].send("reachability", mark(case.id))["status"] == "applied"
    phones = {c["id"]: c["phone"] for c in case_document(app, case.id)["contacts"]}
    assert phones[friend.id] == friend.phone


@pytest.mark.rule("uninformed_contact_no_loan_data", preset="CN")
def test_no_notice_promise_or_receipt_is_handed_to_a_contact_who_does_not_know(desk):
    case, phone, friend, spouse = desk["case"], desk["phone"], desk["friend"], desk["spouse"]
    notice = {"id": str(uuid.uuid4()), "case_id": case.id, "notice_type": "overdue_notice",
              "served_to_name": friend.name, "served_to_role": "other",
              "served_to_contact_id": friend.id, "method": "in_person",
              "served_at": "2026-11-20T10:45:00+08:00", "files": [photo("notice")]}
    served = phone.send("notice_served", notice)
    assert (served["status"], served["rule"]) == ("rejected", "uninformed_contact_no_loan_data")
    assert "payload.served_to_contact_id" in served["fields"]
    online = desk["client"].post(f"/cases/{case.id}/notices", headers=desk["headers"]["alice"],
                                 json={**notice, "id": str(uuid.uuid4()), "case_id": None})
    assert breach(online, "uninformed_contact_no_loan_data")
    assert db.session.scalar(select(func.count()).select_from(NoticeServed)) == 0

    spouse_row = db.session.merge(spouse)
    spouse_row.knows_of_loan = False  # a guarantor the lender never told (bad data)
    db.session.commit()
    signed = phone.send("repayment_promise", promise(case.id, signer_contact_id=spouse.id))
    assert (signed["status"], signed["rule"]) == ("rejected", "uninformed_contact_no_loan_data")

    spouse_row.knows_of_loan = True
    db.session.commit()
    to_spouse = {**notice, "id": str(uuid.uuid4()), "served_to_contact_id": spouse.id,
                 "served_to_role": "guarantor", "served_to_name": spouse.name,
                 "files": [photo("notice")]}
    assert phone.send("notice_served", to_spouse)["status"] == "applied"
