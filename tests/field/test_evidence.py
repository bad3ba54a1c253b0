"""A collector's photos travel from the phone to the case file on the local blob store: declared
in a report, streamed to a signed URL, verified, read (EXIF) and thumbnailed (by a job). Corrupt
files and wrong hashes are refused and the slot waits for a good upload; legal staff read the
chain of custody and download through short-lived signed links, every access audited."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import threading
import time
import zipfile
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.serving import make_server

from api.commands.evidence import command as evidence_cli
from api.extensions import db
from api.models import AuditEvent, EvidenceFile, Job, UploadStatus
from tests.field.conftest import (
    EXPECTED,
    PHOTOS,
    as_declared_by_exif,
    complete,
    declaration,
    finish_jobs,
    put_local,
    upload_and_complete,
    upload_url,
)
from tests.field.test_field_work import HOME, Phone, report


@pytest.fixture
def visit(world, client):
    """Alice (team A) files visit reports on her case; people around her who may or may not
    read its evidence."""
    team, other_team = world.team(), world.team()
    alice = world.user("collector", team)
    case = world.case(collector=alice, lat=HOME[0], lon=HOME[1])
    headers = world.login(alice)
    phone = Phone(client, headers)

    def file(*declarations):
        payload = report(case.id, None, files=list(declarations))
        result = phone.send("visit_report", payload)
        assert result["status"] == "applied", result
        return payload

    return {
        "case": case,
        "alice": alice,
        "headers": headers,
        "file": file,
        "team": team,
        "other_team": other_team,
        "world": world,
    }


def slot(file_id: str) -> EvidenceFile:
    db.session.expire_all()
    return db.session.get(EvidenceFile, file_id)


def error_of(response) -> dict:
    return response.get_json()["error"]


# --------------------------------------------------------------------------- real photos


GPS_PHOTOS = ["DSCN0010.jpg", "DSCN0021.jpg", "Kodak_CX7530.jpg", "nikon_D3100_TypeError.jpg"]


@pytest.mark.parametrize("name", [*GPS_PHOTOS, "empty_icc.heic"])
def test_a_photo_is_verified_and_its_exif_kept_beside_the_untouched_original(
    visit, client, app, name
):
    declared = as_declared_by_exif(name)
    visit["file"](declared)
    data = (PHOTOS / name).read_bytes()
    body = upload_and_complete(client, visit["headers"], declared["id"], data)

    expected = EXPECTED[name]
    exif = body["exif"]
    assert body["status"] == "complete"
    assert (body["has_thumbnail"], body["thumbnail_status"]) == (False, "pending")  # a job's
    assert exif["taken_at_source"] == "DateTimeOriginal"
    taken = expected["DateTimeOriginal"].replace(":", "-", 2).replace(" ", "T")
    assert exif["taken_at"] == taken
    assert exif["gps_lat"] == pytest.approx(expected["gps_lat"], abs=1e-7)
    assert exif["gps_lon"] == pytest.approx(expected["gps_lon"], abs=1e-7)
    assert (exif["width"], exif["height"]) == (expected["width"], expected["height"])
    assert body["flags"] == []  # declared where and when the camera says: nothing to flag

    finish_jobs()
    stored = slot(declared["id"])
    assert stored.thumbnail_status is UploadStatus.COMPLETE
    blobs = app.extensions["fieldvisit.blobs"]
    with blobs.open(stored.storage_key) as original:
        assert original.read() == data  # byte for byte what the phone sent
    with blobs.open(stored.thumbnail_key) as thumbnail:
        small = thumbnail.read()
    assert small[:3] == b"\xff\xd8\xff" and stored.thumbnail_key != stored.storage_key


def test_exif_that_disagrees_with_the_declaration_is_flagged_not_refused(visit, client):
    # The phone says Shenzhen, today; the camera says Tuscany, 2008.
    declared = declaration("DSCN0010.jpg", "doorplate", lat=HOME[0], lon=HOME[1])
    visit["file"](declared)
    body = upload_and_complete(
        client, visit["headers"], declared["id"], (PHOTOS / "DSCN0010.jpg").read_bytes()
    )
    assert body["status"] == "complete"
    assert {"exif_time_mismatch", "exif_gps_far_from_declared"} <= set(body["flags"])


def test_a_photo_without_exif_is_accepted_and_flagged(visit, client):
    declared = declaration("hopper.jpg")
    visit["file"](declared)
    body = upload_and_complete(
        client, visit["headers"], declared["id"], (PHOTOS / "hopper.jpg").read_bytes()
    )
    assert body["exif"]["taken_at"] is None
    assert {"exif_missing_time", "exif_missing_gps"} <= set(body["flags"])


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "name",
    [
        "truncated_jpeg.jpg",
        "missing-sof.jpg",
        "corrupted.heic",
        "derive-huffman-codes-overflow.jpg",
    ],
)
def test_a_corrupt_file_is_refused_and_the_slot_stays_pending(visit, client, name):
    declared = declaration(name)
    visit["file"](declared)
    target = upload_url(client, visit["headers"], declared["id"]).get_json()
    assert put_local(client, target, (PHOTOS / name).read_bytes()).status_code == 200

    for _ in range(2):  # asking again does not make it readable
        refused = complete(client, visit["headers"], declared["id"])
        assert refused.status_code == 422
        error = error_of(refused)
        assert error["code"] == "corrupt_image" and "file" in error["fields"]
    pending = slot(declared["id"])
    assert pending.status is UploadStatus.PENDING and pending.thumbnail_key is None
    assert pending.last_error.startswith("corrupt_image: the file is not a readable image")


def test_a_wrong_file_is_refused_at_upload_naming_the_field(visit, client, app):
    declared = declaration("DSCN0010.jpg")
    visit["file"](declared)
    good = (PHOTOS / "DSCN0010.jpg").read_bytes()
    target = upload_url(client, visit["headers"], declared["id"]).get_json()

    other = put_local(client, target, (PHOTOS / "DSCN0012.jpg").read_bytes())
    assert other.status_code == 422 and "size" in error_of(other)["fields"]
    flipped = bytearray(good)
    flipped[1000] ^= 0x01
    wrong = put_local(client, target, bytes(flipped))
    assert wrong.status_code == 422
    assert error_of(wrong)["code"] == "checksum_mismatch" and "sha256" in error_of(wrong)["fields"]

    pending = slot(declared["id"])
    assert pending.status is UploadStatus.PENDING
    assert "sha256" in pending.last_error
    assert not app.extensions["fieldvisit.blobs"].exists(pending.storage_key)  # nothing kept
    not_yet = complete(client, visit["headers"], declared["id"])
    assert not_yet.status_code == 409 and error_of(not_yet)["code"] == "not_uploaded"

    assert put_local(client, target, good).status_code == 200  # the right file, same URL
    done = complete(client, visit["headers"], declared["id"])
    assert done.status_code == 200 and done.get_json()["last_error"] is None


def test_an_interrupted_upload_leaves_nothing_and_the_retry_succeeds(visit, client, app):
    declared = declaration("DSCN0012.jpg")
    visit["file"](declared)
    data = (PHOTOS / "DSCN0012.jpg").read_bytes()
    target = upload_url(client, visit["headers"], declared["id"]).get_json()

    # The phone announces the whole file and the connection drops halfway through.
    cut = client.put(
        target["url"],
        input_stream=io.BytesIO(data[: len(data) // 2]),
        content_length=len(data),
        content_type="image/jpeg",
    )
    # Depending on the server, a short body reads as a dropped connection or as a short file.
    assert cut.status_code == 422 and "size" in error_of(cut)["fields"]
    assert error_of(cut)["code"] in ("upload_interrupted", "checksum_mismatch")
    pending = slot(declared["id"])
    assert pending.status is UploadStatus.PENDING and "size" in pending.last_error
    assert not app.extensions["fieldvisit.blobs"].exists(pending.storage_key)

    retry = upload_url(client, visit["headers"], declared["id"]).get_json()
    assert put_local(client, retry, data).get_json()["status"] == "stored"
    assert complete(client, visit["headers"], declared["id"]).status_code == 200


def test_a_connection_dropped_mid_upload_is_noted_on_the_slot(visit, client, app):
    """Over a real socket: the phone announces the whole file, sends half, and loses signal."""
    declared = declaration("DSCN0012.jpg")
    visit["file"](declared)
    data = (PHOTOS / "DSCN0012.jpg").read_bytes()
    target = upload_url(client, visit["headers"], declared["id"]).get_json()
    db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as phone:
            head = (
                f"PUT {target['url']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n"
                "Connection: close\r\n\r\n"
            )
            phone.sendall(head.encode() + data[: len(data) // 2])
            phone.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := phone.recv(65536):
                answer += chunk
    finally:
        server.shutdown()
    assert answer.startswith(b"HTTP/1.1 422") and b"upload_interrupted" in answer
    pending = slot(declared["id"])
    assert pending.status is UploadStatus.PENDING
    assert pending.last_error.startswith("upload_interrupted")
    assert not app.extensions["fieldvisit.blobs"].exists(pending.storage_key)


def test_uploading_and_completing_again_is_harmless(visit, client, app):
    declared = declaration("DSCN0021.jpg")
    visit["file"](declared)
    data = (PHOTOS / "DSCN0021.jpg").read_bytes()
    target = upload_url(client, visit["headers"], declared["id"]).get_json()
    assert put_local(client, target, data).get_json()["status"] == "stored"
    assert put_local(client, target, data).get_json()["status"] == "already_stored"

    first = complete(client, visit["headers"], declared["id"]).get_json()
    original = slot(declared["id"])
    mtime = (app.extensions["fieldvisit.blobs"].root / original.storage_key).stat().st_mtime_ns

    again = complete(client, visit["headers"], declared["id"])
    assert again.status_code == 200
    made = ("has_thumbnail", "thumbnail_status")  # by the job the first completion asked for
    assert {k: v for k, v in again.get_json().items() if k not in made} == {
        k: v for k, v in first.items() if k not in made}  # nothing re-processed
    assert (again.get_json()["has_thumbnail"], again.get_json()["thumbnail_status"]) == (
        True, "complete")
    assert db.session.query(Job).filter_by(kind="thumbnail").count() == 1
    late_put = put_local(client, target, data)  # a URL issued before completion
    assert late_put.status_code == 200 and late_put.get_json()["status"] == "complete"
    path = app.extensions["fieldvisit.blobs"].root / original.storage_key
    assert path.stat().st_mtime_ns == mtime  # the original was not rewritten
    done = upload_url(client, visit["headers"], declared["id"])
    assert done.status_code == 409 and error_of(done)["code"] == "already_complete"
    received = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "evidence.received")
    ).all()
    assert len(received) == 1


def test_only_images_pdfs_and_octet_streams_are_accepted(visit, client):
    declared = declaration("DSCN0010.jpg")
    visit["file"](declared)
    target = upload_url(client, visit["headers"], declared["id"]).get_json()
    refused = put_local(client, target, b"hello", headers={"Content-Type": "text/plain"})
    assert refused.status_code == 415


# --------------------------------------------------------------------------- signed URLs


def tampered(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | changes
    return f"{parts.path}?{urlencode(query)}"


def test_a_signed_url_that_was_altered_or_has_expired_is_refused(visit, client, app):
    declared = declaration("DSCN0010.jpg")
    visit["file"](declared)
    data = (PHOTOS / "DSCN0010.jpg").read_bytes()
    target = upload_url(client, visit["headers"], declared["id"]).get_json()
    url = target["url"]
    for bad in (
        tampered(url, sig="A" * 43),
        tampered(url, exp=str(int(time.time()) + 86400)),
        tampered(url, size=str(len(data) + 1)),
        url.replace(declared["id"], "0" * 8 + declared["id"][8:]),
    ):
        refused = client.put(bad, data=data, content_type="image/jpeg")
        assert refused.status_code == 403, bad
        assert error_of(refused)["code"] == "bad_signature"

    blobs = app.extensions["fieldvisit.blobs"]
    stale = blobs.presign_put(
        slot(declared["id"]).storage_key,
        sha256_hex=declared["sha256"],
        size=declared["size"],
        content_type="image/jpeg",
        expires_s=-1,
    )
    expired = client.put(stale["url"], data=data, content_type="image/jpeg")
    assert expired.status_code == 403 and error_of(expired)["code"] == "url_expired"

    put_local(client, target, data)
    complete(client, visit["headers"], declared["id"])
    legal = visit["world"].login(visit["world"].user("legal"))
    link = client.get(f"/evidence/{declared['id']}/download", headers=legal).get_json()
    assert client.get(link["url"]).status_code == 200
    assert client.put(link["url"], data=data, content_type="image/jpeg").status_code == 403
    assert client.get(tampered(link["url"], fn="other.jpg")).status_code == 403
    old = blobs.presign_get(slot(declared["id"]).storage_key, expires_s=-1)
    assert error_of(client.get(old))["code"] == "url_expired"


# --------------------------------------------------------------------------- who may read


def test_who_may_read_a_cases_evidence_and_every_access_is_audited(visit, client):
    world = visit["world"]
    declared = declaration("DSCN0010.jpg", "doorplate", lat=HOME[0], lon=HOME[1])
    visit["file"](declared)
    data = (PHOTOS / "DSCN0010.jpg").read_bytes()
    upload_and_complete(client, visit["headers"], declared["id"], data)
    case_id, file_id = visit["case"].id, declared["id"]

    stranger = world.login(world.user("collector", visit["other_team"]))
    other_supervisor = world.login(world.user("supervisor", visit["other_team"]))
    for outsider in (stranger, other_supervisor):
        assert client.get(f"/cases/{case_id}/evidence", headers=outsider).status_code == 404
        link = client.get(f"/evidence/{file_id}/download", headers=outsider)
        assert link.status_code == 404
    assert client.post(f"/evidence/{file_id}/upload-url", headers=stranger).status_code == 404
    assert client.post(f"/evidence/{file_id}/complete", headers=stranger).status_code == 404

    supervisor = world.login(world.user("supervisor", visit["team"]))
    legal_user = world.user("legal")
    legal = world.login(legal_user)
    for reader in (visit["headers"], supervisor, legal):
        assert client.get(f"/cases/{case_id}/evidence", headers=reader).status_code == 200
    assert client.post(f"/evidence/{file_id}/upload-url", headers=legal).status_code == 403

    link = client.get(f"/evidence/{file_id}/download", headers=legal)
    assert link.status_code == 200
    body = link.get_json()
    assert body["sha256"] == declared["sha256"] and body["filename"].endswith(".jpg")
    download = client.get(body["url"])
    assert download.status_code == 200 and download.data == data
    assert "attachment" in download.headers["Content-Disposition"]
    finish_jobs()
    thumb = client.get(f"/evidence/{file_id}/download?variant=thumbnail", headers=legal)
    assert client.get(thumb.get_json()["url"]).data[:3] == b"\xff\xd8\xff"

    rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "evidence.download").order_by(AuditEvent.id)
    ).all()
    assert [(r.actor_id, json.loads(r.detail)["file_id"]) for r in rows] == [
        (legal_user.id, file_id),
        (legal_user.id, file_id),
    ]
    assert [json.loads(r.detail)["variant"] for r in rows] == ["original", "thumbnail"]
    listings = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "evidence.list")
    ).all()
    assert len(listings) == 3

    custody = client.get(f"/cases/{case_id}/evidence", headers=legal).get_json()
    (entry,) = custody["files"]
    assert entry["uploader"]["id"] == visit["alice"].id
    assert entry["device_id"] == visit["headers"]["X-Device-Id"]
    assert entry["record"] == {"type": "visit_report", "id": entry["record_id"]}
    assert entry["captured"]["lat"] == HOME[0] and entry["received_at"] is not None
    assert entry["sha256"] == declared["sha256"]
    assert [(a["action"], a["actor"]["id"], a["variant"]) for a in entry["accesses"]] == [
        ("evidence.download", legal_user.id, "original"),
        ("evidence.download", legal_user.id, "thumbnail"),
    ]


def test_a_pending_file_cannot_be_downloaded(visit, client):
    declared = declaration("DSCN0010.jpg")
    visit["file"](declared)
    legal = visit["world"].login(visit["world"].user("legal"))
    pending = client.get(f"/evidence/{declared['id']}/download", headers=legal)
    assert pending.status_code == 409 and error_of(pending)["code"] == "not_uploaded"
    custody = client.get(f"/cases/{visit['case'].id}/evidence", headers=legal).get_json()
    assert custody["files"][0]["status"] == "pending"


# --------------------------------------------------------------------------- evidence pack


def test_a_pack_names_pending_files_and_its_manifest_hash_is_audited(visit, client, tmp_path):
    world = visit["world"]
    received = declaration("DSCN0010.jpg")
    waiting = declaration("DSCN0012.jpg")
    visit["file"](received, waiting)
    upload_and_complete(
        client, visit["headers"], received["id"], (PHOTOS / "DSCN0010.jpg").read_bytes()
    )
    assert (
        client.get(f"/cases/{visit['case'].id}/evidence-pack", headers=visit["headers"]).status_code
        == 403
    )  # collectors do not export

    legal = world.login(world.user("legal"))
    response = client.get(f"/cases/{visit['case'].id}/evidence-pack", headers=legal)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    path = tmp_path / "pack.zip"
    path.write_bytes(response.get_data())

    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        audit_trail = json.loads(archive.read("audit.json"))
    assert [f["file_id"] for f in manifest["files"]] == [received["id"]]
    assert [p["file_id"] for p in manifest["pending_files"]] == [waiting["id"]]
    assert manifest["files"][0]["sha256"] == received["sha256"]
    assert manifest["files"][0]["exif"]["gps_lat"] == pytest.approx(43.4674483, abs=1e-7)
    assert "evidence.pack" in [row["action"] for row in audit_trail]

    custody = client.get(f"/cases/{visit['case'].id}/evidence", headers=legal).get_json()
    (pack,) = custody["packs"]
    assert pack["pack_id"] == response.headers["X-Pack-Id"] == manifest["pack_id"]
    digest = hashlib.sha256(zipfile.ZipFile(path).read("manifest.json")).hexdigest()
    assert pack["manifest_sha256"] == digest
    assert custody["files"][0]["accesses"][0]["pack_id"] == pack["pack_id"]
    result = CliRunner().invoke(
        evidence_cli, ["verify", str(path), "--manifest-sha256", pack["manifest_sha256"]]
    )
    assert result.exit_code == 0, result.output
