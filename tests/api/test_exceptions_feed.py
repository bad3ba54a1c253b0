"""The supervisors' exceptions feed: what the field filed through the real `/sync/push` turns into
items with who should act and how; a scan run twice changes nothing; items clear themselves when
the phone syncs, the proposal is reviewed, the upload completes or the promise is kept; people
move them along open → acknowledged → resolved, each only on the items that are theirs."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import current_app

from api.commands.exceptions import command as exceptions_command
from api.extensions import db
from api.models import (
    Case,
    CaseStatus,
    Device,
    EvidenceFile,
    ExceptionItem,
    PromiseStatus,
    RepaymentPromise,
)
from api.services.supervision.exceptions_feed import ScanSettings, scan
from clients.device import DeviceClient, FlaskTransport
from tests.api.test_field_records import FAR, Desk
from tests.factories import PASSWORD
from tests.field.conftest import PHOTOS, finish_jobs, upload_and_complete
from tests.field.test_field_work import photo, promise

SHANGHAI = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return datetime.now(UTC).astimezone(SHANGHAI).date()


def local(day: date, hour: int, minute: int = 0) -> str:
    """A Shanghai wall-clock time as the phone sends it."""
    return datetime.combine(day, time(hour, minute), SHANGHAI).isoformat()


def yesterday_at(hour: int, minute: int = 0) -> str:
    return local(today() - timedelta(days=1), hour, minute)


class Feed(Desk):
    """The desk of tests/api/test_field_records.py, and the feed read and acted on."""

    def __init__(self, world, client):
        super().__init__(world, client)
        # Collectors read with their phones' tokens: a new sign-in would be a new phone.
        self._headers[self.alice.id] = self.alice_headers
        self._headers[self.carol.id] = self.carol_phone.headers

    def headers(self, user) -> dict:
        if user.id not in self._headers:
            self._headers[user.id] = self.world.login(user)
        return self._headers[user.id]

    def scan(self, user=None) -> dict:
        """POST /exceptions/scan (as the admin unless told)."""
        response = self.client.post("/exceptions/scan", headers=self.headers(user or self.admin))
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def scan_later(self, **delta) -> dict:
        """The scan cron would run that much later (the service, with a later clock)."""
        settings = ScanSettings.from_config(current_app.config["FIELDVISIT"])
        result = scan(db.session, datetime.now(UTC) + timedelta(**delta), settings)
        db.session.commit()
        return result.counts

    def items(self, user=None, **query) -> list[dict]:
        response = self.get(user or self.admin, "/exceptions", page_size=200, **query)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["items"]

    def kinds(self, user=None, **query) -> set[tuple[str, str]]:
        return {(i["kind"], i["subject_id"]) for i in self.items(user, **query)}

    def item(self, kind: str, subject_id: str) -> dict:
        (found,) = [i for i in self.items() if (i["kind"], i["subject_id"]) == (kind, subject_id)]
        return found

    def act(self, user, item_id: int, verb: str, **body):
        return self.client.post(f"/exceptions/{item_id}/{verb}", headers=self.headers(user),
                                json=body)

    def promise(self, case, *plan: tuple[date, int], signed_days_ago: int = 10) -> str:
        signed = datetime.now(UTC) - timedelta(days=signed_days_ago)
        result = self.alice_phone.send("repayment_promise", promise(
            case.id, signed_at=signed.isoformat(),
            plan=[{"due_on": d.isoformat(), "amount_fen": a} for d, a in plan]))
        assert result["status"] == "applied", result
        finish_jobs()  # its PDF's job commits a change of its own
        return result["record_id"]

    def proposal(self, case) -> str:
        result = self.alice_phone.send("field_proposal", {
            "id": str(uuid.uuid4()), "case_id": case.id, "kind": "phone",
            "data": {"phone": "+86 139 1234 5678", "label": "work"}, "note": "the neighbour"})
        assert result["status"] == "applied", result
        return result["record_id"]

    def silence(self, phone, days: int = 3) -> str:
        """The phone has not been heard of for `days`."""
        device_id = phone.headers["X-Device-Id"]
        db.session.get(Device, device_id).last_seen_at = datetime.now(UTC) - timedelta(days=days)
        db.session.commit()
        return device_id

    def pay(self, case, as_of: date, *payments: tuple[str, date, int]) -> None:
        """The lender's payments file, imported by the admin."""
        body = json.dumps({"format": "fieldvisit.payments.v1", "payments": [
            {"contract_no": case.contract_no, "ref": ref, "paid_on": paid_on.isoformat(),
             "amount_fen": amount, "method": "bank_transfer"}
            for ref, paid_on, amount in payments]})
        response = self.client.post(
            "/imports", query_string={"kind": "payments", "as_of": as_of.isoformat()},
            data=body, content_type="application/json", headers=self.headers(self.admin))
        assert response.status_code == 201 and response.get_json()["errors"] == [], \
            response.get_json()


