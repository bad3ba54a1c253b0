"""Filing a field record, whether pushed from a phone's outbox or posted online: who may file
for which case, and the `FieldContext` the record's service is given. Push (`mobile_sync.push`)
and the online routes (`api.resources.filing`) both come through here, so both run the same
rules and store the same records, flags and change-log entries."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Assignment, Case, Role
from api.models.types import utcnow
from api.services.compliance.policies import policy_for_case
from api.services.exceptions import Conflict, InvalidInput, NotFound
from api.services.fieldwork.context import FieldContext, ensure_new_record
from api.services.identity.accounts import Principal

ONLINE_MUTATION_ID = 0  # an online filing has no place in a phone's outbox


@dataclass(frozen=True)
class FilingEnvironment:
    """What a record's service may use besides the session, supplied by the caller (the
    policy is the case's: `compliance.policies.policy_for_case`)."""

    cipher: Any = None  # api.services.identity.pii.PiiCipher
    blobs: Any = None  # api.services.evidence.storage.BlobStore
    verify_cosign: Callable[[str, datetime, datetime], int | None] | None = None


@dataclass(frozen=True)
class Filed:
    type: str
    record_id: str
    flags: list[str]


class AlreadyFiled(Conflict):
    """The id names a record this filer already filed on this case (a retry whose answer was
    lost): nothing is changed, the caller is pointed at the stored record."""

    code = "already_filed"

    def __init__(self, record_type: str, record_id: str):
        super().__init__(
            "This record was already filed; it is not changed.",
            fields={"id": ["already filed"]},
        )
        self.record_type, self.record_id = record_type, record_id


def case_for_filer(
    session: Session,
    filer: Principal,
    case_id: int,
    *,
    once_held: bool = False,
    team: bool = False,
) -> tuple[Case, bool]:
    """The case `filer` may file for, and whether it has left them since (then the record is
    kept and flagged `case_reassigned`). A collector files for the case they hold, with
    `team` (a presence at a team-mate's visit) for any case of their team, or with
    `once_held` (the outbox of a phone that was offline) for one they held; a supervisor for
    a case of their team. Any other case is answered like a missing one."""
    case = session.get(Case, case_id)
    if case is not None:
        same_team = filer.team_id is not None and case.team_id == filer.team_id
        if filer.role is Role.SUPERVISOR:
            if same_team:
                return case, False
        elif filer.role is Role.COLLECTOR:
            if case.collector_id == filer.user_id or (team and same_team):
                return case, False
            if once_held and session.scalar(
                select(Assignment.id)
                .where(Assignment.case_id == case_id, Assignment.collector_id == filer.user_id)
                .limit(1)
            ):
                return case, True
    raise NotFound("No such case.", fields={"case_id": ["no such case"]})


def field_context(
    session: Session,
    filer: Principal,
    case: Case,
    *,
    reassigned: bool,
    env: FilingEnvironment,
    mutation_id: int,
    client_time: datetime,
    clock_offset_s: float | None,
    policies: Callable[[Case, datetime], Any] | None = None,
    blackouts_of: Callable[[int], list] | None = None,
    may_have_presences: Callable[[int], bool] | None = None,
) -> FieldContext:
    """`policies`, `blackouts_of` and `may_have_presences`: look-ups a push batch read once
    for all its mutations (default: a query each)."""
    return FieldContext(
        session=session,
        user_id=filer.user_id,
        device_id=filer.device_id,
        mutation_id=mutation_id,
        client_time=client_time,
        case=case,
        case_reassigned=reassigned,
        # The version in effect when the phone made the record; a clock ahead of the
        # server's cannot choose a version not yet in effect.
        policy=(policies or partial(policy_for_case, session))(case, min(client_time, utcnow())),
        cipher=env.cipher,
        blobs=env.blobs,
        verify_cosign=env.verify_cosign,
        clock_offset_s=clock_offset_s,
        blackouts_of=blackouts_of,
        may_have_presences=may_have_presences,
    )


def apply_record(
    ctx: FieldContext,
    apply: Callable[[FieldContext, dict], object],
    data: dict,
    *,
    flush: bool = True,
) -> list[str]:
    """Run the record's service, then flush (a value the columns refuse is raised here, not at
    commit; `flush=False` leaves it to the caller, as a push run flushes once for its
    mutations); the flags it raised, and `case_reassigned` when it applies."""
    apply(ctx, data)
    if flush:
        ctx.session.flush()
    return ctx.flags + (["case_reassigned"] if ctx.case_reassigned else [])


def clock_offset(device_time: datetime | None) -> float | None:
    """How far the device's clock is from the server's (None when the device did not say)."""
    return (device_time - utcnow()).total_seconds() if device_time else None


def file_online(
    session: Session,
    filer: Principal,
    case_id: int,
    *,
    record_type: str,
    model: type,
    apply: Callable[[FieldContext, dict], object],
    data: dict,
    env: FilingEnvironment,
    team: bool = False,
) -> Filed:
    """File one record posted online. `data` is the record's payload (loaded by its schema),
    with optional `id` (a fresh UUID when absent), `case_id` (must be the path's),
    `client_time` (when the record was made; default `device_time`, else now) and
    `device_time` (the client's clock now: its offset is flagged as a phone's is). `team`: any
    collector of the case's team may file it (`MutationType.team_may_file`)."""
    data = dict(data)
    client_time, device_time = data.pop("client_time", None), data.pop("device_time", None)
    if data.get("case_id") not in (None, case_id):
        raise InvalidInput(
            "case_id differs from the case in the path.",
            fields={"case_id": ["must be the case in the path, or left out"]},
        )
    case, reassigned = case_for_filer(session, filer, case_id, team=team)
    data["case_id"] = case.id
    data["id"] = data.get("id") or uuid.uuid4()
    record_id = str(data["id"])
    existing = session.get(model, record_id)
    if (
        existing is not None
        and existing.case_id == case.id
        and existing.author_id == filer.user_id
    ):
        raise AlreadyFiled(record_type, record_id)
    ensure_new_record(session, model, record_id)
    ctx = field_context(
        session,
        filer,
        case,
        reassigned=reassigned,
        env=env,
        mutation_id=ONLINE_MUTATION_ID,
        client_time=client_time or device_time or utcnow(),
        clock_offset_s=clock_offset(device_time),
    )
    return Filed(record_type, record_id, apply_record(ctx, apply, data))
