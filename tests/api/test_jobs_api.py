"""Following and cancelling background jobs over the API: a user sees and cancels their own
jobs, an administrator every one; another user's job is a 404 (its existence does not leak)."""

from __future__ import annotations

import pytest

from api.extensions import db
from api.models import Job, Role


def job_of(user, kind="retention_purge", status="queued", **values) -> Job:
    """A job row as another request would have left it (never sent: it stays as it is)."""
    job = Job(kind=kind, payload="{}", created_by_id=user.id, status=status, **values)
    db.session.add(job)
    db.session.commit()
    return job


@pytest.fixture
def people(world):
    team, other = world.team(), world.team()
    return {
        "collector": world.user(Role.COLLECTOR, team),
        "supervisor": world.user(Role.SUPERVISOR, other),
        "admin": world.user(Role.ADMIN),
    }


def test_a_user_lists_and_reads_their_own_jobs_only(world, client, people):
    mine = job_of(people["collector"], kind="evidence_pack", status="running", done=3, total=12)
    done = job_of(people["collector"], status="done", done=5, total=5, result='{"purged": 0}')
    theirs = job_of(people["supervisor"])
    me = world.login(people["collector"])

    page = client.get("/jobs", headers=me).get_json()
    assert [j["id"] for j in page["items"]] == [done.id, mine.id]  # newest first
    assert page["page"]["total"] == 2
    running = client.get(f"/jobs/{mine.id}", headers=me).get_json()
    assert (running["status"], running["done"], running["total"], running["percent"]) == (
        "running", 3, 12, 25.0)
    assert running["kind"] == "evidence_pack" and running["created_at"] and not running["result"]
    assert client.get(f"/jobs/{done.id}", headers=me).get_json()["result"] == {"purged": 0}
    assert client.get(f"/jobs/{theirs.id}", headers=me).status_code == 404
    assert client.get("/jobs/999999", headers=me).status_code == 404

    by_kind = client.get("/jobs?kind=evidence_pack", headers=me).get_json()["items"]
    assert [j["id"] for j in by_kind] == [mine.id]
    by_status = client.get("/jobs?status=done", headers=me).get_json()["items"]
    assert [j["id"] for j in by_status] == [done.id]
    refused = client.get("/jobs?status=sleeping", headers=me)
    assert refused.status_code == 422 and "status" in refused.get_json()["error"]["fields"]

    admin = world.login(people["admin"])
    everyone = client.get("/jobs?page_size=2", headers=admin).get_json()
    assert everyone["page"]["total"] == 3 and len(everyone["items"]) == 2
    assert client.get(f"/jobs/{theirs.id}", headers=admin).status_code == 200


def test_the_owner_or_an_administrator_cancels_a_job(world, client, people):
    queued = job_of(people["collector"])
    running = job_of(people["collector"], status="running")
    finished = job_of(people["collector"], status="done")
    theirs = job_of(people["supervisor"])
    me = world.login(people["collector"])

    assert client.post(f"/jobs/{theirs.id}/cancel", headers=me).status_code == 404
    assert db.session.get(Job, theirs.id, populate_existing=True).status == "queued"

    answer = client.post(f"/jobs/{queued.id}/cancel", headers=me).get_json()
    assert answer["status"] == "cancelled" and answer["finished_at"]
    again = client.post(f"/jobs/{queued.id}/cancel", headers=me)
    assert again.status_code == 200  # harmless
    stopping = client.post(f"/jobs/{running.id}/cancel", headers=me).get_json()
    assert stopping["status"] == "running" and stopping["cancel_requested"] is True
    late = client.post(f"/jobs/{finished.id}/cancel", headers=me)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "job_finished"

    admin = world.login(people["admin"])
    assert client.post(f"/jobs/{theirs.id}/cancel", headers=admin).get_json()["status"] == (
        "cancelled")