@pytest.fixture
def feed(world, client):
    return Feed(world, client)


def test_every_kind_is_found_in_what_the_field_filed(feed):
    far = feed.visit(feed.case_a, fix=FAR, start=yesterday_at(10))
    late = feed.visit(feed.case_a, start=yesterday_at(22, 30), files=[photo("site")])
    broken = feed.promise(feed.case_a, (today() - timedelta(days=2), 300_000),
                          (today() + timedelta(days=28), 200_000))
    due = feed.promise(feed.case_a, (today(), 300_000), (today() + timedelta(days=30), 200_000),
                       signed_days_ago=3)
    proposal = feed.proposal(feed.case_a)
    silent = feed.silence(feed.carol_phone)
    assert feed.items() == []  # nothing until a scan

    counts = feed.scan()
    assert counts["promises_rejudged"] == 1  # the promise whose date passed is now broken
    assert {k: v["opened"] for k, v in counts["kinds"].items() if v["opened"]} == {
        "far_from_address": 1, "outside_visit_hours": 1, "too_few_collectors": 2,
        "missing_photos": 1, "promise_broken": 1, "promise_due_today": 1,
        "device_silent": 1, "proposal_unreviewed": 1,
    }
    assert counts["opened"] == 9 and counts["resolved"] == 0
    assert feed.kinds() == {
        ("far_from_address", far), ("too_few_collectors", far), ("missing_photos", far),
        ("outside_visit_hours", late), ("too_few_collectors", late),
        ("promise_broken", broken), ("promise_due_today", due),
        ("proposal_unreviewed", proposal), ("device_silent", silent),
    }

    item = feed.item("far_from_address", far)
    assert (item["actor"], item["action"], item["state"]) == ("supervisor", "review_location",
                                                              "open")
    assert item["detail"]["distance_m"] == pytest.approx(1106, abs=5)
    assert (item["case_id"], item["team_id"], item["collector_id"]) == (
        feed.case_a.id, feed.team_a.id, feed.alice.id)
    assert item["contract_no"] == feed.case_a.contract_no
    assert "geofence" in item["action_text"]
    assert feed.item("outside_visit_hours", late)["detail"] == {
        "local_day": (today() - timedelta(days=1)).isoformat()}
    assert feed.item("missing_photos", far)["detail"] == {"photos_declared": 0}
    broken_item = feed.item("promise_broken", broken)
    assert (broken_item["actor"], broken_item["action"], broken_item["collector_id"]) == (
        "collector", "call_debtor", feed.alice.id)
    assert broken_item["detail"] == {"status": "broken", "total_fen": 500_000,
                                     "paid_toward_fen": 0, "due_so_far_fen": 300_000}
    broke_on = today() - timedelta(days=1)  # the day after the date that passed unpaid
    assert broken_item["occurred_at"] == datetime.combine(broke_on, time(), SHANGHAI).astimezone(
        UTC).isoformat()
    assert feed.item("promise_due_today", due)["detail"] == {
        "due_on": today().isoformat(), "amount_fen": 300_000,
        "due_through_today_fen": 300_000, "paid_toward_fen": 0}
    phone = feed.item("device_silent", silent)
    assert (phone["actor"], phone["action"], phone["case_id"], phone["team_id"],
            phone["collector_id"]) == ("collector", "sync_device", None, feed.team_b.id,
                                       feed.carol.id)
    assert feed.item("proposal_unreviewed", proposal)["action"] == "review_proposal"


