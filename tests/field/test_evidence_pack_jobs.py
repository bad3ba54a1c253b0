"""An evidence pack of more files than the server streams is built by an `evidence_pack` job into
the blob store, then downloaded: audited as a streamed pack is (the export with every file id,
the manifest's SHA-256 once stored), each download audited too, and checked offline by
`fieldvisit evidence verify`."""

from __future__ import annotations

import dataclasses
import json
import zipfile

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from api import jobs
from api.commands.evidence import command as evidence_cli
from api.extensions import db
from api.models import AuditEvent, Job
from api.services.evidence.packs import stored_pack_key
from tests.field.conftest import PHOTOS, declaration, upload_and_complete
from tests.field.test_evidence import visit  # noqa: F401 (the fixture)

NAMES = ("DSCN0010.jpg", "DSCN0012.jpg", "DSCN0021.jpg")


@pytest.fixture
def stream_at_most(app):
    """Set FIELDVISIT_EVIDENCE_PACK_STREAM_MAX_FILES for the test."""
    original = app.config["FIELDVISIT"]

    def set_limit(files: int) -> None:
        app.config["FIELDVISIT"] = dataclasses.replace(
            original, evidence_pack_stream_max_files=files)

    yield set_limit
    app.config["FIELDVISIT"] = original


@pytest.fixture
def three_photos(visit, client):  # noqa: F811
    declared = [declaration(name) for name in NAMES]
    visit["file"](*declared)
    for name, d in zip(NAMES, declared, strict=True):
        upload_and_complete(client, visit["headers"], d["id"], (PHOTOS / name).read_bytes())
    return [d["id"] for d in declared]


def actions(case_id: int) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.case_id == case_id, AuditEvent.action.like("evidence.pack%"))
        .order_by(AuditEvent.id)))


def test_a_pack_of_more_files_than_streamed_is_built_by_a_job_then_downloaded(
        visit, client, three_photos, stream_at_most, tmp_path):  # noqa: F811
    world, case_id = visit["world"], visit["case"].id
    legal_user = world.user("legal")
    legal = world.login(legal_user)
    stream_at_most(3)
    streamed = client.get(f"/cases/{case_id}/evidence-pack", headers=legal)
    assert streamed.status_code == 200 and streamed.mimetype == "application/zip"
    streamed.get_data()  # sealed when the stream ends
    assert actions(case_id) == ["evidence.pack", "evidence.pack_sealed"]

    stream_at_most(2)
    accepted = client.get(f"/cases/{case_id}/evidence-pack", headers=legal)
    assert accepted.status_code == 202, accepted.get_json()
    job = accepted.get_json()
    assert job["kind"] == "evidence_pack" and accepted.headers["Location"] == f"/jobs/{job['id']}"
    end = jobs.wait(db.session, job["id"], 60)
    assert end.status == "done", end.error
    followed = client.get(f"/jobs/{job['id']}", headers=legal).get_json()
    assert (followed["done"], followed["total"], followed["percent"]) == (3, 3, 100.0)
    result = followed["result"]
    assert result["files"] == 3 and result["download"] == f"/evidence-packs/{job['id']}"
    # Built: audited as a streamed pack is, nothing more until someone downloads it.
    assert actions(case_id) == ["evidence.pack", "evidence.pack_sealed"] * 2

    assert client.get(result["download"], headers=visit["headers"]).status_code == 403
    colleague = world.login(world.user("legal"))
    assert client.get(result["download"], headers=colleague).status_code == 404  # not theirs
    response = client.get(result["download"], headers=legal)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["X-Pack-Id"] == result["pack_id"]
    path = tmp_path / "pack.zip"
    path.write_bytes(response.get_data())
    assert actions(case_id)[-1] == "evidence.pack_download"

    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        audit_trail = json.loads(archive.read("audit.json"))
    assert sorted(f["file_id"] for f in manifest["files"]) == sorted(three_photos)
    assert manifest["pack_id"] == result["pack_id"]
    assert "evidence.pack" in [row["action"] for row in audit_trail]
    custody = client.get(f"/cases/{case_id}/evidence", headers=legal).get_json()
    built = next(p for p in custody["packs"] if p["pack_id"] == result["pack_id"])
    assert built["manifest_sha256"] == result["manifest_sha256"] and built["files"] == 3
    for entry in custody["files"]:
        assert [a["action"] for a in entry["accesses"]] == [
            "evidence.pack", "evidence.pack", "evidence.pack_download"]
    verified = CliRunner().invoke(
        evidence_cli, ["verify", str(path), "--manifest-sha256", built["manifest_sha256"]])
    assert verified.exit_code == 0, verified.output
    assert "3 files" in verified.output


def test_a_pack_job_asked_for_outright_and_one_not_ready_or_expired(
        app, visit, client, three_photos):  # noqa: F811
    world, case_id = visit["world"], visit["case"].id
    legal = world.login(world.user("legal"))
    assert client.post(f"/cases/{case_id}/evidence-packs", headers=visit["headers"]).status_code \
        == 403
    assert client.post("/cases/999999/evidence-packs", headers=legal).status_code == 404
    accepted = client.post(f"/cases/{case_id}/evidence-packs", headers=legal)
    assert accepted.status_code == 202
    job_id = accepted.get_json()["id"]
    end = jobs.wait(db.session, job_id, 60)
    assert end.status == "done", end.error
    result = json.loads(end.result)

    waiting = Job(kind="evidence_pack", payload=json.dumps({"case_id": case_id}),
                  created_by_id=end.created_by_id)  # queued, never sent
    db.session.add(waiting)
    db.session.commit()
    not_ready = client.get(f"/evidence-packs/{waiting.id}", headers=legal)
    assert not_ready.status_code == 409 and not_ready.get_json()["error"]["code"] == (
        "pack_not_ready")

    app.extensions["fieldvisit.blobs"].delete(stored_pack_key(case_id, result["pack_id"]))
    gone = client.get(f"/evidence-packs/{job_id}", headers=legal)
    assert gone.status_code == 404 and gone.get_json()["error"]["code"] == "pack_expired"


def test_a_cancelled_pack_job_stores_no_pack(app, visit, client, three_photos):  # noqa: F811
    world, case_id = visit["world"], visit["case"].id
    legal_user = world.user("legal")
    job = jobs.enqueue(db.session, "evidence_pack", {"case_id": case_id},
                       actor_id=legal_user.id)
    job.cancel_requested = True  # asked to stop before its first checkpoint
    db.session.commit()
    end = jobs.wait(db.session, job.id, 60)
    assert end.status == "cancelled" and end.result is None
    # The export was on record before the first file (as an interrupted download is); no seal.
    assert actions(case_id) == ["evidence.pack"]
    (export,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.pack"))
    pack_id = json.loads(export.detail)["pack_id"]
    assert not app.extensions["fieldvisit.blobs"].exists(stored_pack_key(case_id, pack_id))
