"""Who sees and steers which job: a user their own, an administrator every one. Another user's
job answers 404, like every record one may not see (its existence must not leak)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.jobs import request_cancel
from api.models import FINISHED, Job, JobStatus, Role
from api.services.exceptions import Conflict, NotFound
from api.services.identity.accounts import Principal


def visible_jobs(principal: Principal, *, kind: str | None = None,
                 status: str | None = None) -> Select:
    stmt = select(Job)
    if principal.role is not Role.ADMIN:
        stmt = stmt.where(Job.created_by_id == principal.user_id)
    if kind is not None:
        stmt = stmt.where(Job.kind == kind)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    return stmt


def get_visible_job(session: Session, principal: Principal, job_id: int) -> Job:
    job = session.scalar(visible_jobs(principal).where(Job.id == job_id))
    if job is None:
        raise NotFound("No such job.")
    return job


def cancel_job(session: Session, principal: Principal, job_id: int) -> Job:
    """Ask the job to stop (the caller commits): a queued one is cancelled at once, a running one
    at its next checkpoint. Cancelling a cancelled job again is harmless; a job that has
    finished otherwise is a `Conflict`."""
    job = get_visible_job(session, principal, job_id)
    if job.status in FINISHED and job.status != JobStatus.CANCELLED:
        raise Conflict(f"The job has already finished ({job.status}).",
                       fields={"job_id": [f"already {job.status}"]}, code="job_finished")
    request_cancel(session, job)
    session.flush()
    return job


def describe(job: Job) -> dict[str, Any]:
    """A job as the API shows it: its state and progress, and its result once done (the
    payload stays inside: it is the kind's own business)."""
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "cancel_requested": job.cancel_requested,
        "created_by_id": job.created_by_id,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "error": job.error,
        "result": json.loads(job.result) if job.result else None,
    }