def test_a_photo_declared_but_never_uploaded_is_found_a_day_later(feed):
    visit = feed.visit(feed.case_a, start=yesterday_at(10), files=[photo("site")])
    (file_id,) = [f.id for f in db.session.query(EvidenceFile).filter_by(record_id=visit)]
    feed.scan()
    assert ("missing_photos", visit) not in feed.kinds()  # the upload may still come

    feed.scan_later(hours=25)
    assert {("missing_photos", visit), ("upload_stuck", file_id)} <= feed.kinds()
    stuck = feed.item("upload_stuck", file_id)
    assert (stuck["actor"], stuck["action"], stuck["collector_id"]) == (
        "collector", "finish_upload", feed.alice.id)
    assert stuck["detail"] == {"file_kind": "site", "record_type": "visit_report",
                               "record_id": visit}
    assert feed.item("missing_photos", visit)["detail"] == {"photos_declared": 1}

    upload_and_complete(feed.client, feed.alice_headers, file_id,
                        (PHOTOS / "DSCN0010.jpg").read_bytes())
    counts = feed.scan_later(hours=25)
    assert counts["kinds"]["upload_stuck"]["resolved"] == 1
    assert counts["kinds"]["missing_photos"]["resolved"] == 1
    for done in (feed.item("upload_stuck", file_id), feed.item("missing_photos", visit)):
        assert (done["state"], done["auto_resolved"], done["resolved_by_id"]) == (
            "resolved", True, None)
    assert feed.item("upload_stuck", file_id)["resolution_note"] == "cleared: the upload completed"


def test_a_second_scan_changes_nothing(feed):
    feed.visit(feed.case_a, fix=FAR, start=yesterday_at(10))
    feed.promise(feed.case_a, (today() - timedelta(days=2), 300_000))
    feed.proposal(feed.case_a)
    feed.silence(feed.carol_phone)
    first = feed.scan()
    before = feed.items()
    assert first["opened"] == 6
    again = feed.scan()
    assert (again["opened"], again["resolved"], again["promises_rejudged"]) == (0, 0, 0)
    assert feed.items() == before
    assert db.session.query(ExceptionItem).count() == len(before)


def test_items_resolve_themselves_when_the_condition_clears(feed):
    silent = feed.silence(feed.carol_phone)
    proposal = feed.proposal(feed.case_a)
    broken = feed.promise(feed.case_a, (today() - timedelta(days=2), 300_000),
                          (today() + timedelta(days=28), 200_000))
    feed.scan()
    assert {("device_silent", silent), ("proposal_unreviewed", proposal),
            ("promise_broken", broken)} <= feed.kinds(state="open")

    # Carol's phone syncs; the proposal is reviewed; the debtor pays the whole promise.
    feed.visit(feed.case_c)
    review = feed.client.post(f"/proposals/{proposal}/review", json={"decision": "reject"},
                              headers=feed.headers(feed.sup_a))
    assert review.status_code == 200, review.get_json()
    feed.pay(feed.case_a, today(), ("P-1", today() - timedelta(days=1), 500_000))
    assert db.session.get(RepaymentPromise, broken).status is PromiseStatus.KEPT

    counts = feed.scan()
    resolved = {k: v["resolved"] for k, v in counts["kinds"].items() if v["resolved"]}
    assert resolved == {"device_silent": 1, "proposal_unreviewed": 1, "promise_broken": 1}
    notes = {i["kind"]: i["resolution_note"] for i in feed.items(state="resolved")}
    assert notes == {
        "device_silent": "cleared: the phone synced, was revoked or replaced",
        "proposal_unreviewed": "cleared: the proposal was reviewed",
        "promise_broken": "cleared: the promise is no longer broken, or the case is closed",
    }

    # Silent again later: a new occurrence, so the same item opens again, fresh.
    feed.silence(feed.carol_phone)
    assert feed.scan()["kinds"]["device_silent"]["opened"] == 1
    again = feed.item("device_silent", silent)
    assert (again["state"], again["resolved_at"], again["auto_resolved"]) == ("open", None, False)


