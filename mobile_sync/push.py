"""Push: a device's mutations, each applied exactly once, in order, in one transaction.

The batch's transaction locks the device row once, then takes the mutations in order: a
mutation id at or below `last_mutation_id` is a replay (answered from the ledger), one past it
is applied, anything else is a gap. The mutations to apply go in runs (`RUN`), each under one
savepoint flushed once at its end. A business refusal (or a value the columns refuse) in a run
rolls the whole run back, which is then applied again one savepoint per mutation: the refused
one rolls back only its own savepoint and is still answered, advanced and recorded in the
ledger. The batch ends with one write of `last_mutation_id` and one commit, just before which
the change log rebuilds each touched case's document once (`mobile_sync.changelog`).

A transient failure (the database, the file store) stops the batch: what was applied before it
is committed with its answers, the rest is answered `not_applied` with `retry_after` (a run it
stops is applied again one savepoint per mutation, so what came before it in the run is kept).
If that commit fails too, nothing of the batch was kept: every mutation is `not_applied` and
`last_mutation_id` is where it was, so the phone's retry applies them all once."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime

import marshmallow as ma
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import DataError, DBAPIError, OperationalError, PendingRollbackError
from sqlalchemy.orm import Session

from api.models import Case, Device, DeviceMutation
from api.models.types import utcnow
from api.services.compliance.breaches import RuleBreach
from api.services.compliance.refusals import record_refusal
from api.services.exceptions import DomainError, InvalidInput, TemporarilyUnavailable
from api.services.fieldwork.context import ensure_new_record
from api.services.fieldwork.filing import (
    FilingEnvironment,
    apply_record,
    case_for_filer,
    clock_offset,
    field_context,
)
from api.services.identity.accounts import Principal
from mobile_sync.lookups import BatchLookups
from mobile_sync.registry import MUTATIONS
from schemas.common import flatten_messages

RETRY_AFTER_S = 2
# Not the mutation's fault: the phone sends it again later (IntegrityError, a DBAPIError, is a
# uniqueness race with another filer, refused cleanly on retry).
TRANSIENT = (OperationalError, DBAPIError, TemporarilyUnavailable)
RUN = 50  # mutations under one savepoint: what a refusal in the run costs again, one by one


@dataclass(frozen=True)
class PushEnvironment(FilingEnvironment):
    """What mutations may use besides the session, supplied by the caller."""

    lock_timeout_ms: int = 5000


@dataclass
class PushOutcome:
    results: list[dict]
    last_mutation_id: int
    retry_after: int | None = None  # set when a transient failure stopped the batch


def push(
    session: Session,
    *,
    filer: Principal,
    mutations: list[dict],
    env: PushEnvironment,
    device_time: datetime | None = None,
) -> PushOutcome:
    """Apply `mutations` (already shape-checked) from `filer`'s device in order; one result per
    mutation. `device_time` is the phone's clock when it sent the batch: its offset is flagged."""
    offset = clock_offset(device_time)
    device_id = filer.device_id
    session.commit()  # end the read transaction authentication opened: the batch is one
    try:
        last = _lock_device(session, device_id, env.lock_timeout_ms)
        replies = _ledger(session, device_id, [m["mutation_id"] for m in mutations], last)
        lookups = BatchLookups(session, filer, [m for m in mutations if m["mutation_id"] > last])
    except TRANSIENT as exc:
        return _retry_all(session, device_id, mutations, exc)
    answers, failure = _apply_all(session, filer, _in_line(mutations, last), env, offset,
                                  lookups)
    results: list[dict] = []
    ledger: list[dict] = []
    for index, mutation in enumerate(mutations):
        mutation_id = mutation["mutation_id"]
        if mutation_id <= last:
            results.append(_duplicate(mutation_id, replies.get(mutation_id)))
            continue
        if mutation_id != last + 1:
            results.append({"mutation_id": mutation_id, "status": "gap",
                            "expected_mutation_id": last + 1,
                            "message": f"Mutation {last + 1} must come first."})
            results += [_not_applied(m, "follows a gap") for m in mutations[index + 1:]]
            break
        if len(ledger) == len(answers):  # a transient failure stopped the batch here
            results += [_not_applied(m, "temporarily unavailable; retry")
                        for m in mutations[index:]]
            break
        result, row = answers[len(ledger)]
        results.append(result)
        ledger.append(row)
        last = mutation_id
    try:
        if ledger:
            session.execute(insert(DeviceMutation), ledger)
            session.execute(
                update(Device).where(Device.id == device_id).values(last_mutation_id=last))
        session.commit()
    except (*TRANSIENT, PendingRollbackError) as exc:  # nothing of the batch was kept
        return _retry_all(session, device_id, mutations, exc)
    if failure is not None:
        return PushOutcome(results, last, getattr(failure, "retry_after", RETRY_AFTER_S))
    return PushOutcome(results, last)


