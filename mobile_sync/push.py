"""Push: a device's mutations, each applied exactly once, in order, in its own transaction.

Each mutation's transaction starts by locking the device row, checks the mutation id against
`last_mutation_id`, applies the mutation inside a savepoint, advances `last_mutation_id` and
records the answer in the ledger — all committed together. So a replay (the network lost our
answer) is recognised, a gap is refused, and a business refusal still advances."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import marshmallow as ma
from sqlalchemy import select, text, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
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
from mobile_sync.registry import MUTATIONS
from schemas.common import flatten_messages

RETRY_AFTER_S = 2


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
    session.commit()  # end the read transaction authentication opened: each mutation is its own
    results: list[dict] = []
    for index, mutation in enumerate(mutations):
        try:
            result = _apply_one(session, filer, mutation, env, offset)
            session.commit()
        except (OperationalError, IntegrityError, DBAPIError, TemporarilyUnavailable) as exc:
            session.rollback()
            if isinstance(exc, IntegrityError) and (
                mutation["mutation_id"] <= _last(session, device_id)
            ):  # a concurrent replay of this very mutation won the race
                result = _duplicate(session, device_id, mutation["mutation_id"])
            else:  # the database or the file store (or a uniqueness race with another filer,
                # refused cleanly on retry): nothing of this mutation was kept
                results += [
                    _not_applied(m, "temporarily unavailable; retry") for m in mutations[index:]
                ]
                retry_after = getattr(exc, "retry_after", RETRY_AFTER_S)
                return PushOutcome(results, _last(session, device_id), retry_after)
        results.append(result)
        if result["status"] == "gap":
            results += [_not_applied(m, "follows a gap") for m in mutations[index + 1 :]]
            break
    return PushOutcome(results, _last(session, device_id))


def _apply_one(
    session: Session,
    filer: Principal,
    mutation: dict,
    env: PushEnvironment,
    offset: float | None,
) -> dict:
    device_id = filer.device_id
    _set_lock_timeout(session, env.lock_timeout_ms)
    last = session.execute(
        update(Device)
        .where(Device.id == device_id)
        .values(last_seen_at=utcnow())
        .returning(Device.last_mutation_id)
    ).scalar_one()
    mutation_id = mutation["mutation_id"]
    if mutation_id <= last:
        return _duplicate(session, device_id, mutation_id)
    if mutation_id != last + 1:
        return {
            "mutation_id": mutation_id,
            "status": "gap",
            "expected_mutation_id": last + 1,
            "message": f"Mutation {last + 1} must come first.",
        }
    status, info, case_id = "applied", {}, None
    try:
        with session.begin_nested():
            info, case_id = _apply_payload(session, filer, mutation, env, offset)
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
    session.execute(
        update(Device).where(Device.id == device_id).values(last_mutation_id=mutation_id)
    )
    session.add(
        DeviceMutation(
            device_id=device_id,
            mutation_id=mutation_id,
            type=str(mutation["type"])[:40],
            case_id=case_id,
            status=status,
            result=json.dumps(info, ensure_ascii=False),
        )
    )
    return {"mutation_id": mutation_id, "status": status, **info}


def _apply_payload(
    session: Session,
    filer: Principal,
    mutation: dict,
    env: PushEnvironment,
    offset: float | None,
) -> tuple[dict, int | None]:
    kind = MUTATIONS.get(mutation["type"])
    if kind is None:
        raise InvalidInput(
            f"Unknown mutation type {mutation['type']!r}.",
            fields={"type": [f"one of {sorted(MUTATIONS)}"]},
        )
    try:
        data = kind.schema().load(mutation["payload"])
    except ma.ValidationError as exc:
        raise InvalidInput(
            "The mutation's payload is not valid.",
            fields={f"payload.{k}": v for k, v in flatten_messages(exc.messages).items()},
        ) from exc
    case, reassigned = _case_for(session, filer, data["case_id"], team=kind.team_may_file)
    ensure_new_record(session, kind.model, str(data["id"]))
    ctx = field_context(
        session,
        filer,
        case,
        reassigned=reassigned,
        env=env,
        mutation_id=mutation["mutation_id"],
        client_time=mutation["client_time"],
        clock_offset_s=offset,
    )
    flags = apply_record(ctx, kind.apply, data)
    return {"record_id": str(data["id"]), "flags": flags}, case.id


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


def _duplicate(session: Session, device_id: str, mutation_id: int) -> dict:
    first = session.scalar(
        select(DeviceMutation).where(
            DeviceMutation.device_id == device_id, DeviceMutation.mutation_id == mutation_id
        )
    )
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