def test_a_promise_due_today_clears_when_the_day_is_paid(feed):
    due = feed.promise(feed.case_a, (today(), 300_000), (today() + timedelta(days=30), 200_000),
                       signed_days_ago=3)
    feed.scan()
    assert feed.item("promise_due_today", due)["state"] == "open"
    feed.pay(feed.case_a, today(), ("P-1", today(), 300_000))  # today's part, not the rest
    assert db.session.get(RepaymentPromise, due).status is PromiseStatus.PENDING
    assert feed.scan()["kinds"]["promise_due_today"]["resolved"] == 1
    assert feed.item("promise_due_today", due)["auto_resolved"] is True


def test_the_rejudged_promise_agrees_with_the_case_file_and_the_phone(feed, tmp_path):
    phone = DeviceClient(str(tmp_path / "phone.db"), FlaskTransport(feed.client),
                         username=feed.alice.username, password=PASSWORD, label="alice")
    overdue = today() - timedelta(days=1)
    payload = promise(feed.case_a.id, plan=[{"due_on": overdue.isoformat(),
                                             "amount_fen": 300_000}],
                      signed_at=(datetime.now(UTC) - timedelta(days=5)).isoformat())
    promise_id = phone.record("repayment_promise", payload)[1]
    assert phone.sync().ok
    assert [p["status"] for p in phone.case(feed.case_a.id)["open_promises"]] == ["pending"]
    read = feed.get(feed.sup_a, f"/promises/{promise_id}").get_json()
    assert read["status"] == "pending"  # nothing has judged it since its date passed

    assert feed.scan(feed.sup_a)["promises_rejudged"] == 1
    assert feed.get(feed.sup_a, f"/promises/{promise_id}").get_json()["status"] == "broken"
    assert feed.item("promise_broken", promise_id)["detail"]["status"] == "broken"
    assert phone.pull().changes == 1  # the phone's copy of the case follows
    assert phone.case(feed.case_a.id)["open_promises"] == []
    assert feed.scan(feed.sup_a)["promises_rejudged"] == 0


def test_acknowledge_then_resolve_and_the_wrong_moves(feed):
    visit = feed.visit(feed.case_a, fix=FAR, start=yesterday_at(10))
    feed.scan()
    item_id = feed.item("far_from_address", visit)["id"]

    acked = feed.act(feed.sup_a, item_id, "acknowledge", note="Calling Alice about it.")
    assert acked.status_code == 200, acked.get_json()
    body = acked.get_json()
    assert (body["state"], body["acknowledged_by_id"], body["acknowledge_note"]) == (
        "acknowledged", feed.sup_a.id, "Calling Alice about it.")
    assert feed.act(feed.sup_a, item_id, "acknowledge").status_code == 409

    for bad in ({}, {"note": "   "}, {"note": "x" * 401}):
        refused = feed.act(feed.sup_a, item_id, "resolve", **bad)
        assert refused.status_code == 422, bad
        assert "note" in refused.get_json()["error"]["fields"]
    assert feed.item("far_from_address", visit)["state"] == "acknowledged"  # nothing half-done

    done = feed.act(feed.sup_a, item_id, "resolve", note="Debtor met us at the shop next door.")
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert (body["state"], body["resolved_by_id"], body["auto_resolved"],
            body["resolution_note"]) == ("resolved", feed.sup_a.id, False,
                                         "Debtor met us at the shop next door.")
    assert body["resolved_by_name"] == feed.sup_a.full_name
    assert feed.act(feed.sup_a, item_id, "resolve", note="again").status_code == 409
    assert feed.act(feed.sup_a, item_id, "acknowledge").status_code == 409
    assert feed.scan()["opened"] == 0  # a visit's flags are for ever: resolved stays resolved
    assert feed.item("far_from_address", visit)["state"] == "resolved"

    # Acknowledging needs no body at all; resolving an acknowledged item by someone else is fine.
    other = feed.item("too_few_collectors", visit)["id"]
    bare = feed.client.post(f"/exceptions/{other}/acknowledge", headers=feed.headers(feed.sup_a))
    assert bare.status_code == 200 and bare.get_json()["acknowledge_note"] is None
    assert feed.act(feed.admin, other, "resolve", note="Policy waived for this area.") \
        .get_json()["state"] == "resolved"
    # Straight from open to resolved is allowed too.
    lone = feed.visit(feed.case_a, start=yesterday_at(11))
    feed.scan()
    straight = feed.act(feed.sup_a, feed.item("too_few_collectors", lone)["id"], "resolve",
                        note="Second collector was parking the car.")
    assert straight.status_code == 200 and straight.get_json()["acknowledged_at"] is None
    assert feed.act(feed.admin, 2**31 - 1, "acknowledge").status_code == 404