def _retry_all(session: Session, device_id: str, mutations: list[dict], exc) -> PushOutcome:
    session.rollback()
    results = [_not_applied(m, "temporarily unavailable; retry") for m in mutations]
    return PushOutcome(results, _last(session, device_id),
                       getattr(exc, "retry_after", RETRY_AFTER_S))


def _lock_device(session: Session, device_id: str, lock_timeout_ms: int) -> int:
    """Lock the device row for the batch (a second copy of this push waits here) and answer
    its `last_mutation_id`."""
    _set_lock_timeout(session, lock_timeout_ms)
    return session.execute(
        update(Device)
        .where(Device.id == device_id)
        .values(last_seen_at=utcnow())
        .returning(Device.last_mutation_id)
    ).scalar_one()


def _ledger(session: Session, device_id: str, mutation_ids: list[int], last: int) -> dict:
    """{mutation id: its ledger row} for the batch's replays, in one query."""
    replayed = [m for m in mutation_ids if m <= last]
    if not replayed:
        return {}
    rows = session.scalars(select(DeviceMutation).where(
        DeviceMutation.device_id == device_id, DeviceMutation.mutation_id.in_(replayed)))
    return {row.mutation_id: row for row in rows}


def _in_line(mutations: list[dict], last: int) -> list[dict]:
    """The mutations to apply, in order: each the one past the last, until a gap. (Every one
    applied or refused advances `last_mutation_id`; only a transient failure stops earlier.)"""
    line = []
    for mutation in mutations:
        if mutation["mutation_id"] == last + 1:
            line.append(mutation)
            last += 1
        elif mutation["mutation_id"] > last:
            break
    return line


def _apply_all(
    session: Session,
    filer: Principal,
    line: list[dict],
    env: PushEnvironment,
    offset: float | None,
    lookups: BatchLookups,
) -> tuple[list[tuple[dict, dict]], Exception | None]:
    """Apply `line` in runs of `RUN`: each run under one savepoint, flushed once; a run in
    which anything is refused or fails is rolled back and applied again one savepoint per
    mutation (the same mutations on the same rows: the same answers). The answers and ledger
    rows of the mutations applied, and the transient failure that stopped the batch, if any."""
    answers: list[tuple[dict, dict]] = []
    for start in range(0, len(line), RUN):
        run = line[start : start + RUN]
        done = _apply_run(session, filer, run, env, offset, lookups)
        if done is not None:
            answers += done
            continue
        for mutation in run:  # again, one savepoint each
            try:
                answers.append(_apply_one(session, filer, mutation, env, offset, lookups))
            except TRANSIENT as exc:  # its savepoint is rolled back: keep what came before
                return answers, exc
    return answers, None


def _apply_run(
    session: Session,
    filer: Principal,
    run: list[dict],
    env: PushEnvironment,
    offset: float | None,
    lookups: BatchLookups,
) -> list[tuple[dict, dict]] | None:
    """Apply `run` under one savepoint, flushed once at its end: every mutation's answer and
    ledger row; None, with nothing of the run kept, when one was refused or failed. (What the
    run changed in memory goes with it: the ids it filed here, the change log's and the jobs'
    marks by their savepoint hooks, the rows it wrote expired by the rollback.)"""
    filed, done = lookups.checkpoint(), []
    try:
        with session.begin_nested():
            for mutation in run:
                info, case_id = _apply_payload(session, filer, mutation, env, offset, lookups,
                                               flush=False)
                done.append(_answer(filer, mutation, "applied", info, case_id))
            session.flush()  # what the columns refuse is raised here, inside the savepoint
    except (DomainError, DataError, *TRANSIENT):
        lookups.restore(filed)
        return None
    return done


