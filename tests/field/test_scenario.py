"""From a debtor's doorstep to the court's expert.

A collector with no signal files a visit with three photos, a signed repayment promise and a
notice served with its acknowledgement photo. Back in coverage her phone syncs; one photo's
upload breaks off halfway and is sent again. Legal staff then export the case's evidence pack,
`fieldvisit evidence verify` accepts it, and changing a single byte of one photo makes it name
that photo."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from api.commands.evidence import command as evidence_cli
from api.extensions import db
from api.models import Address, EvidenceFile, RepaymentPromise, UploadStatus
from api.services.identity.audit import verify_chain
from clients.device import DeviceClient, FlaskTransport
from tests.factories import PASSWORD
from tests.field.conftest import PHOTOS, declaration, finish_jobs
from tests.field.test_field_work import HOME, promise, report
from tests.sync.test_client import Scripted, always

VISIT_PHOTOS = {"DSCN0010.jpg": "doorplate", "DSCN0012.jpg": "site", "DSCN0021.jpg": "debtor"}
NOTICE_PHOTO = "DSCN0025.jpg"


def at_the_door(name: str, kind: str) -> dict:
    """As the phone declares it: taken during the visit, at the debtor's door."""
    return declaration(
        name, kind, captured_at="2026-11-20T10:05:00+08:00", lat=HOME[0], lon=HOME[1]
    )


def flip_one_byte(pack: Path, member: str) -> None:
    """Change one byte of a stored member in place, the way a careless or dishonest hand would."""
    with zipfile.ZipFile(pack) as archive:
        info = archive.getinfo(member)
    with pack.open("r+b") as raw:
        raw.seek(info.header_offset + 26)
        name_len = int.from_bytes(raw.read(2), "little")
        extra_len = int.from_bytes(raw.read(2), "little")
        spot = info.header_offset + 30 + name_len + extra_len + info.file_size // 2
        raw.seek(spot)
        byte = raw.read(1)
        raw.seek(spot)
        raw.write(bytes([byte[0] ^ 0x01]))


