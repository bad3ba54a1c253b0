"""A received photo's thumbnail is made by a job: the completion answers without it, its
download is `not_ready` (409, Retry-After) until the job has run, then served."""

from __future__ import annotations

from api import jobs
from api.extensions import db
from api.models import EvidenceFile, Job, JobStatus, UploadStatus
from api.services.evidence.thumbnails import THUMBNAIL_JOB
from tests.field.conftest import PHOTOS, complete, declaration, put_local, upload_url
from tests.field.test_evidence import visit  # noqa: F401 (a fixture)
from tests.field.test_field_work import HOME
from tests.sync.test_push_jobs import unserved_queue  # noqa: F401 (a fixture)


def test_a_thumbnail_is_not_ready_until_its_job_has_run(
        visit, client, unserved_queue):  # noqa: F811 (the fixtures)
    declared = declaration("DSCN0010.jpg", "doorplate", lat=HOME[0], lon=HOME[1])
    visit["file"](declared)
    file_id, data = declared["id"], (PHOTOS / "DSCN0010.jpg").read_bytes()
    target = upload_url(client, visit["headers"], file_id).get_json()
    assert put_local(client, target, data).status_code == 200
    done = complete(client, visit["headers"], file_id)
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["status"] == "complete"
    assert (body["has_thumbnail"], body["thumbnail_status"]) == (False, "pending")

    legal = visit["world"].login(visit["world"].user("legal"))
    waiting = client.get(f"/evidence/{file_id}/download?variant=thumbnail", headers=legal)
    assert waiting.status_code == 409 and int(waiting.headers["Retry-After"]) > 0
    assert waiting.get_json()["error"]["code"] == "not_ready"
    original = client.get(f"/evidence/{file_id}/download", headers=legal)
    assert original.status_code == 200  # the original does not wait for its thumbnail

    db.session.rollback()
    (job,) = db.session.query(Job).filter_by(kind=THUMBNAIL_JOB).all()
    jobs.run(db.session, job.id)  # the worker's side, as a worker reading that queue would
    assert db.session.get(Job, job.id, populate_existing=True).status == JobStatus.DONE
    slot = db.session.get(EvidenceFile, file_id, populate_existing=True)
    assert slot.thumbnail_status is UploadStatus.COMPLETE and slot.thumbnail_key

    ready = client.get(f"/evidence/{file_id}/download?variant=thumbnail", headers=legal)
    assert ready.status_code == 200, ready.get_json()
    assert client.get(ready.get_json()["url"]).data[:3] == b"\xff\xd8\xff"  # a JPEG
    described = client.get(f"/cases/{visit['case'].id}/evidence", headers=legal).get_json()
    (shown,) = [f for f in described["files"] if f["id"] == file_id]
    assert (shown["has_thumbnail"], shown["thumbnail_status"]) == (True, "complete")
