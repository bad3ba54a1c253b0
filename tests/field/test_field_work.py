"""Field work pushed from the phone: reports with their flags, promises, receipts, notices,
vehicle sightings and repossessions."""

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from api.extensions import db
from api.models import (
    Address,
    Collateral,
    EvidenceFile,
    RepaymentPromise,
    Repossession,
    RepossessionStatus,
    UploadStatus,
    VisitReport,
)
from tests.field.conftest import finish_jobs

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOME = (22.54554, 114.0683)  # the factory's home address (Shenzhen, places.csv)


class Phone:
    """A collector's phone in a test: numbers its mutations."""

    def __init__(self, client, headers):
        self.client, self.headers, self.next_id = client, headers, 1

    def send(self, type_, payload, device_time=None):
        body = {
            "device_id": self.headers["X-Device-Id"],
            "mutations": [
                {
                    "mutation_id": self.next_id,
                    "type": type_,
                    "client_time": "2026-11-20T10:00:00+08:00",
                    "payload": payload,
                }
            ],
        }
        if device_time:
            body["device_time"] = device_time
        self.next_id += 1
        response = self.client.post("/sync/push", headers=self.headers, json=body)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["results"][0]


@pytest.fixture
def field(world, client):
    team = world.team()
    alice, bob = world.user("collector", team), world.user("collector", team)
    case = world.case(collector=alice, lat=HOME[0], lon=HOME[1])
    headers = world.login(alice)
    home = db.session.scalar(
        select(Address).where(Address.debtor_id == case.debtor_id, Address.lender_ref == "A1")
    )
    return {
        "case": case,
        "phone": Phone(client, headers),
        "alice": alice,
        "bob": bob,
        "home": home,
        "headers": headers,
        "world": world,
    }


def report(
    case_id,
    address_id,
    *,
    start="2026-11-20T10:00:00+08:00",
    minutes=20,
    fix=HOME,
    accuracy=10.0,
    mock=False,
    co=(),
    **extra,
):
    started = datetime.fromisoformat(start)
    return {
        "id": str(uuid.uuid4()),
        "case_id": case_id,
        "address_id": address_id,
        "started_at": started.isoformat(),
        "ended_at": (started + timedelta(minutes=minutes)).isoformat(),
        "co_collectors": list(co),
        "fixes": [
            {
                "lat": fix[0],
                "lon": fix[1],
                "accuracy_m": accuracy,
                "provider": "gps",
                "mock": mock,
                "fix_time": started.isoformat(),
            }
        ]
        if fix
        else [],
        "met": "debtor",
        "outcome": "promise_to_pay",
        "reason": "business_cash_flow",
        "promised_fen": 500_000,
        "next_step": "revisit",
        "follow_up_on": "2026-11-27",
        "notes": "Shop open, debtor present.",
        **extra,
    }


def zone_where_it_is_13h(now: datetime) -> str:
    offset = 13 - now.hour  # hours east of UTC; Etc/GMT-N is UTC+N
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def cosign(client, user, phone_headers):
    response = client.post(
        "/auth/cosign",
        headers=phone_headers,
        json={"username": user.username, "password": "correct horse battery"},
    )
    assert response.status_code == 200, response.get_json()
    return {"user_id": user.id, "attestation": response.get_json()["attestation"]}


def test_a_lone_visit_at_ten_pm_is_kept_and_flagged(field):
    result = field["phone"].send(
        "visit_report",
        report(field["case"].id, field["home"].id, start="2026-11-20T21:50:00+08:00"),
    )
    assert result["status"] == "applied"
    assert result["flags"] == ["outside_visit_hours", "too_few_collectors"]
    stored = db.session.get(VisitReport, result["record_id"])
    assert stored.geofence.value == "inside" and stored.distance_m < 1
    assert json.loads(stored.collector_ids) == [field["alice"].id]


def test_two_authenticated_collectors_in_hours_raise_no_flag(field, client):
    co = cosign(client, field["bob"], field["headers"])  # Bob vouches now, on Alice's phone
    # The visit is happening now; give the debtor a zone where it is 13:xx local time.
    now = datetime.now(UTC)
    field["case"].debtor.timezone = zone_where_it_is_13h(now)
    db.session.commit()
    result = field["phone"].send(
        "visit_report",
        report(
            field["case"].id,
            field["home"].id,
            start=(now - timedelta(minutes=10)).isoformat(),
            co=[co],
        ),
    )
    assert result["flags"] == []
    stored = db.session.get(VisitReport, result["record_id"])
    assert json.loads(stored.collector_ids) == [field["alice"].id, field["bob"].id]
    # A good fix inside the geofence confirms the address.
    assert db.session.get(Address, field["home"].id).confirmed_at is not None


