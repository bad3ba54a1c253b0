"""Filing online: a collector with signal, or a supervisor on a visit, files the same records a
phone pushes, and the server stores the same rows, flags, change-log entries and case document
either way. Supervisors may push too, for the cases of their team."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from api.extensions import db
from api.models import (
    CaseNote,
    Collateral,
    Device,
    DeviceMutation,
    EvidenceFile,
    Repossession,
    SyncChange,
    UploadStatus,
    VisitReport,
)
from api.services.fieldwork.promises import derived_id
from tests.field.conftest import finish_jobs, upload_and_complete
from tests.field.filing_records import (
    KINDS,
    as_online,
    case_document,
    changes_since,
    columns,
    count,
    declared_files,
    entries,
    file_id_of,
    file_online,
    last_seq,
    note,
    notice,
    photo_bytes,
    receipt,
    sighting,
    visit,
    without,
)
from tests.field.test_field_work import HOME, Phone, cosign, promise, report, zone_where_it_is_13h

CLIENT_TIME = "2026-11-20T10:00:00+08:00"  # what Phone.send stamps on every mutation


@pytest.fixture
def desk(world, client):
    """Alice holds a case in team 1; Bob (same team) holds another; a supervisor of each team,
    legal staff and an administrator are signed in on their own devices."""
    team, other_team = world.team(), world.team()
    alice, bob = world.user("collector", team), world.user("collector", team)
    case, bobs = world.case(collector=alice, lat=HOME[0], lon=HOME[1]), world.case(collector=bob)
    other_case = world.case(collector=world.user("collector", other_team))
    alice_phone = world.login(alice)
    return {
        "world": world,
        "alice": alice,
        "bob": bob,
        "case": case,
        "bobs": bobs,
        "other_case": other_case,
        "home": case.debtor.addresses[0],
        "vehicle": db.session.scalar(select(Collateral).where(Collateral.case_id == case.id)),
        "alice_phone": alice_phone,
        "phone": Phone(client, alice_phone),
        "supervisor": world.login(world.user("supervisor", team)),
        "other_supervisor": world.login(world.user("supervisor", other_team)),
        "legal": world.login(world.user("legal")),
        "admin": world.login(world.user("admin")),
    }


# --------------------------------------------------------------------------- same either way


def push_then_file_online(app, client, d, kind, *, online_headers, push_phone, device_time):
    """File a record by push and the same record online; compare all that was stored."""
    path, model, build, differ = KINDS[kind]
    payload = build(d)
    mark = last_seq()
    pushed = push_phone.send(kind, payload, device_time=device_time)
    assert pushed["status"] == "applied", pushed
    finish_jobs()  # a promise's PDF: made by a job, whose commit puts the document again
    pushed_changes, after_push = changes_since(mark), case_document(app, d["case"].id)
    body = as_online(payload, keep_case_id=kind != "case_note")
    body.update(client_time=CLIENT_TIME, device_time=device_time)
    mark = last_seq()
    response = file_online(client, online_headers, d["case"].id, path, body)
    assert response.status_code == 201, response.get_json()
    filed = response.get_json()
    finish_jobs()
    assert filed == {"type": kind, "record_id": body["id"], "flags": pushed["flags"]}
    timeline_only = path in ("contact-attempts", "notes", "proposals", "presence")
    read_at = f"/cases/{d['case'].id}/timeline" if timeline_only else f"/{path}/{body['id']}"
    assert response.headers["Location"] == read_at
    one, two = db.session.get(model, pushed["record_id"]), db.session.get(model, body["id"])
    offset = "device_clock_offset_s"
    if hasattr(one, offset):  # measured against the server's clock a moment apart
        assert getattr(two, offset) == pytest.approx(getattr(one, offset), abs=60)
    assert columns(one, offset, *differ) == columns(two, offset, *differ)
    assert (two.mutation_id, one.mutation_id) == (0, push_phone.next_id - 1)
    assert declared_files(one.id) == declared_files(two.id)
    holder_bucket = f"u{d['case'].collector_id}"
    puts = 2 if kind == "repayment_promise" else 1  # the filing's, and the PDF job's
    assert pushed_changes == changes_since(mark) == [
        (holder_bucket, "case", d["case"].id, "put")] * puts
    after_online = case_document(app, d["case"].id)
    assert without(after_online, two.id) == after_push
    assert entries(after_online, two.id) == entries(after_push, one.id)
    return one, two, filed


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_record_filed_online_is_stored_as_if_pushed(app, client, desk, kind):
    device_time = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    one, two, filed = push_then_file_online(
        app, client, desk, kind, online_headers=desk["alice_phone"], push_phone=desk["phone"],
        device_time=device_time,
    )
    assert two.author_id == desk["alice"].id and two.device_id == one.device_id
    if kind == "visit_report":
        assert set(filed["flags"]) == {
            "outside_visit_hours", "too_few_collectors", "far_from_address", "mock_location",
            "device_clock_offset",
        }
        assert two.distance_m == pytest.approx(1106, abs=5)
    if kind == "repayment_promise":
        cipher = app.extensions["fieldvisit.pii"]
        assert cipher.decrypt(two.signer_id_cipher) == cipher.decrypt(one.signer_id_cipher)
        finish_jobs()  # the PDFs are made by jobs once the filings have committed
        pdf = db.session.get(EvidenceFile, derived_id(two.id, "promise_pdf"))
        assert two.pdf_file_id == pdf.id and pdf.status is UploadStatus.COMPLETE


def test_a_supervisor_on_a_visit_files_as_a_supervisor_pushing(app, client, desk):
    """The record goes to the collector's bucket either way; the supervisor's device keeps its
    own outbox numbering, which an online filing does not touch."""
    phone = Phone(client, desk["supervisor"])
    one, two, _ = push_then_file_online(
        app, client, desk, "visit_report", online_headers=desk["supervisor"], push_phone=phone,
        device_time=None,
    )
    supervisor_device = desk["supervisor"]["X-Device-Id"]
    assert one.author_id == two.author_id != desk["alice"].id
    assert one.device_id == two.device_id == supervisor_device
    assert db.session.get(Device, supervisor_device).last_mutation_id == 1
    assert db.session.scalar(select(func.count()).select_from(DeviceMutation)) == 1
    # What the supervisor declared, the supervisor uploads.
    upload_and_complete(client, desk["supervisor"], file_id_of(two.id), photo_bytes())


# --------------------------------------------------------------------------- who may file


def nothing_saved() -> tuple:
    return (count(VisitReport), count(EvidenceFile), count(SyncChange))


def test_only_the_holder_and_the_team_supervisors_file_for_a_case(client, desk, world):
    before = (count(VisitReport), count(EvidenceFile))
    bobs_phone = world.login(desk["bob"])
    for headers, case_id, status in [
        (desk["alice_phone"], desk["bobs"].id, 404),  # a teammate's case
        (bobs_phone, desk["case"].id, 404),
        (desk["other_supervisor"], desk["case"].id, 404),  # another team's supervisor
        (desk["supervisor"], desk["other_case"].id, 404),
        (desk["alice_phone"], 999_999, 404),  # no such case: the same answer
        (desk["legal"], desk["case"].id, 403),
        (desk["admin"], desk["case"].id, 403),
    ]:
        body = as_online(visit(desk), keep_case_id=False)
        response = file_online(client, headers, case_id, "visits", body)
        assert response.status_code == status, (headers, response.get_json())
        assert response.get_json()["error"]["code"] == {404: "not_found", 403: "forbidden"}[status]
    assert (count(VisitReport), count(EvidenceFile)) == before == (0, 0)
    ok = file_online(client, desk["supervisor"], desk["case"].id, "visits", visit(desk))
    assert ok.status_code == 201, ok.get_json()


def test_a_case_reassigned_away_is_no_longer_filed_for_online(client, desk):
    """Online, a collector files only for what they hold now; their phone's outbox for the
    case is still accepted (and flagged) through push."""
    moved = client.put(f"/cases/{desk['case'].id}/assignment", headers=desk["supervisor"],
                       json={"collector_id": desk["bob"].id})
    assert moved.status_code == 200, moved.get_json()
    body = note(desk)
    assert file_online(client, desk["alice_phone"], desk["case"].id, "notes",
                       body).status_code == 404
    pushed = desk["phone"].send("case_note", body)
    assert pushed["status"] == "applied" and pushed["flags"] == ["case_reassigned"]


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("path", "build", "change", "fields"),
    [
        ("visits", visit, {"ended_at": "2026-11-20T21:40:00+08:00"}, {"ended_at"}),
        ("visits", visit, {"fixes": [{"lat": 123, "lon": 114.0, "accuracy_m": 5,
                                      "fix_time": "2026-11-20T21:50:00+08:00"}]},
         {"fixes.0.lat"}),
        ("visits", visit, {"case_id": "elsewhere"}, {"case_id"}),
        ("visits", visit, {"met": "martian", "colour": "red"}, {"met", "colour"}),
        # rules the services keep, named as in the body
        ("visits", visit, lambda d: {"case_id": d["bobs"].id}, {"case_id"}),  # not the path's
        ("visits", visit, {"address_id": -1}, {"address_id"}),
        ("promises", lambda d: promise(d["case"].id), {"signature_strokes": None},
         {"signature_strokes"}),
        ("receipts", receipt, {"files": []}, {"files"}),
        ("sightings", sighting, {"collateral_id": -1}, {"collateral_id"}),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_saved(
    client, desk, path, build, change, fields
):
    body = {**build(desk), **(change(desk) if callable(change) else change)}
    before = nothing_saved()
    response = file_online(client, desk["alice_phone"], desk["case"].id, path, body)
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["error"]["fields"]) == fields
    db.session.expire_all()
    assert nothing_saved() == before


def test_the_same_id_again_points_at_the_record_and_changes_nothing(client, desk, world):
    body = visit(desk)
    first = file_online(client, desk["alice_phone"], desk["case"].id, "visits", body)
    assert first.status_code == 201
    again = file_online(client, desk["alice_phone"], desk["case"].id, "visits",
                        {**body, "notes": "changed my mind", "files": []})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_filed"
    assert again.headers["Location"] == first.headers["Location"] == f"/visits/{body['id']}"
    db.session.expire_all()
    assert db.session.get(VisitReport, body["id"]).notes == "Shop open, debtor present."
    # An id someone else used is simply taken: no pointer to their record.
    bobs = note(desk) | {"case_id": desk["bobs"].id}
    assert Phone(client, world.login(desk["bob"])).send("case_note", bobs)["status"] == "applied"
    taken = file_online(client, desk["alice_phone"], desk["case"].id, "notes",
                        {"id": bobs["id"], "text": "mine"})
    assert taken.status_code == 409 and "Location" not in taken.headers
    assert taken.get_json()["error"] | {"message": ""} == {
        "status": 409, "code": "conflict", "message": "", "fields": {"id": ["already used"]}}


def test_without_an_id_the_server_chooses_one(client, desk):
    response = file_online(client, desk["alice_phone"], desk["case"].id, "notes",
                           {"text": "Gate code 1234."})
    assert response.status_code == 201, response.get_json()
    record_id = response.get_json()["record_id"]
    assert uuid.UUID(record_id).version == 4
    stored = db.session.get(CaseNote, record_id)
    assert stored.mutation_id == 0 and stored.case_id == desk["case"].id


# --------------------------------------------------------------------------- clocks, co-signing


def test_online_clocks_the_receive_time_unless_the_client_says(client, desk):
    before = datetime.now(UTC)
    plain = file_online(client, desk["alice_phone"], desk["case"].id, "notes", {"text": "a"})
    stored = db.session.get(CaseNote, plain.get_json()["record_id"])
    assert before - timedelta(seconds=1) <= stored.client_time <= datetime.now(UTC)
    skewed = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    body = visit(desk) | {"device_time": skewed, "files": []}
    response = file_online(client, desk["alice_phone"], desk["case"].id, "visits", body)
    assert "device_clock_offset" in response.get_json()["flags"]
    report_ = db.session.get(VisitReport, body["id"])
    assert report_.device_clock_offset_s == pytest.approx(-7200, abs=60)
    assert report_.client_time == datetime.fromisoformat(skewed)
    no_clock = visit(desk) | {"files": []}
    flags = file_online(client, desk["alice_phone"], desk["case"].id, "visits",
                        no_clock).get_json()["flags"]
    assert "device_clock_offset" not in flags


def test_a_co_collector_vouches_online_as_on_the_phone(client, desk):
    """The supervisor files a visit made with Alice, who vouches on the supervisor's device."""
    co = cosign(client, desk["alice"], desk["supervisor"])
    now = datetime.now(UTC)
    desk["case"].debtor.timezone = zone_where_it_is_13h(now)
    db.session.commit()
    body = report(desk["case"].id, desk["home"].id, start=(now - timedelta(minutes=10)).isoformat(),
                  co=[co])
    response = file_online(client, desk["supervisor"], desk["case"].id, "visits", body)
    assert response.status_code == 201 and response.get_json()["flags"] == []
    stored = db.session.get(VisitReport, body["id"])
    assert json.loads(stored.collector_ids)[1] == desk["alice"].id
    # An attestation given on another device does not count.
    foreign = cosign(client, desk["bob"], desk["alice_phone"])
    body = report(desk["case"].id, desk["home"].id, start=(now - timedelta(minutes=5)).isoformat(),
                  co=[foreign])
    flags = file_online(client, desk["supervisor"], desk["case"].id, "visits",
                        body).get_json()["flags"]
    assert {"unverified_co_collector", "too_few_collectors"} <= set(flags)


