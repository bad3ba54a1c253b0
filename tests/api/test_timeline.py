"""A case's timeline: a collector works a case for two days, the lender reports a payment, the
supervisor and legal staff read back what happened, in order, and nobody else can."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

import pytest
from sqlalchemy import event, select

from api.extensions import db
from api.models import AuditEvent, Collateral
from schemas.timeline import SUMMARY_KEYS
from tests.field.conftest import finish_jobs
from tests.field.test_field_work import HOME, photo, promise, report

NATIONAL_ID = "440308199901101512"  # the promise signer's, pushed with the promise
PROPOSED_PHONE = "13600001111"


class Phone:
    """Alice's phone: numbers its mutations and stamps each with the time it was made."""

    def __init__(self, client, headers):
        self.client, self.headers, self.next_id = client, headers, 1

    def send(self, type_, payload, client_time="2026-11-20T10:00:00+08:00"):
        response = self.client.post("/sync/push", headers=self.headers, json={
            "device_id": self.headers["X-Device-Id"],
            "mutations": [{"mutation_id": self.next_id, "type": type_,
                           "client_time": client_time, "payload": payload}]})
        self.next_id += 1
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["results"][0]


@pytest.fixture
def branch(world, client):
    """Team A: Alice holds the case, Bob is her colleague, with their supervisor; team B has
    its own supervisor; legal staff and an administrator see every case."""
    team_a, team_b = world.team("A"), world.team("B")
    people = {
        "alice": world.user("collector", team_a),
        "bob": world.user("collector", team_a),
        "supervisor_a": world.user("supervisor", team_a),
        "supervisor_b": world.user("supervisor", team_b),
        "legal": world.user("legal"),
        "admin": world.user("admin"),
    }
    case = world.case(collector=people["alice"], lat=HOME[0], lon=HOME[1],
                      national_id=NATIONAL_ID)
    headers = {name: world.login(user) for name, user in people.items()}
    return {"case": case, "people": people, "headers": headers,
            "phone": Phone(client, headers["alice"])}


def field_day(branch) -> dict[str, str]:
    """Alice's two days on the case, pushed through /sync/push: {kind: record id}."""
    case_id, phone = branch["case"].id, branch["phone"]
    home = next(a for a in branch["case"].debtor.addresses if a.lender_ref == "A1")
    vehicle = db.session.scalar(select(Collateral).where(Collateral.case_id == case_id))
    records = [
        ("contact_attempt", {"channel": "call", "outcome": "no_answer",
                             "occurred_at": "2026-11-20T09:00:00+08:00"}),
        ("case_note", {"text": "Neighbour says he works nights. " * 20}, "09:30"),
        ("visit_report", report(case_id, home.id, start="2026-11-20T10:00:00+08:00")),
        ("repayment_promise", promise(case_id)),  # signed 10:30
        ("field_receipt", {"receipt_no": "R-000123", "amount_fen": 100_000, "method": "cash",
                           "payer_name": "张伟", "received_at": "2026-11-20T10:40:00+08:00",
                           "files": [photo("receipt")]}),
        ("notice_served", {"notice_type": "overdue_notice", "served_to_name": "张伟",
                           "served_to_role": "debtor", "method": "in_person",
                           "served_at": "2026-11-20T10:45:00+08:00",
                           "files": [photo("notice")]}),
        ("vehicle_sighting", {"collateral_id": vehicle.id, "vin_read": "LDC613P23A1305189",
                              "engine_no_read": "G4FC1234567", "plate_read": "京AD92035",
                              "seen_at": "2026-11-20T11:00:00+08:00",
                              "files": [photo("vehicle_vin_plate")]}),
        ("field_proposal", {"kind": "phone", "data": {"phone": PROPOSED_PHONE,
                                                     "label": "work"}}, "11:30"),
        ("repossession", {"collateral_id": vehicle.id, "towed_by": "平安拖车",
                          "recovered_at": "2026-11-21T03:10:00+08:00", "odometer_km": 84_211}),
    ]
    ids = {}
    for kind, payload, *written in records:  # notes and proposals are dated by the phone
        payload = {"id": str(uuid.uuid4()), "case_id": case_id, **payload}
        result = phone.send(kind, payload, f"2026-11-20T{(written or ['12:00'])[0]}:00+08:00")
        assert result["status"] == "applied", (kind, result)
        ids[kind] = result["record_id"]
    return ids