def test_a_forged_or_foreign_attestation_does_not_count(field, client, world):
    foreign = cosign(client, field["bob"], world.login(field["bob"]))
    forged = {"user_id": field["bob"].id, "attestation": "x" * 40}
    result = field["phone"].send(
        "visit_report", report(field["case"].id, field["home"].id, co=[foreign, forged])
    )
    assert "unverified_co_collector" in result["flags"]
    assert "too_few_collectors" in result["flags"]


def test_far_from_the_address_mock_location_and_a_wrong_clock(field):
    far = (22.5455 + 0.01, 114.0683)  # about 1.1 km north
    device_time = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    result = field["phone"].send(
        "visit_report",
        report(field["case"].id, field["home"].id, fix=far, mock=True),
        device_time=device_time,
    )
    assert {"far_from_address", "mock_location", "device_clock_offset"} <= set(result["flags"])
    stored = db.session.get(VisitReport, result["record_id"])
    assert stored.distance_m == pytest.approx(1106, abs=5)
    assert db.session.get(Address, field["home"].id).confirmed_at is None


def test_gcj02_fixes_are_converted_before_measuring(field):
    # The same spot as a Chinese map app would report it (GCJ-02), ~500 m off in WGS84 terms.
    from api.services.geo import wgs84_to_gcj02

    gcj = wgs84_to_gcj02(*HOME)
    payload = report(field["case"].id, field["home"].id, fix=gcj)
    payload["fixes"][0]["datum"] = "GCJ02"
    result = field["phone"].send("visit_report", payload)
    assert "far_from_address" not in result["flags"]
    assert db.session.get(VisitReport, result["record_id"]).distance_m < 1


def test_a_correction_supersedes_and_the_original_stays(field):
    first = field["phone"].send("visit_report", report(field["case"].id, field["home"].id))
    correction = report(
        field["case"].id,
        field["home"].id,
        supersedes_id=first["record_id"],
        notes="Amount corrected.",
    )
    second = field["phone"].send("visit_report", correction)
    assert second["status"] == "applied"
    assert db.session.get(VisitReport, first["record_id"]).notes == "Shop open, debtor present."
    assert db.session.get(VisitReport, second["record_id"]).supersedes_id == first["record_id"]


def test_bad_report_is_rejected_naming_the_field(field):
    payload = report(field["case"].id, field["home"].id, minutes=-5)
    payload["fixes"][0]["lat"] = 123
    result = field["phone"].send("visit_report", payload)
    assert result["status"] == "rejected"
    assert {"payload.ended_at", "payload.fixes.0.lat"} <= set(result["fields"])


def promise(case_id, **extra):
    return {
        "id": str(uuid.uuid4()),
        "case_id": case_id,
        "plan": [
            {"due_on": "2026-12-01", "amount_fen": 300_000},
            {"due_on": "2027-01-01", "amount_fen": 200_000},
        ],
        "method": "bank_transfer",
        "signer_name": "张伟",
        "signer_national_id": "440308199901101512",
        "signature_strokes": [[[0, 0], [10, 5], [20, 0]], [[5, 10], [15, 10]]],
        "witness_name": "李娜",
        "place_text": "深圳市福田区",
        "lat": HOME[0],
        "lon": HOME[1],
        "signed_at": "2026-11-20T10:30:00+08:00",
        **extra,
    }


def test_a_signed_promise_is_rendered_to_pdf_and_kept_with_its_hash(field, app):
    result = field["phone"].send("repayment_promise", promise(field["case"].id))
    assert result["status"] == "applied", result
    finish_jobs()  # the PDF is made by a job once the push has committed
    stored = db.session.get(RepaymentPromise, result["record_id"])
    assert stored.total_fen == 500_000 and stored.status.value == "pending"
    assert stored.signer_id_last4 == "1512" and b"440308" not in stored.signer_id_cipher
    pdf = db.session.get(EvidenceFile, stored.pdf_file_id)
    assert pdf.status is UploadStatus.COMPLETE and pdf.kind.value == "promise_pdf"
    blob = app.extensions["fieldvisit.blobs"].open(pdf.storage_key).read()
    assert blob.startswith(b"%PDF") and hashlib.sha256(blob).hexdigest() == pdf.sha256
    assert stored.pdf_sha256 == pdf.sha256 and pdf.size == len(blob)


