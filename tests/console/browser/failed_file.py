"""A photo whose thumbnail the server could not make: a directory stands where the thumbnail
goes, so every write of it is refused; its `thumbnail` job tries, gives up, and the exceptions
feed has a `server_file_failed` item for the administrator (seeded for tests/console/browser/
test_exceptions.py, which repairs the store and has the file made again)."""

from __future__ import annotations

import time

from sqlalchemy import select

from api.extensions import db
from api.models import Address, EvidenceFile, UploadStatus
from api.services.evidence.storage import evidence_key
from api.services.evidence.thumbnails import THUMBNAIL
from tests.factories import World
from tests.field.conftest import PHOTOS, declaration, upload_and_complete
from tests.field.filing_records import file_online
from tests.field.test_field_work import report


def failed_thumbnail(world: World, team, admin: dict) -> dict:
    """Dan files a visit with a photo of team `team`'s case; its thumbnail fails for good."""
    dan = world.user("collector", team, username="gz-dan")
    dan.full_name = "Dan Wu"
    case = world.case(team=team, collector=dan, lat=23.12, lon=113.25, days_past_due=20)
    db.session.commit()
    phone = world.login(dan)
    home = db.session.scalar(
        select(Address).where(Address.debtor_id == case.debtor_id, Address.lender_ref == "A1"))
    data = (PHOTOS / "DSCN0010.jpg").read_bytes()
    declared = declaration("DSCN0010.jpg", "site", data=data, lat=home.lat, lon=home.lon)
    filed = file_online(world.client, phone, case.id, "visits",
                        report(case.id, home.id, fix=(home.lat, home.lon), files=[declared]))
    assert filed.status_code in (200, 201), filed.get_data(as_text=True)
    blocked = world.app.extensions["fieldvisit.blobs"].root / evidence_key(
        case.id, declared["id"], THUMBNAIL)
    blocked.mkdir(parents=True)
    upload_and_complete(world.client, phone, declared["id"], data)
    deadline = time.monotonic() + 60
    while _thumbnail(declared["id"]) is not UploadStatus.FAILED:
        assert time.monotonic() < deadline, "the thumbnail's job never gave up"
        time.sleep(0.1)
    scanned = world.client.post("/exceptions/scan", headers=admin).get_json()["kinds"]
    assert scanned["server_file_failed"]["opened"] == 1, scanned
    return {"case_id": case.id, "contract_no": case.contract_no, "file_id": declared["id"],
            "blocked": str(blocked)}


def _thumbnail(file_id: str) -> UploadStatus | None:
    db.session.rollback()  # what the job's worker thread committed
    return db.session.scalar(select(EvidenceFile.thumbnail_status)
                             .where(EvidenceFile.id == file_id))
