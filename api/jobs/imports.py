"""The `import` job: a lender file taken in chunks, each committed with its progress, so a
phone's delta pull is held back by one chunk at most (docs/import-format.md)."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import current_app
from sqlalchemy.orm import Session

from api.jobs import JobContext, acting_principal, enqueue, job_kind
from api.models import ImportRun, Job, Role
from api.services.imports import runs
from mobile_sync.changelog import Publisher

IMPORT_JOB = "import"
IMPORT_ROLES = (Role.ADMIN,)
# Called after each committed chunk of any import job in this process, with the run's id, the
# records done and the total, holding no transaction (the command line's progress bar; tests
# pause an import between two chunks through it).
AFTER_CHUNK: list[Callable[[int, int, int | None], None]] = []


@job_kind(IMPORT_JOB)
def run_import(ctx: JobContext) -> dict:
    """Payload: `{"import_run_id": ...}`. Progress counts records; the result is the run's
    counts (`GET /imports/{id}` has them with the row errors). A job without an actor is the
    command line's (`fieldvisit import`): only the server's own code asks for one."""
    principal = None  # the command line's, which acts for nobody in particular
    if ctx.actor_id is not None:
        principal = acting_principal(ctx.session, ctx.actor_id, *IMPORT_ROLES)
    config = current_app.config["FIELDVISIT"]
    cipher = current_app.extensions["fieldvisit.pii"]
    return runs.run_queued(
        ctx.session, cipher, current_app.extensions["fieldvisit.blobs"],
        ctx.payload["import_run_id"], principal, ctx.checkpoint, config.import_chunk_rows,
        _after_chunk, Publisher(cipher))


def _after_chunk(run_id: int, done: int, total: int | None) -> None:
    for hook in list(AFTER_CHUNK):
        hook(run_id, done, total)


def ask_for_job(session: Session, run: ImportRun, *, send: bool = True) -> Job:
    """The run's job, in the caller's transaction: sent to the queue once it commits, or
    (`send=False`) left for the caller to run itself with `api.jobs.run` (the command line,
    and `POST /imports?wait=true`: no worker needed, none races it)."""
    payload = {"import_run_id": run.id}
    if send:
        job = enqueue(session, IMPORT_JOB, payload, actor_id=run.started_by_id, total=run.total)
    else:
        job = Job(kind=IMPORT_JOB, payload=json.dumps(payload), created_by_id=run.started_by_id,
                  total=run.total)
        session.add(job)
        session.flush()
    run.job_id = job.id
    return job