def test_each_role_sees_and_acts_on_its_own_items_only(feed):
    visit = feed.visit(feed.case_a, fix=FAR, start=yesterday_at(10))
    broken = feed.promise(feed.case_a, (today() - timedelta(days=2), 300_000))
    theirs = feed.visit(feed.case_c, start=yesterday_at(11))
    silent = feed.silence(feed.carol_phone)
    feed.scan()
    ours = {("far_from_address", visit), ("too_few_collectors", visit),
            ("missing_photos", visit), ("promise_broken", broken)}
    team_b = {("too_few_collectors", theirs), ("missing_photos", theirs),
              ("device_silent", silent)}
    assert feed.kinds(feed.sup_a) == ours
    assert feed.kinds(feed.sup_b) == team_b
    assert feed.kinds(feed.sup_b, team_id=feed.team_a.id) == set()
    assert feed.kinds(feed.alice) == {("promise_broken", broken)}  # hers to act on
    assert feed.kinds(feed.carol) == {("device_silent", silent)}
    assert feed.kinds(feed.bob) == set()
    assert feed.kinds(feed.legal) == feed.kinds(feed.admin) == ours | team_b

    # Another team's supervisor: the item does not exist for them (the same 404 as a missing one).
    far_id = feed.item("far_from_address", visit)["id"]
    hidden = feed.act(feed.sup_b, far_id, "acknowledge")
    missing = feed.act(feed.sup_b, 2**31 - 1, "acknowledge")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json() == missing.get_json()
    assert feed.act(feed.sup_b, far_id, "resolve", note="not mine").status_code == 404
    assert feed.act(feed.alice, far_id, "acknowledge").status_code == 404  # a supervisor's
    assert feed.act(feed.legal, far_id, "acknowledge").status_code == 403  # read-only for legal
    assert feed.item("far_from_address", visit)["state"] == "open"

    promise_id = feed.item("promise_broken", broken)["id"]
    assert feed.act(feed.alice, promise_id, "acknowledge", note="calling tonight") \
        .status_code == 200
    assert feed.act(feed.carol, promise_id, "resolve", note="x").status_code == 403  # role
    refused = feed.act(feed.alice, promise_id, "resolve", note="the debtor will pay")
    assert refused.status_code == 403  # a collector cannot silence an item about themselves
    assert feed.item("promise_broken", broken)["state"] == "acknowledged"

    # The case goes to litigation: the broken promise is now legal's to act on, not Alice's.
    case = db.session.get(Case, feed.case_a.id)
    case.status = CaseStatus.LEGAL
    db.session.commit()
    feed.scan()
    moved = feed.item("promise_broken", broken)
    assert (moved["actor"], moved["action"]) == ("legal", "review_for_litigation")
    assert feed.kinds(feed.alice) == set()
    assert feed.act(feed.legal, promise_id, "resolve", note="In the court file.") \
        .get_json()["resolved_by_id"] == feed.legal.id

    for role in (feed.alice, feed.legal):
        refused = feed.client.post("/exceptions/scan", headers=feed.headers(role))
        assert refused.status_code == 403


def test_a_supervisors_scan_covers_their_team_only(feed):
    ours = feed.visit(feed.case_a, fix=FAR, start=yesterday_at(10))
    theirs = feed.visit(feed.case_c, fix=FAR, start=yesterday_at(10))
    counts = feed.scan(feed.sup_b)
    assert counts["team_id"] == feed.team_b.id
    assert {s for _, s in feed.kinds()} == {theirs}
    counts = feed.scan(feed.sup_a)
    assert counts["team_id"] == feed.team_a.id and counts["opened"] == 3
    assert {s for _, s in feed.kinds()} == {ours, theirs}