def test_an_offline_visit_ends_in_a_pack_that_verifies_until_one_byte_changes(
    app, client, world, tmp_path
):
    team = world.team()
    collector = world.user("collector", team)
    case = world.case(collector=collector, lat=HOME[0], lon=HOME[1])
    home = db.session.scalar(
        select(Address).where(Address.debtor_id == case.debtor_id, Address.lender_ref == "A1")
    )
    phone = DeviceClient(
        str(tmp_path / "phone.db"),
        FlaskTransport(client),
        username=collector.username,
        password=PASSWORD,
    )

    # --- in the field, no signal ---------------------------------------------------------
    phone.transport = Scripted(phone.transport, [(always, "offline")])
    photos = {name: at_the_door(name, kind) for name, kind in VISIT_PHOTOS.items()}
    visit = report(case.id, home.id, files=list(photos.values()))
    phone.record("visit_report", visit, client_time="2026-11-20T10:25:00+08:00")
    signed = promise(case.id, visit_report_id=visit["id"])
    phone.record("repayment_promise", signed, client_time="2026-11-20T10:31:00+08:00")
    acknowledgement = at_the_door(NOTICE_PHOTO, "notice")
    notice = {
        "case_id": case.id,
        "visit_report_id": visit["id"],
        "notice_type": "overdue_notice",
        "served_to_name": "张伟",
        "served_to_role": "debtor",
        "method": "in_person",
        "served_at": "2026-11-20T10:40:00+08:00",
        "lat": HOME[0],
        "lon": HOME[1],
        "files": [acknowledgement],
    }
    phone.record("notice_served", notice, client_time="2026-11-20T10:41:00+08:00")
    offline = phone.push()
    assert offline.stopped == "network" and phone.outbox_size() == 3

    # --- back in coverage ----------------------------------------------------------------
    phone.transport = phone.transport.inner
    back = phone.push()  # (pulls are another story: tests/sync)
    assert back.stopped is None and back.applied == 3 and phone.outbox_size() == 0
    assert {r.status for r in phone.records()} == {"applied"}
    photos[NOTICE_PHOTO] = acknowledgement
    slots = {name: db.session.get(EvidenceFile, d["id"]) for name, d in photos.items()}
    assert {s.status for s in slots.values()} == {UploadStatus.PENDING}
    finish_jobs()  # the promise's PDF is made by a job once the push has committed
    pdf_id = db.session.get(RepaymentPromise, signed["id"]).pdf_file_id
    assert db.session.get(EvidenceFile, pdf_id).status is UploadStatus.COMPLETE

    def upload_target(file_id: str) -> dict:
        answer = phone._call("POST", f"/evidence/{file_id}/upload-url")
        assert answer.status == 200, answer.body_json
        return answer.body_json

    for name, declared in photos.items():
        data = (PHOTOS / name).read_bytes()
        if name == "DSCN0012.jpg":
            # The lift door closes on the signal: half the photo arrives.
            target = upload_target(declared["id"])
            cut = client.put(
                target["url"],
                input_stream=io.BytesIO(data[: len(data) // 2]),
                content_length=len(data),
                content_type=declared["mime"],
            )
            assert cut.status_code == 422 and "size" in cut.get_json()["error"]["fields"]
            db.session.expire_all()
            waiting = db.session.get(EvidenceFile, declared["id"])
            assert waiting.status is UploadStatus.PENDING and waiting.last_error
            refused = phone._call("POST", f"/evidence/{declared['id']}/complete")
            assert refused.status == 409  # nothing to complete yet
        done = phone.upload(declared["id"], data)  # fresh URL, PUT, complete
        assert done.status == 200, done.body_json
        again = phone.upload(declared["id"], data)  # the answer was lost: asking again is safe
        assert again.status == 409 and again.body_json["error"]["code"] == "already_complete"
        # Taken in Tuscany in 2008, declared at a door in Shenzhen today: flagged for review.
        assert {"exif_time_mismatch", "exif_gps_far_from_declared"} <= set(done.body_json["flags"])

    # The photos' thumbnails are made by jobs on the server's workers: once they are, this
    # session reads afresh (on SQLite a write from a read transaction older than their commits
    # would be refused at once, "database is locked").
    finish_jobs()

    # --- legal staff ---------------------------------------------------------------------
    legal = world.login(world.user("legal"))
    response = client.get(f"/cases/{case.id}/evidence-pack", headers=legal)
    assert response.status_code == 200
    pack = tmp_path / "evidence.zip"
    with pack.open("wb") as out:  # streamed to disk, chunk by chunk
        for chunk in response.iter_encoded():
            out.write(chunk)
    response.close()

    runner = CliRunner()
    verified = runner.invoke(evidence_cli, ["verify", str(pack)])
    assert verified.exit_code == 0, verified.output
    assert "5 files" in verified.output  # three photos, the promise PDF, the acknowledgement

    custody = client.get(f"/cases/{case.id}/evidence", headers=legal).get_json()
    (export,) = custody["packs"]
    assert export["files"] == 5 and export["manifest_sha256"]
    sealed = runner.invoke(
        evidence_cli, ["verify", str(pack), "--manifest-sha256", export["manifest_sha256"]]
    )
    assert sealed.exit_code == 0, sealed.output
    with zipfile.ZipFile(pack) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    by_id = {f["file_id"]: f for f in manifest["files"]}
    assert set(by_id) == {d["id"] for d in photos.values()} | {pdf_id}
    doorplate = by_id[photos["DSCN0010.jpg"]["id"]]
    assert doorplate["device"] == phone.device_id and collector.username in doorplate["uploader"]
    assert doorplate["lat"] == HOME[0] and doorplate["received_at"]
    assert all(f["matches_record"] for f in manifest["files"])
    for entry in custody["files"]:  # every file shows the export in its chain of custody
        assert [a["action"] for a in entry["accesses"]] == ["evidence.pack"]

    # --- one byte changes ----------------------------------------------------------------
    altered = by_id[photos["DSCN0021.jpg"]["id"]]["path"]
    flip_one_byte(pack, altered)
    failed = runner.invoke(evidence_cli, ["verify", str(pack)])
    assert failed.exit_code == 1
    assert altered in failed.output and "NOT verified" in failed.output
    others = [p for p in (f["path"] for f in manifest["files"]) if p != altered]
    assert not any(p in failed.output for p in others)
    assert verify_chain(db.session).ok  # and the audit log itself is intact