def import_payment(client, branch, ref: str, paid_on: str, amount_fen: int) -> None:
    """The lender's payments file, through the real import."""
    body = json.dumps({"format": "fieldvisit.payments.v1", "payments": [
        {"contract_no": branch["case"].contract_no, "ref": ref, "paid_on": paid_on,
         "amount_fen": amount_fen, "method": "bank_transfer"}]})
    response = client.post("/imports", query_string={"kind": "payments", "as_of": "2026-11-30"},
                           data=body, content_type="application/json",
                           headers=branch["headers"]["admin"])
    assert response.status_code == 201 and response.get_json()["errors"] == [], \
        response.get_json()


def timeline(client, branch, reader="supervisor_a", case_id=None, **query):
    response = client.get(f"/cases/{case_id or branch['case'].id}/timeline",
                          query_string=query, headers=branch["headers"][reader])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def whole(client, branch, **query) -> list[dict]:
    return timeline(client, branch, page_size=200, **query)["items"]


def test_the_supervisor_reads_every_kind_newest_first(client, branch):
    ids = field_day(branch)
    import_payment(client, branch, "P-1", "2026-11-25", 150_000)
    body = timeline(client, branch, page_size=200)
    items = body["items"]
    assert body["page"]["total"] == len(items) == 11
    times = [datetime.fromisoformat(e["at"]) for e in items]
    assert times == sorted(times, reverse=True)
    # The case was assigned when the test began (now, 2026-12 or later), after the field work.
    assert [e["kind"] for e in items] == [
        "assignment", "payment", "repossession", "field_proposal", "vehicle_sighting",
        "notice_served", "field_receipt", "repayment_promise", "visit_report", "case_note",
        "contact_attempt",
    ]
    by_kind = {e["kind"]: e for e in items}
    for kind, entry in by_kind.items():  # the keys the API documents, no more, no less
        documented = re.sub(r" ?[\[(][^\])]*[\])]", "", SUMMARY_KEYS[kind]).split(", ")
        assert sorted(entry["summary"]) == sorted(documented), kind
    for kind, record_id in ids.items():
        assert by_kind[kind]["record_id"] == record_id
        assert by_kind[kind]["author_id"] == branch["people"]["alice"].id
        assert by_kind[kind]["author_name"] == branch["people"]["alice"].full_name

    visit = by_kind["visit_report"]
    assert visit["at"] == "2026-11-20T02:00:00+00:00"
    assert visit["summary"]["outcome"] == "promise_to_pay"
    assert visit["summary"]["promised_fen"] == 500_000
    assert visit["summary"]["geofence"] == "inside" and visit["summary"]["distance_m"] < 50
    assert "too_few_collectors" in visit["flags"]
    kept = by_kind["repayment_promise"]["summary"]
    assert (kept["status"], kept["paid_toward_fen"], kept["remaining_fen"]) == (
        "pending", 150_000, 350_000)
    assert kept["plan"][0] == {"due_on": "2026-12-01", "amount_fen": 300_000}
    assert by_kind["vehicle_sighting"]["flags"] == ["vehicle_mismatch"]
    assert by_kind["field_receipt"]["summary"]["amount_fen"] == 100_000
    assert len(by_kind["case_note"]["summary"]["text"]) == 200
    payment = by_kind["payment"]
    assert payment["author_id"] is None and payment["summary"]["amount_fen"] == 150_000
    assert payment["at"] == "2026-11-24T16:00:00+00:00"  # 25 Nov, 00:00 in Shanghai
    assignment = by_kind["assignment"]
    assert assignment["summary"]["collector_id"] == branch["people"]["alice"].id
    assert assignment["summary"]["collector_name"] == branch["people"]["alice"].full_name

    # Masked by construction: no national ID (not even its last four digits), no phones.
    text = json.dumps(body, ensure_ascii=False)
    for secret in (NATIONAL_ID, PROPOSED_PHONE, "13812345678", "13987654321", "signer_id",
                   "national_id"):
        assert secret not in text


def test_pages_and_order(client, branch):
    field_day(branch)
    newest = whole(client, branch)
    paged = []
    for page in (1, 2, 3, 4):
        body = timeline(client, branch, page=page, page_size=3)
        assert body["page"] == {"page": page, "page_size": 3, "total": 10, "pages": 4}
        paged += body["items"]
    assert paged == newest
    oldest = whole(client, branch, order="asc")
    assert oldest == newest[::-1]
    assert timeline(client, branch, order="asc", page=2, page_size=4)["items"] == oldest[4:8]
    assert timeline(client, branch, page=5, page_size=3)["items"] == []


