"""The same photos through S3: the phone PUTs straight to a presigned URL with the SHA-256 signed
in (a real HTTP request to moto's standalone server), the server completes by reading the
object back, and legal staff download through a presigned GET and export a pack."""

from __future__ import annotations

import json
import zipfile

import pytest
from click.testing import CliRunner

from api.commands.evidence import command as evidence_cli
from api.extensions import db
from api.models import EvidenceFile, UploadStatus
from tests.field.conftest import PHOTOS, as_declared_by_exif, declaration, finish_jobs
from tests.field.test_field_work import HOME, Phone, report
from tests.storage.test_blob_stores import http


@pytest.fixture
def visit(s3_world, s3_client_app, s3_endpoint):
    team = s3_world.team()
    alice = s3_world.user("collector", team)
    case = s3_world.case(collector=alice, lat=HOME[0], lon=HOME[1])
    headers = s3_world.login(alice)
    phone = Phone(s3_client_app, headers)

    def file(*declarations):
        result = phone.send("visit_report", report(case.id, None, files=list(declarations)))
        assert result["status"] == "applied", result
        return result

    return {
        "case": case,
        "headers": headers,
        "file": file,
        "client": s3_client_app,
        "world": s3_world,
        "endpoint": s3_endpoint,
    }


def presigned_put(visit, file_id: str, data: bytes) -> int:
    """What the phone does: ask for a URL, PUT the bytes there with the returned headers."""
    answer = visit["client"].post(f"/evidence/{file_id}/upload-url", headers=visit["headers"])
    assert answer.status_code == 200, answer.get_json()
    target = answer.get_json()
    assert target["url"].startswith(visit["endpoint"]) and target["method"] == "PUT"
    assert "x-amz-checksum-sha256" in {k.lower() for k in target["headers"]}
    status, _, _ = http("PUT", target["url"], data, target["headers"])
    return status


def complete(visit, file_id: str):
    done = visit["client"].post(f"/evidence/{file_id}/complete", headers=visit["headers"])
    finish_jobs()  # a photo's thumbnail
    return done


def test_a_photo_goes_to_s3_is_verified_and_downloaded_through_a_presigned_get(visit, s3_app):
    declared = as_declared_by_exif("DSCN0010.jpg")
    visit["file"](declared)
    data = (PHOTOS / "DSCN0010.jpg").read_bytes()
    assert presigned_put(visit, declared["id"], data) == 200

    done = complete(visit, declared["id"])
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["exif"]["taken_at"] == "2008-10-22T16:28:39"
    assert body["exif"]["gps_lat"] == pytest.approx(43.4674483, abs=1e-7)
    assert body["exif"]["gps_lon"] == pytest.approx(11.8851267, abs=1e-7)
    assert body["flags"] == []
    store = s3_app.extensions["fieldvisit.blobs"]
    stored = db.session.get(EvidenceFile, declared["id"])
    assert store.head(stored.thumbnail_key).size > 0  # a separate object beside the original

    legal = visit["world"].login(visit["world"].user("legal"))
    link = visit["client"].get(f"/evidence/{declared['id']}/download", headers=legal).get_json()
    assert link["url"].startswith(visit["endpoint"])
    status, headers, downloaded = http("GET", link["url"])
    assert status == 200 and downloaded == data
    assert link["filename"] in headers["Content-Disposition"]
    # The local streaming endpoints do not exist in S3 mode.
    assert visit["client"].get(f"/blobs/{stored.storage_key}?exp=1&sig=x").status_code == 404


def test_s3_bytes_that_do_not_match_the_declaration_are_refused_at_completion(visit):
    declared = declaration("DSCN0012.jpg")
    visit["file"](declared)
    good = (PHOTOS / "DSCN0012.jpg").read_bytes()
    flipped = bytearray(good)
    flipped[5000] ^= 0xFF
    # moto stores the body whatever checksum was signed in (real S3 would answer 400).
    assert presigned_put(visit, declared["id"], bytes(flipped)) in (200, 400)

    refused = complete(visit, declared["id"])
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "checksum_mismatch" and "sha256" in error["fields"]
    db.session.expire_all()
    pending = db.session.get(EvidenceFile, declared["id"])
    assert pending.status is UploadStatus.PENDING and "sha256" in pending.last_error

    assert presigned_put(visit, declared["id"], good) == 200  # retried with a fresh URL
    assert complete(visit, declared["id"]).status_code == 200
    again = visit["client"].post(f"/evidence/{declared['id']}/upload-url", headers=visit["headers"])
    assert again.status_code == 409


def test_a_corrupt_photo_on_s3_is_refused_and_a_pack_holds_the_rest(visit, tmp_path):
    broken = declaration("truncated_jpeg.jpg")
    good = declaration("DSCN0021.jpg", lat=HOME[0], lon=HOME[1])
    visit["file"](broken, good)
    assert presigned_put(visit, broken["id"], (PHOTOS / "truncated_jpeg.jpg").read_bytes()) == 200
    refused = complete(visit, broken["id"])
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "corrupt_image"
    assert presigned_put(visit, good["id"], (PHOTOS / "DSCN0021.jpg").read_bytes()) == 200
    assert complete(visit, good["id"]).status_code == 200

    legal = visit["world"].login(visit["world"].user("legal"))
    response = visit["client"].get(f"/cases/{visit['case'].id}/evidence-pack", headers=legal)
    assert response.status_code == 200
    path = tmp_path / "pack.zip"
    with path.open("wb") as out:
        for chunk in response.iter_encoded():
            out.write(chunk)
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        original = archive.read(manifest["files"][0]["path"])
    assert original == (PHOTOS / "DSCN0021.jpg").read_bytes()
    assert [p["file_id"] for p in manifest["pending_files"]] == [broken["id"]]
    result = CliRunner().invoke(evidence_cli, ["verify", str(path)])
    assert result.exit_code == 0, result.output