def test_an_item_follows_its_case_to_another_team(feed):
    from api.services.casefile.assignment import set_assignment

    visit = feed.visit(feed.case_a, fix=FAR, start=yesterday_at(10))
    feed.scan()
    assert ("far_from_address", visit) in feed.kinds(feed.sup_a)
    set_assignment(db.session, db.session.get(Case, feed.case_a.id), team_id=feed.team_b.id,
                   collector_id=feed.carol.id, assigned_by_id=None, reason="moved branch")
    db.session.commit()
    # Before any scan the old team no longer sees it (the case is not theirs any more)...
    assert ("far_from_address", visit) not in feed.kinds(feed.sup_a)
    feed.scan()
    # ...and after one the new team does, with the history of the case.
    assert feed.item("far_from_address", visit)["team_id"] == feed.team_b.id
    assert ("far_from_address", visit) in feed.kinds(feed.sup_b)


def test_filters_by_team_kind_state_case_and_collector_newest_first(feed):
    far = feed.visit(feed.case_a, fix=FAR, start=yesterday_at(10))
    late = feed.visit(feed.case_u, start=yesterday_at(7))  # 05:00 in Urumqi
    theirs = feed.visit(feed.case_c, start=yesterday_at(11))
    feed.scan()
    assert {s for _, s in feed.kinds(team_id=feed.team_b.id)} == {theirs}
    assert feed.kinds(kind="far_from_address") == {("far_from_address", far)}
    assert feed.kinds(kind=["far_from_address", "outside_visit_hours"]) == {
        ("far_from_address", far), ("outside_visit_hours", late)}
    assert {s for _, s in feed.kinds(case_id=feed.case_u.id)} == {late}
    assert {s for _, s in feed.kinds(collector_id=feed.carol.id)} == {theirs}
    far_id = feed.item("far_from_address", far)["id"]
    feed.act(feed.sup_a, far_id, "acknowledge")
    assert feed.kinds(state="acknowledged") == {("far_from_address", far)}
    assert ("far_from_address", far) not in feed.kinds(state="open")
    assert len(feed.kinds(state=["open", "acknowledged"])) == len(feed.items())

    # Newest first: a later scan's find comes before the earlier ones.
    newer = feed.proposal(feed.case_a)
    feed.scan()
    page = feed.get(feed.admin, "/exceptions", page_size=2).get_json()
    assert page["items"][0]["subject_id"] == newer
    assert page["page"]["total"] == len(feed.items()) and page["page"]["pages"] > 1
    ids = [i["id"] for i in feed.items()]
    detected = [i["detected_at"] for i in feed.items()]
    assert detected == sorted(detected, reverse=True)
    assert len(set(ids)) == len(ids)

    for bad in ({"kind": "nope"}, {"state": "closed"}, {"team_id": "x"}, {"colour": "red"}):
        refused = feed.get(feed.admin, "/exceptions", **bad)
        assert refused.status_code == 422, bad
        named = {f.split(".")[0] for f in refused.get_json()["error"]["fields"]}
        assert set(bad) <= named, refused.get_json()


def test_reading_the_feed_is_audited(feed):
    from api.models import AuditEvent

    feed.visit(feed.case_a, fix=FAR, start=yesterday_at(10))
    feed.scan()
    before = db.session.query(AuditEvent).filter_by(action="exception.list").count()
    feed.items(feed.sup_a)
    rows = db.session.query(AuditEvent).filter_by(action="exception.list").all()
    assert len(rows) == before + 1
    assert json.loads(rows[-1].detail)["case_ids"] == [feed.case_a.id]
    assert rows[-1].actor_id == feed.sup_a.id


def test_the_scan_command_for_cron(feed, app):
    visit = feed.visit(feed.case_a, fix=FAR, start=yesterday_at(10))
    runner = app.test_cli_runner()
    result = runner.invoke(exceptions_command, ["scan"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("opened 3, resolved 0, promises re-judged 0")
    assert "far_from_address: opened 1" in result.output
    assert ("far_from_address", visit) in feed.kinds()
    result = runner.invoke(exceptions_command, ["scan", "--team", feed.team_a.code])
    assert result.exit_code == 0 and result.output.startswith("opened 0, resolved 0")
    result = runner.invoke(exceptions_command, ["scan", "--team", "NOPE"])
    assert result.exit_code != 0 and "no team with code 'NOPE'" in result.output