# --------------------------------------------------------------------------- the push ledger


def test_online_filings_leave_the_phone_outbox_numbering_alone(client, desk):
    body = notice(desk)
    assert file_online(client, desk["alice_phone"], desk["case"].id, "notices",
                       body).status_code == 201
    device = db.session.get(Device, desk["alice_phone"]["X-Device-Id"])
    assert device.last_mutation_id == 0 and count(DeviceMutation) == 0
    assert desk["phone"].send("case_note", note(desk))["status"] == "applied"  # mutation 1
    # The file declared online is uploaded as a pushed one is.
    done = upload_and_complete(client, desk["alice_phone"], body["files"][0]["id"],
                               photo_bytes())
    assert done["status"] == "complete"


def test_a_repossession_is_filed_online_once(client, desk):
    record = {
        "case_id": desk["case"].id, "collateral_id": desk["vehicle"].id,
        "recovered_at": "2026-11-21T03:10:00+08:00", "towed_by": "平安拖车",
        "odometer_km": 84_211,
    }
    first = file_online(client, desk["supervisor"], desk["case"].id, "repossessions", record)
    assert first.status_code == 201, first.get_json()
    assert first.headers["Location"].startswith("/repossessions/")
    assert db.session.get(Repossession, first.get_json()["record_id"]).odometer_km == 84_211
    again = file_online(client, desk["supervisor"], desk["case"].id, "repossessions", record)
    assert again.status_code == 422 and count(Repossession) == 1


# --------------------------------------------------------------------------- supervisors push


def test_a_supervisor_pushes_for_a_team_case_but_not_another_teams(client, desk):
    phone = Phone(client, desk["supervisor"])
    mark = last_seq()
    mine = phone.send("case_note", note(desk))
    assert mine["status"] == "applied" and mine["flags"] == []
    assert changes_since(mark) == [(f"u{desk['alice'].id}", "case", desk["case"].id, "put")]
    theirs = phone.send("case_note", note(desk) | {"case_id": desk["other_case"].id})
    assert theirs["status"] == "rejected" and theirs["code"] == "not_found"
    assert theirs["fields"] == {"payload.case_id": ["no such case"]}
    assert db.session.get(CaseNote, mine["record_id"]).device_id == phone.headers["X-Device-Id"]
    assert db.session.get(Device, phone.headers["X-Device-Id"]).last_mutation_id == 2
    # Pulling stays a collector's.
    assert client.get("/sync/pull", headers=desk["supervisor"]).status_code == 403