def test_a_promise_needs_a_signature(field):
    result = field["phone"].send(
        "repayment_promise", promise(field["case"].id, signature_strokes=None)
    )
    assert result["status"] == "rejected" and "payload.signature_strokes" in result["fields"]


def photo(kind, name="DSCN0010.jpg"):
    from tests.conftest import DATA

    data = (DATA / "photos" / name).read_bytes()
    return {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "mime": "image/jpeg",
        "captured_at": "2026-11-20T10:05:00+08:00",
    }


def test_receipts_are_numbered_once_and_need_a_photo(field):
    receipt = {
        "id": str(uuid.uuid4()),
        "case_id": field["case"].id,
        "receipt_no": "R-000123",
        "amount_fen": 100_000,
        "method": "cash",
        "payer_name": "张伟",
        "received_at": "2026-11-20T10:40:00+08:00",
        "files": [photo("receipt")],
    }
    assert field["phone"].send("field_receipt", receipt)["status"] == "applied"
    again = {**receipt, "id": str(uuid.uuid4()), "files": [photo("receipt")]}
    refused = field["phone"].send("field_receipt", again)
    assert refused["status"] == "rejected" and "payload.receipt_no" in refused["fields"]
    no_photo = {**receipt, "id": str(uuid.uuid4()), "receipt_no": "R-000124", "files": []}
    assert field["phone"].send("field_receipt", no_photo)["status"] == "rejected"


def test_a_notice_served_opens_an_upload_slot_for_its_acknowledgement(field):
    notice = {
        "id": str(uuid.uuid4()),
        "case_id": field["case"].id,
        "notice_type": "overdue_notice",
        "served_to_name": "张伟",
        "served_to_role": "debtor",
        "method": "in_person",
        "served_at": "2026-11-20T10:45:00+08:00",
        "files": [photo("notice")],
    }
    result = field["phone"].send("notice_served", notice)
    assert result["status"] == "applied"
    slot = db.session.get(EvidenceFile, notice["files"][0]["id"])
    assert slot.status is UploadStatus.PENDING and slot.record_id == notice["id"]


@pytest.mark.parametrize(
    "vin, engine, status, flags",
    [
        ("LSJA24U62JG269225", "G4FC1234567", "located", []),
        ("LDC613P23A1305189", "G4FC1234567", "none", ["vehicle_mismatch"]),
    ],
)
def test_a_vehicle_sighting_is_compared_with_the_file(field, vin, engine, status, flags):
    vehicle = db.session.scalar(select(Collateral).where(Collateral.case_id == field["case"].id))
    result = field["phone"].send(
        "vehicle_sighting",
        {
            "id": str(uuid.uuid4()),
            "case_id": field["case"].id,
            "collateral_id": vehicle.id,
            "vin_read": vin,
            "engine_no_read": engine,
            "plate_read": "京AD92035",
            "seen_at": "2026-11-20T11:00:00+08:00",
            "lat": HOME[0],
            "lon": HOME[1],
            "files": [photo("vehicle_vin_plate"), photo("engine_number", "DSCN0012.jpg")],
        },
    )
    assert result["status"] == "applied" and result["flags"] == flags
    db.session.expire_all()
    assert db.session.get(Collateral, vehicle.id).repossession_status.value == status


def test_a_repossession_time_cannot_be_edited(field):
    vehicle = db.session.scalar(select(Collateral).where(Collateral.case_id == field["case"].id))
    record = {
        "id": str(uuid.uuid4()),
        "case_id": field["case"].id,
        "collateral_id": vehicle.id,
        "recovered_at": "2026-11-21T03:10:00+08:00",
        "towed_by": "平安拖车",
        "odometer_km": 84_211,
    }
    assert field["phone"].send("repossession", record)["status"] == "applied"
    db.session.expire_all()
    assert (
        db.session.get(Collateral, vehicle.id).repossession_status is RepossessionStatus.REPOSSESSED
    )
    with pytest.raises(DBAPIError):
        db.session.execute(
            text("UPDATE repossessions SET recovered_at = :t WHERE id = :id"),
            {
                "t": datetime(2026, 11, 22, tzinfo=UTC).replace(tzinfo=None)
                if db.engine.dialect.name == "sqlite"
                else datetime(2026, 11, 22, tzinfo=UTC),
                "id": record["id"],
            },
        )
        db.session.flush()
    db.session.rollback()
    stored = db.session.get(Repossession, record["id"])
    assert stored.recovered_at == datetime(2026, 11, 20, 19, 10, tzinfo=UTC)
    twice = field["phone"].send("repossession", {**record, "id": str(uuid.uuid4())})
    assert twice["status"] == "rejected"