def test_the_kind_filter(client, branch):
    field_day(branch)
    import_payment(client, branch, "P-1", "2026-11-25", 150_000)
    body = timeline(client, branch, kind=["visit_report", "payment"])
    assert [e["kind"] for e in body["items"]] == ["payment", "visit_report"]
    assert body["page"]["total"] == 2
    assert timeline(client, branch, kind="assignment")["page"]["total"] == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"kind": "phone_call"}, "kind"),
        ({"kind": ["payment", "gossip"]}, "kind"),
        ({"order": "sideways"}, "order"),
        ({"page": 0}, "page"),
        ({"page_size": 201}, "page_size"),
        ({"page_size": "many"}, "page_size"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, branch, query, field):
    response = client.get(f"/cases/{branch['case'].id}/timeline", query_string=query,
                          headers=branch["headers"]["supervisor_a"])
    assert response.status_code == 422, response.get_json()
    fields = response.get_json()["error"]["fields"]
    assert any(name == field or name.startswith(field + ".") for name in fields), fields


@pytest.mark.parametrize(
    ("reader", "status"),
    [("alice", 200), ("bob", 404), ("supervisor_a", 200), ("supervisor_b", 404),
     ("legal", 200), ("admin", 200)],
)
def test_who_may_read_it(client, branch, reader, status):
    field_day(branch)
    url = f"/cases/{branch['case'].id}/timeline"
    response = client.get(url, headers=branch["headers"][reader])
    assert response.status_code == status
    if status == 404:  # exactly as a case that does not exist: existence does not leak
        missing = client.get("/cases/999999/timeline", headers=branch["headers"][reader])
        assert missing.status_code == 404
        assert response.get_json() == missing.get_json()
        assert not response.get_json().get("items")


def test_a_collector_who_lost_the_case_no_longer_reads_it(client, branch):
    field_day(branch)
    moved = client.put(f"/cases/{branch['case'].id}/assignment",
                       headers=branch["headers"]["supervisor_a"],
                       json={"collector_id": branch["people"]["bob"].id, "reason": "leave"})
    assert moved.status_code == 200, moved.get_json()
    client.get(f"/cases/{branch['case'].id}/timeline", headers=branch["headers"]["alice"])
    response = client.get(f"/cases/{branch['case'].id}/timeline",
                          headers=branch["headers"]["alice"])
    assert response.status_code == 404
    items = timeline(client, branch, reader="bob", kind="assignment")["items"]
    assert [e["summary"]["collector_id"] for e in items] == [
        branch["people"]["bob"].id, branch["people"]["alice"].id]
    assert items[0]["author_id"] == branch["people"]["supervisor_a"].id
    assert items[0]["summary"]["reason"] == "leave"
    assert items[1]["summary"]["ended_at"] is not None


def test_the_read_is_audited(client, branch):
    field_day(branch)
    before = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0
    timeline(client, branch, reader="legal", kind="visit_report")
    db.session.expire_all()
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.id > before)).all()
    assert [(r.action, r.case_id, r.actor_id) for r in rows] == [
        ("case.timeline", branch["case"].id, branch["people"]["legal"].id)]
    assert json.loads(rows[0].detail) == {"kinds": ["visit_report"], "page": 1, "entries": 1}
    # A refused read leaves no row claiming the case was read.
    client.get(f"/cases/{branch['case'].id}/timeline", headers=branch["headers"]["supervisor_b"])
    db.session.expire_all()
    assert db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) \
        == rows[0].id


def test_queries_do_not_grow_with_the_history(client, branch):
    """One count, one query per kind present, the names and the audit: however many records."""

    def selects() -> int:
        seen = []

        def count(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            timeline(client, branch, page_size=5)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    field_day(branch)
    finish_jobs()  # the promise's PDF job reads on its own thread: not the timeline's
    few = selects()
    home = next(a for a in branch["case"].debtor.addresses if a.lender_ref == "A1")
    for day in range(21, 29):
        start = f"2026-11-{day}T10:00:00+08:00"
        result = branch["phone"].send("visit_report", report(branch["case"].id, home.id,
                                                             start=start))
        assert result["status"] == "applied"
    assert selects() == few
    assert few <= 11 + 8  # the kinds, plus authentication, the case, counts, names, audit
