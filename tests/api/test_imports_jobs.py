"""Lender imports as background jobs: committed in chunks with their progress, followed through
`GET /imports/{id}`, cancelled, refused to those who may not import, and never holding back a
phone's pull for more than a chunk."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from flask import current_app
from sqlalchemy import func, select

from api import jobs
from api.extensions import db
from api.jobs import imports as import_jobs
from api.models import Case, ImportRun, Job
from api.services.imports import runs
from api.services.imports.demo.book import generate_cases_file
from api.services.imports.file_checks import FileRepeats
from api.services.imports.runs import queue_import
from tests.factories import PASSWORD
from tests.sync.test_client import AppTransport, DeviceClient

AS_OF = date(2026, 11, 21)


def cases_file(n: int, username: str = "collector1") -> bytes:
    doc = generate_cases_file(n, seed=11, as_of=AS_OF)
    for case in doc["cases"]:
        case["team_code"], case["collector_username"] = "SZ-01", username
    return json.dumps(doc, ensure_ascii=False).encode()


def post(client, headers, body: bytes, **query):
    """POST a cases file, to be run as a job unless the test says `wait`."""
    query = {"wait": "false", **query}
    return client.post("/imports", query_string={"kind": "cases", **query}, data=body,
                       content_type="application/json", headers=headers)


def end_of(client, headers, response) -> dict:
    assert response.status_code == 202, response.get_json()
    jobs.wait(db.session, response.get_json()["job_id"], 60)
    return client.get(response.headers["Location"], headers=headers).get_json()


def count_cases() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Case))


def test_an_import_commits_in_chunks_with_its_progress(client, lender, chunk_rows, pause):
    chunk_rows(2)
    paused, resume, seen = pause
    response = post(client, lender["headers"], cases_file(5))
    # (the worker may have taken it by the time the answer is written)
    assert response.get_json()["status"] in ("queued", "running")
    assert response.get_json()["total"] == 5
    assert paused.wait(30)
    mid = client.get(response.headers["Location"], headers=lender["headers"]).get_json()
    assert (mid["status"], mid["done"], mid["total"], mid["percent"]) == ("running", 2, 5, 40.0)
    assert mid["created"] == 2 and count_cases() == 2  # the first chunk is committed
    job = client.get(f"/jobs/{mid['job_id']}", headers=lender["headers"]).get_json()
    assert (job["kind"], job["status"], job["done"]) == ("import", "running", 2)
    resume.set()
    end = end_of(client, lender["headers"], response)
    assert (end["status"], end["done"], end["percent"], end["created"]) == ("done", 5, 100.0, 5)
    assert [done for _, done, _ in seen] == [2, 4]  # the last chunk commits with the run's end
    run = db.session.get(ImportRun, end["id"])
    assert run.blob_key is None and run.repeats is None  # kept until the run has ended
    assert current_app.extensions["fieldvisit.blobs"].exists(f"imports/{run.id}/upload.json") \
        is False


def test_a_phones_pull_during_an_import_receives_a_reassignment_made_outside_it(
        app, client, world, lender, chunk_rows, pause, tmp_path):
    """The import stops between two chunks; meanwhile a supervisor gives a case to the phone's
    collector, and the phone's pull brings it (and the chunk already committed), not what the
    import has yet to do."""
    chunk_rows(2)
    paused, resume, _ = pause
    outside = world.case(collector=lender["other"])
    phone = DeviceClient(str(tmp_path / "phone.db"), AppTransport(client),
                         username=lender["collector"].username, password=PASSWORD)
    assert phone.sync().ok and phone.cases() == {}
    response = post(client, lender["headers"], cases_file(6))
    assert paused.wait(30)
    moved = client.put(f"/cases/{outside.id}/assignment", headers=lender["supervisor"],
                       json={"collector_id": lender["collector"].id})
    assert moved.status_code == 200, moved.get_json()

    report = phone.sync()
    assert report.ok
    held = set(phone.cases())
    first_chunk = set(db.session.scalars(select(Case.id).where(Case.id != outside.id)))
    assert outside.id in held
    assert held == {outside.id} | first_chunk and len(first_chunk) == 2

    resume.set()
    assert end_of(client, lender["headers"], response)["created"] == 6
    assert phone.sync().ok and len(phone.cases()) == 7


def test_a_running_import_cancelled_keeps_its_committed_chunks(client, lender, chunk_rows,
                                                               pause):
    chunk_rows(2)
    paused, resume, _ = pause
    body = cases_file(6)
    response = post(client, lender["headers"], body)
    assert paused.wait(30)
    run_id = response.get_json()["id"]
    asked = client.post(f"/imports/{run_id}/cancel", headers=lender["headers"])
    assert asked.status_code == 200 and asked.get_json()["cancel_requested"] is True
    resume.set()
    end = end_of(client, lender["headers"], response)
    # the checkpoint after the request saw it: two chunks committed, the third never ran
    assert (end["status"], end["done"], end["created"]) == ("cancelled", 4, 4)
    assert count_cases() == 4
    again = client.post(f"/imports/{run_id}/cancel", headers=lender["headers"])
    assert again.status_code == 200 and again.get_json()["status"] == "cancelled"

    rest = end_of(client, lender["headers"], post(client, lender["headers"], body))
    assert (rest["status"], rest["created"], rest["unchanged"]) == ("done", 2, 4)


def test_a_queued_import_cancelled_never_runs(app, client, lender):
    run = queue_import(db.session, app.extensions["fieldvisit.blobs"], io.BytesIO(cases_file(2)),
                       kind="cases", file_format="json", principal=None)
    job = import_jobs.ask_for_job(db.session, run, send=False)  # no worker will take it
    db.session.commit()
    run_id, job_id = run.id, job.id
    assert app.extensions["fieldvisit.blobs"].exists(f"imports/{run_id}/upload.json")
    assert FileRepeats.from_json(run.repeats) == FileRepeats()  # two cases, two debtors
    answer = client.post(f"/imports/{run_id}/cancel", headers=lender["headers"]).get_json()
    assert (answer["status"], answer["finished_at"] is not None) == ("cancelled", True)
    assert not app.extensions["fieldvisit.blobs"].exists(f"imports/{run_id}/upload.json")
    assert db.session.get(ImportRun, run_id, populate_existing=True).repeats is None
    jobs.run(db.session, job_id)  # a late message for it
    assert db.session.get(Job, job_id, populate_existing=True).status == "cancelled"
    assert count_cases() == 0


def test_a_finished_import_cannot_be_cancelled(client, lender):
    done = post(client, lender["headers"], cases_file(1), wait="true")
    assert done.status_code == 201 and done.get_json()["status"] == "done"
    refused = client.post(f"/imports/{done.get_json()['id']}/cancel", headers=lender["headers"])
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "import_finished"


def test_an_atomic_run_of_a_file_too_large_for_one_transaction_is_refused(
        client, lender, chunk_rows):
    chunk_rows(2, atomic_max=3)
    before = db.session.scalar(select(func.count()).select_from(ImportRun))
    refused = post(client, lender["headers"], cases_file(4), atomic="true")
    assert refused.status_code == 422
    assert "atomic" in refused.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(ImportRun)) == before
    # at the limit, an atomic run is one transaction: no chunk is committed on its own
    end = end_of(client, lender["headers"], post(client, lender["headers"], cases_file(3),
                                                 atomic="true"))
    assert (end["status"], end["created"], end["atomic"]) == ("done", 3, True)


@pytest.mark.parametrize("role", ["collector", "supervisor", "legal"])
def test_only_administrators_see_start_or_cancel_imports(client, world, lender, role):
    response = post(client, lender["headers"], cases_file(1), wait="true")
    run = response.get_json()
    someone = world.login(world.user(role, team=lender["team"] if role != "legal" else None))
    assert post(client, someone, cases_file(1)).status_code == 403
    assert client.get("/imports", headers=someone).status_code == 403
    assert client.get(f"/imports/{run['id']}", headers=someone).status_code == 403
    assert client.post(f"/imports/{run['id']}/cancel", headers=someone).status_code == 403
    assert client.get(f"/jobs/{run['job_id']}", headers=someone).status_code == 404
    # another administrator sees (and may steer) every import
    other_admin = world.login(world.user("admin"))
    seen = client.get(f"/imports/{run['id']}", headers=other_admin)
    assert seen.status_code == 200 and seen.get_json()["started_by_id"] == lender["admin"].id
    listed = client.get("/imports", query_string={"status": "done"}, headers=other_admin)
    assert [item["id"] for item in listed.get_json()["items"]] == [run["id"]]
    assert client.get("/imports/999999", headers=other_admin).status_code == 404


def test_an_import_whose_user_lost_the_right_fails(client, world, lender, chunk_rows):
    """The job acts for its user, read again when it runs."""
    admin = world.user("admin")
    run = queue_import(db.session, current_app.extensions["fieldvisit.blobs"],
                       io.BytesIO(cases_file(1)), kind="cases", file_format="json", principal=None)
    run.started_by_id = admin.id
    job = import_jobs.ask_for_job(db.session, run, send=False)
    admin.is_active = False
    db.session.commit()
    jobs.run(db.session, job.id)
    answer = client.get(f"/imports/{run.id}", headers=lender["headers"]).get_json()
    assert answer["status"] == "failed" and "may no longer" in answer["error"]
    assert count_cases() == 0


def test_a_file_of_one_chunk_runs_in_the_request_and_a_larger_one_as_a_job(
        client, lender, chunk_rows):
    chunk_rows(3)
    headers = lender["headers"]
    small = client.post("/imports", query_string={"kind": "cases"}, data=cases_file(3),
                        content_type="application/json", headers=headers)
    assert small.status_code == 201 and small.get_json()["status"] == "done"
    large = client.post("/imports", query_string={"kind": "cases"}, data=cases_file(4),
                        content_type="application/json", headers=headers)
    end = end_of(client, headers, large)
    assert (end["status"], end["created"], end["unchanged"]) == ("done", 1, 3)


def test_a_case_changed_since_its_import_is_looked_at_again(client, lender):
    """An unchanged case is skipped by its record's digest; one changed since its import (here
    given to another collector) is compared again, and the file's holder applies."""
    headers, body = lender["headers"], cases_file(3)
    assert post(client, headers, body, wait="true").get_json()["created"] == 3
    moved = db.session.scalars(select(Case).order_by(Case.id)).first()
    answer = client.put(f"/cases/{moved.id}/assignment", headers=lender["supervisor"],
                        json={"collector_id": lender["other"].id})
    assert answer.status_code == 200
    again = post(client, headers, body, wait="true").get_json()
    assert (again["updated"], again["unchanged"]) == (1, 2)
    db.session.expire_all()
    assert db.session.get(Case, moved.id).collector_id == lender["collector"].id
    third = post(client, headers, body, wait="true").get_json()
    assert (third["updated"], third["unchanged"]) == (0, 3)


