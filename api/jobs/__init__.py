"""Background jobs: the kinds of work, how to ask for one, and how a worker runs it.

A job is a row (`api.models.Job`) plus a message carrying its id on a dramatiq queue
(`api.jobs.queue`): in-process by default, Redis or RabbitMQ in production. The row is written
in the caller's transaction and the message is sent after that transaction commits, so a worker
never sees an id that is not there, and a rolled-back request leaves no job behind.

A kind is a function of a `JobContext`, registered with `@job_kind("name")`. It does its work
in `ctx.session`, calling `ctx.checkpoint(done, total)` between chunks: that records the
progress, commits the chunk with it, and raises `Cancelled` once someone asked to stop.

A kind registered with `retries=N` is tried again, up to N times with a growing delay (dramatiq's
retries and backoff, `api.jobs.queue`), when it fails on an unexpected error (a refusal, a
`DomainError`, is final at once); its `on_failure(session, payload, error)` runs once it has
failed for good, so what it was to make is marked failed instead of waiting forever."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from api.models import FINISHED, Job, JobStatus, Role, User
from api.models.types import utcnow
from api.services.exceptions import DomainError, TemporarilyUnavailable
from api.services.identity.accounts import Principal

log = logging.getLogger(__name__)

_PENDING = "fieldvisit.jobs.pending"
_MARKS = "fieldvisit.jobs.savepoints"
KINDS: dict[str, Callable[[JobContext], dict | None]] = {}
OnFailure = Callable[[Session, dict, str], None]
_RETRIES: dict[str, int] = {}
_ON_FAILURE: dict[str, OnFailure] = {}
MAX_RETRIES = 10  # the most a kind may ask for


class Cancelled(Exception):
    """Raised by `JobContext.checkpoint` once the job was asked to stop."""


class RetryLater(Exception):
    """Raised by `run` when a job failed and will be tried again: the queue (dramatiq) sends it
    again after its backoff. The job is `queued` meanwhile, its `error` saying so."""


def job_kind(name: str, *, retries: int = 0, on_failure: OnFailure | None = None):
    """Register a function of a `JobContext` as the job kind `name`, tried again up to
    `retries` times after an unexpected error; `on_failure(session, payload, error)` runs once
    it has failed for good (then committed)."""
    if not 0 <= retries <= MAX_RETRIES:
        raise ValueError(f"retries of job kind {name!r} must be 0..{MAX_RETRIES}")

    def register(fn: Callable[[JobContext], dict | None]):
        if name in KINDS and KINDS[name] is not fn:
            raise ValueError(f"job kind {name!r} is registered twice")
        KINDS[name], _RETRIES[name] = fn, retries
        if on_failure is not None:
            _ON_FAILURE[name] = on_failure
        return fn

    return register


@dataclass
class JobContext:
    """What a running job sees: its id, actor and payload, and the session it works in. (They
    are read once: touching the row after a checkpoint would open a transaction, and on SQLite
    a job's transaction holds the write lock.)"""

    job_id: int
    actor_id: int | None
    payload: dict[str, Any]
    session: Session

    def checkpoint(self, done: int, total: int | None = None) -> None:
        """Record `done` (of `total`) and commit everything done so far with it; raise
        `Cancelled` if the job was asked to stop (what was committed stays)."""
        values: dict[str, Any] = {"done": done, "heartbeat_at": utcnow()}
        if total is not None:
            values["total"] = total
        cancel = self.session.execute(
            update(Job).where(Job.id == self.job_id).values(**values)
            .returning(Job.cancel_requested)
        ).scalar_one()
        self.session.commit()
        if cancel:
            raise Cancelled


def acting_principal(session: Session, actor_id: int | None, *roles: Role) -> Principal:
    """Who a job acts for, read again when it runs: a user since deactivated, or no longer in
    one of `roles`, fails the job rather than acting with rights they lost."""
    user = session.get(User, actor_id) if actor_id is not None else None
    if user is None or not user.is_active or (roles and user.role not in roles):
        raise DomainError("The user who asked for this job may no longer do it.")
    return Principal(user.id, user.role, user.team_id, None)


def enqueue(session: Session, kind: str, payload: dict | None = None, *,
            actor_id: int | None = None, total: int | None = None) -> Job:
    """Ask for a job in the caller's transaction; it is sent to the queue once that commits."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job(kind=kind, payload=json.dumps(payload or {}, ensure_ascii=False, default=str),
              created_by_id=actor_id, total=total)
    session.add(job)
    session.flush()
    session.info.setdefault(_PENDING, []).append(job.id)
    return job


def request_cancel(session: Session, job: Job) -> None:
    """Ask a job to stop (the caller commits): a queued one is cancelled at once, a running one
    stops at its next checkpoint, a finished one is left as it is."""
    if job.status == JobStatus.QUEUED:
        job.status, job.finished_at = JobStatus.CANCELLED, utcnow()
    if job.status not in FINISHED:
        job.cancel_requested = True


def run(session: Session, job_id: int, *, attempt: int | None = None) -> None:
    """Run one job to its end (the worker's side): claim it, call its kind, record the end.
    A job another worker claimed, or one that was cancelled while queued, is left alone.
    `attempt`: how many times the queue ran it before (None: a direct call, never retried). A
    kind with retries left that fails on an unexpected error is queued again and `RetryLater`
    raised; one that failed for good has its `on_failure` run."""
    claimed = session.execute(
        update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED)
        .values(status=JobStatus.RUNNING, started_at=utcnow(), heartbeat_at=utcnow())
    ).rowcount
    session.commit()
    if not claimed:
        return
    job = session.get(Job, job_id)
    kind, payload, fn = job.kind, json.loads(job.payload), KINDS.get(job.kind)
    status, result, error = JobStatus.DONE, None, None
    try:
        if fn is None:
            raise DomainError(f"This server does not know job kind {kind!r}.")
        result = fn(JobContext(job_id, job.created_by_id, payload, session))
        session.commit()
    except Cancelled:
        session.rollback()
        status = JobStatus.CANCELLED
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, TemporarilyUnavailable):  # a store out of reach: try again later
            _retry_if_left(session, job_id, kind, attempt, exc)
        status, error = JobStatus.FAILED, exc.message  # a refusal: trying again changes nothing
    except Exception as exc:
        session.rollback()
        done = _retry_if_left(session, job_id, kind, attempt, exc)
        status, error = JobStatus.FAILED, (
            f"The job failed on an internal error ({type(exc).__name__}) after {done} "
            "attempt(s); see the server's logs.")
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "error": error}
    if result is not None:
        values["result"] = json.dumps(result, ensure_ascii=False, default=str)
    session.execute(update(Job).where(Job.id == job_id).values(**values))
    session.commit()
    if status is JobStatus.FAILED and kind in _ON_FAILURE:
        _ON_FAILURE[kind](session, payload, error)
        session.commit()


def _retry_if_left(session: Session, job_id: int, kind: str, attempt: int | None,
                   exc: Exception) -> int:
    """An attempt failed on an unexpected error (or a store out of reach): with retries left
    the job is queued again and `RetryLater` raised; else answers how many attempts it had."""
    tries, done = _RETRIES.get(kind, 0) + 1, 1 if attempt is None else attempt + 1
    log.exception("job failed", extra={"job_id": job_id, "attempt": done, "tries": tries})
    if attempt is not None and done < tries:
        session.execute(update(Job).where(Job.id == job_id).values(
            status=JobStatus.QUEUED, heartbeat_at=utcnow(),
            error=f"Attempt {done} of {tries} failed ({type(exc).__name__}); it is tried "
                  "again shortly."))
        session.commit()
        raise RetryLater(f"job {job_id}: attempt {done} of {tries} failed") from exc
    return done


def recover(session: Session, stale_after_s: float = 300) -> list[int]:
    """At a worker's start: fail the running jobs nobody has heard of for `stale_after_s`
    (their worker died) and return the ids of queued ones, to be sent again (an in-process
    queue forgets its messages when the process ends; a second send of a job is harmless)."""
    cutoff = utcnow().timestamp() - stale_after_s
    for job in session.scalars(select(Job).where(Job.status == JobStatus.RUNNING)):
        beat = job.heartbeat_at or job.started_at
        if beat is None or beat.timestamp() < cutoff:
            job.status, job.finished_at = JobStatus.FAILED, utcnow()
            job.error = "The worker running this job stopped; start it again."
    queued = list(session.scalars(select(Job.id).where(Job.status == JobStatus.QUEUED)))
    session.commit()
    return queued


def wait(session: Session, job_id: int, timeout_s: float = 60, poll_s: float = 0.02) -> Job:
    """Block until the job has finished (for the CLI and tests); TimeoutError after
    `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        session.rollback()  # a fresh snapshot each look
        job = session.get(Job, job_id, populate_existing=True)
        if job is None or job.status in FINISHED:
            return job
        status = job.status
        session.rollback()  # hold no transaction while asleep (on SQLite: no lock)
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {status} after {timeout_s} s")
        time.sleep(poll_s)


def _send_pending(session: Session) -> None:
    """After a commit: send the jobs of the transaction, once its OUTERMOST level commits (a
    savepoint's release fires `after_commit` too, while the outer transaction may still roll
    back, and a worker must never be sent an id it cannot see yet)."""
    if session.in_nested_transaction():
        return
    ids = session.info.pop(_PENDING, None)
    session.info.pop(_MARKS, None)
    if ids:
        queue = current_app.extensions["fieldvisit.jobs"]
        for job_id in ids:
            queue.send(job_id)


def _mark_pending(session: Session, transaction) -> None:
    """At a savepoint: remember how many jobs were asked for before it."""
    if transaction.nested:
        marks = session.info.setdefault(_MARKS, {})
        marks[id(transaction)] = len(session.info.get(_PENDING, ()))


def _drop_pending(session: Session, previous_transaction) -> None:
    """After a rollback: forget the jobs it undid (all of them, or a savepoint's)."""
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_MARKS, None)
        return
    mark = session.info.get(_MARKS, {}).pop(id(previous_transaction), None)
    pending = session.info.get(_PENDING)
    if mark is not None and pending is not None:
        del pending[mark:]


def install(session_class: type[Session]) -> None:
    """Send a transaction's jobs when it commits; forget them when it (or the savepoint that
    asked for them) rolls back."""
    if event.contains(session_class, "after_commit", _send_pending):
        return
    event.listen(session_class, "after_commit", _send_pending)
    event.listen(session_class, "after_transaction_create", _mark_pending)
    event.listen(session_class, "after_soft_rollback", _drop_pending)
