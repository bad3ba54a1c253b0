"""Retention as a `retention_purge` job: the same verdicts as the command, in chunks that each
commit with their audit row; a run stopped half way keeps what it committed and the next one
finishes; an administrator starts it over the API, the CLI with --background."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from api import jobs
from api.commands.compliance import command as compliance_cli
from api.extensions import db
from api.models import AuditEvent, Case, Debtor, Role
from api.models.types import utcnow
from api.services.compliance import retention
from tests.compliance.test_retention import dry_run, estate  # noqa: F401 (the fixture)


def purge_rows() -> list[dict]:
    db.session.rollback()
    return [json.loads(d) for d in db.session.scalars(
        select(AuditEvent.detail).where(AuditEvent.action == "compliance.purge")
        .order_by(AuditEvent.id))]


@pytest.mark.rule("retention", preset="CN")
def test_an_administrator_runs_retention_as_a_job_like_the_command(
        app, world, client, estate):  # noqa: F811
    expected = dry_run(app)
    db.session.rollback()
    collector = world.login(world.user(Role.COLLECTOR, world.team()))
    assert client.post("/compliance/purge-runs", json={"dry_run": True},
                       headers=collector).status_code == 403
    admin = world.login(world.user(Role.ADMIN))
    missing = client.post("/compliance/purge-runs", json={}, headers=admin)
    assert missing.status_code == 422 and "dry_run" in missing.get_json()["error"]["fields"]

    accepted = client.post("/compliance/purge-runs", json={"dry_run": True}, headers=admin)
    assert accepted.status_code == 202 and accepted.get_json()["kind"] == "retention_purge"
    end = jobs.wait(db.session, accepted.get_json()["id"], 60)
    assert end.status == "done", end.error
    result = json.loads(end.result)
    assert sorted(result["purged_case_ids"]) == sorted(v.case_id for v in expected.purged)
    assert sorted(result["anonymised_debtor_ids"]) == sorted(expected.debtors_anonymised)
    assert result["kept"] == {"within_retention": 1, "open": 1, "legal_hold": 1}
    assert (end.done, end.total) == (6, 6)
    assert all(db.session.get(Case, c.id).purged_at is None for c in estate.values())

    started = client.post("/compliance/purge-runs", json={"dry_run": False}, headers=admin)
    end = jobs.wait(db.session, started.get_json()["id"], 60)
    assert end.status == "done", end.error
    db.session.expire_all()
    purged = {c.id for c in db.session.scalars(select(Case).where(Case.purged_at.is_not(None)))}
    assert purged == {v.case_id for v in expected.purged}
    for debtor_id in expected.debtors_anonymised:
        assert db.session.get(Debtor, debtor_id).anonymised_at is not None
    kept = db.session.get(Debtor, estate["recent"].debtor_id)
    assert kept.anonymised_at is None
    rows = purge_rows()
    assert [r["dry_run"] for r in rows] == [True, False, False]  # the dry run; a chunk, the run
    assert rows[1]["chunk"] == 1 and rows[1]["run"] == {"job_id": end.id}
    assert sorted(rows[2]["purged_case_ids"]) == sorted(purged) == sorted(
        rows[1]["purged_case_ids"])


@pytest.mark.rule("retention", preset="CN")
def test_a_run_stopped_after_a_chunk_keeps_it_and_the_next_run_finishes(
        app, estate):  # noqa: F811
    blobs, cipher = app.extensions["fieldvisit.blobs"], app.extensions["fieldvisit.pii"]
    first = estate["expired"]  # the lowest id: alone in the first chunk of one case

    def stop_after_the_first_chunk(done: int, total: int) -> None:
        db.session.commit()  # what a job's checkpoint does ...
        if done >= 1:
            raise jobs.Cancelled  # ... once someone asked it to stop

    with pytest.raises(jobs.Cancelled):
        retention.run_in_chunks(db.session, blobs, cipher, utcnow(), dry_run=False,
                                checkpoint=stop_after_the_first_chunk, chunk=1)
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Case, first.id).purged_at is not None
    assert db.session.get(Debtor, first.debtor_id).anonymised_at is not None
    assert db.session.get(Case, estate["just_expired"].id).purged_at is None
    (row,) = purge_rows()
    assert row["purged_case_ids"] == [first.id] and row["anonymised_debtor_ids"] == [
        first.debtor_id]

    result = retention.run_in_chunks(db.session, blobs, cipher, utcnow(), dry_run=False,
                                     checkpoint=lambda done, total: db.session.commit())
    db.session.commit()
    assert sorted(result["purged_case_ids"]) == sorted(
        [estate["expired_sibling"].id, estate["just_expired"].id])
    assert result["anonymised_debtor_ids"] == [estate["just_expired"].debtor_id]
    assert not dry_run(app).purged


@pytest.mark.rule("retention", preset="CN")
def test_the_command_runs_in_the_background_with_progress(app, estate):  # noqa: F811
    result = app.test_cli_runner().invoke(
        compliance_cli, ["purge", "--background", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dry_run"] is True and report["purged"] == 3
    result = app.test_cli_runner().invoke(compliance_cli, ["purge", "--background"])
    assert result.exit_code == 0, result.output
    assert "purged 3 case(s)" in result.output and "anonymised 2 debtor(s)" in result.output
    assert "1 legal_hold" in result.output