def test_a_skipped_record_is_still_checked_against_the_rest_of_the_file(client, world, lender):
    """A record skipped unread still has its holder checked (a collector deactivated since is a
    row error), and still counts as what the file says of its debtor: a later record telling
    the same debtor otherwise is a row error, as it was on the first import."""
    doc = json.loads(cases_file(3))
    first, second = doc["cases"][0], doc["cases"][1]
    for part in ("debtor", "contacts", "addresses"):
        second[part] = json.loads(json.dumps(first[part]))  # one debtor, two loans
    doc["cases"][2]["collector_username"] = lender["other"].username
    body = json.dumps(doc, ensure_ascii=False).encode()
    done = post(client, lender["headers"], body, wait="true").get_json()
    assert (done["created"], done["errors"]) == (3, [])

    second["debtor"]["name"] = "王小明"
    lender["other"].is_active = False
    db.session.commit()
    again = post(client, lender["headers"], json.dumps(doc, ensure_ascii=False).encode(),
                 wait="true").get_json()
    assert (again["unchanged"], again["updated"]) == (1, 0)
    assert [(e["row"], e["field"], e["message"]) for e in again["errors"]] == [
        (2, "debtor", "differs from row 1 for the same debtor ref"),
        (3, "collector_username", "no such active collector")]