def _apply_one(
    session: Session,
    filer: Principal,
    mutation: dict,
    env: PushEnvironment,
    offset: float | None,
    lookups: BatchLookups,
) -> tuple[dict, dict]:
    """Apply one mutation in its own savepoint: its answer and its ledger row."""
    status, info, case_id = "applied", {}, None
    try:
        with session.begin_nested():
            info, case_id = _apply_payload(session, filer, mutation, env, offset, lookups)
    except TemporarilyUnavailable:
        raise  # not a refusal: the phone sends this mutation again later
    except DomainError as exc:
        status = "rejected"
        info = {"code": exc.code, "message": exc.message, "fields": _in_payload(exc.fields),
                **exc.details()}
        if isinstance(exc, RuleBreach):  # kept with the mutation's outcome, in its transaction
            record_refusal(session, exc, filer, f"push {str(mutation['type'])[:40]}")
    except DataError:  # a value the schemas let through but the column refuses: not transient
        status = "rejected"
        info = {"code": "invalid_value", "fields": {},
                "message": "A value is out of range or is not storable text."}
    return _answer(filer, mutation, status, info, case_id)


def _answer(
    filer: Principal, mutation: dict, status: str, info: dict, case_id: int | None
) -> tuple[dict, dict]:
    """A mutation's answer and its ledger row."""
    mutation_id = mutation["mutation_id"]
    row = {"device_id": filer.device_id, "mutation_id": mutation_id,
           "type": str(mutation["type"])[:40], "case_id": case_id, "status": status,
           "result": json.dumps(info, ensure_ascii=False), "received_at": utcnow()}
    return {"mutation_id": mutation_id, "status": status, **info}, row


def _apply_payload(
    session: Session,
    filer: Principal,
    mutation: dict,
    env: PushEnvironment,
    offset: float | None,
    lookups: BatchLookups,
    *,
    flush: bool = True,
) -> tuple[dict, int | None]:
    kind = MUTATIONS.get(mutation["type"])
    if kind is None:
        raise InvalidInput(
            f"Unknown mutation type {mutation['type']!r}.",
            fields={"type": [f"one of {sorted(MUTATIONS)}"]},
        )
    try:
        data = _schema(kind.schema).load(mutation["payload"])
    except ma.ValidationError as exc:
        raise InvalidInput(
            "The mutation's payload is not valid.",
            fields={f"payload.{k}": v for k, v in flatten_messages(exc.messages).items()},
        ) from exc
    case, reassigned = _case_for(session, filer, data["case_id"], team=kind.team_may_file)
    record_id = str(data["id"])
    if lookups.may_be_taken(kind.model, record_id):
        ensure_new_record(session, kind.model, record_id)
    ctx = field_context(
        session,
        filer,
        case,
        reassigned=reassigned,
        env=env,
        mutation_id=mutation["mutation_id"],
        client_time=mutation["client_time"],
        clock_offset_s=offset,
        policies=lookups.policy,
        blackouts_of=lookups.blackouts,
        may_have_presences=lookups.may_have_presences,
    )
    flags = apply_record(ctx, kind.apply, data, flush=flush)
    lookups.filed(kind.model, record_id)
    return {"record_id": record_id, "flags": flags}, case.id


@functools.cache
def _schema(schema: type[ma.Schema]) -> ma.Schema:
    """One instance of each payload schema, shared by every push (a load keeps no state in
    it)."""
    return schema()


def _in_payload(fields: dict) -> dict:
    """A service names the fields of the record; a push answer names them inside `payload`."""
    top = ("type", "mutation_id", "client_time", "payload")
    return {k if k.split(".")[0] in top else f"payload.{k}": v for k, v in fields.items()}


def _case_for(
    session: Session, filer: Principal, case_id: int, *, team: bool
) -> tuple[Case, bool]:
    """The case a pusher may file for, and whether it has left them since (then the record is
    kept and flagged). A collector: one they hold or held (the outbox of a phone that was
    offline when it was reassigned), with `team` any of their team's; a supervisor: a case of
    their team. Any other case is answered like a missing one (`payload.case_id`)."""
    return case_for_filer(session, filer, case_id, once_held=True, team=team)


def _duplicate(mutation_id: int, first: DeviceMutation | None) -> dict:
    answer = {"mutation_id": mutation_id, "status": "duplicate"}
    if first is not None:
        answer["original"] = {"status": first.status, **json.loads(first.result)}
    return answer


def _not_applied(mutation: dict, why: str) -> dict:
    return {"mutation_id": mutation["mutation_id"], "status": "not_applied", "message": why}


def _last(session: Session, device_id: str) -> int:
    value = session.scalar(select(Device.last_mutation_id).where(Device.id == device_id))
    session.commit()
    return value or 0


def _set_lock_timeout(session: Session, ms: int) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL lock_timeout = {int(ms)}"))
    else:
        session.execute(text(f"PRAGMA busy_timeout = {int(ms)}"))