def test_a_worker_elsewhere_takes_the_file_from_the_blob_store(app, client, lender):
    """The upload is stored, so a job run by another process (a broker's worker) reads it."""
    run = queue_import(db.session, app.extensions["fieldvisit.blobs"], io.BytesIO(cases_file(2)),
                       kind="cases", file_format="json", principal=None, runs_here=False)
    job = import_jobs.ask_for_job(db.session, run, send=False)
    db.session.commit()
    run_id = run.id
    jobs.run(db.session, job.id)
    answer = client.get(f"/imports/{run_id}", headers=lender["headers"]).get_json()
    assert (answer["status"], answer["created"], answer["done"]) == ("done", 2, 2)
    assert not app.extensions["fieldvisit.blobs"].exists(f"imports/{run_id}/upload.json")


def test_an_upload_is_read_and_checked_outside_any_transaction(client, lender, monkeypatch):
    """Reading and checking a large file takes a while: no transaction of the request is open
    meanwhile (it would hold back every phone's delta, and on SQLite every writer)."""
    open_meanwhile = []
    check_upload = runs.check_upload

    def watched(*args, **kwargs):
        open_meanwhile.append(db.session().in_transaction())
        return check_upload(*args, **kwargs)

    monkeypatch.setattr(runs, "check_upload", watched)
    response = post(client, lender["headers"], cases_file(2))
    assert response.status_code in (201, 202), response.get_json()
    assert open_meanwhile == [False]
