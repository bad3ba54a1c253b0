"""Admins' management of policies: create one, add a dated version, hold a case to one, and
say which governs a case and why. A version is never edited or back-dated."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.config import Policy
from api.models import Case, CompliancePolicy, PolicyVersion
from api.models.compliance import ANY_LENDER
from api.models.types import utcnow
from api.services.compliance import policies
from api.services.exceptions import Conflict, InvalidInput, NotFound

# A version "from now" sent by a phone or a slow client may arrive a little after now.
PAST_SLACK = timedelta(minutes=1)


def create_policy(
    session: Session, *, name: str, jurisdiction: str, lender: str = ANY_LENDER,
    description: str | None = None, rules: dict, effective_from: datetime | None = None,
    note: str | None = None, created_by_id: int | None = None,
) -> CompliancePolicy:
    """A policy for (`jurisdiction`, `lender`) whose version 1 is the jurisdiction's preset
    changed by `rules`."""
    if session.scalar(select(CompliancePolicy.id).where(CompliancePolicy.name == name)):
        raise Conflict("A policy with this name exists.", fields={"name": ["already used"]})
    if session.scalar(select(CompliancePolicy.id).where(
            CompliancePolicy.jurisdiction == jurisdiction, CompliancePolicy.lender == lender)):
        raise Conflict(
            f"Lender {lender} already has a policy in {jurisdiction}: add a version to it.",
            fields={"lender": ["already has a policy in this jurisdiction"]})
    merged = _checked(policies.preset_for(jurisdiction), rules)
    policy = CompliancePolicy(name=name, jurisdiction=jurisdiction, lender=lender,
                              description=description)
    session.add(policy)
    session.flush()
    policies.add_version(session, policy, merged, effective_from=_when(effective_from),
                         note=note, created_by_id=created_by_id)
    return policy


def add_policy_version(
    session: Session, policy_id: int, *, rules: dict, effective_from: datetime | None = None,
    note: str | None = None, created_by_id: int | None = None,
) -> PolicyVersion:
    """The next version: the latest one's settings changed by `rules`, in effect from
    `effective_from` (now or later)."""
    policy = get_policy(session, policy_id)
    latest = session.scalar(select(PolicyVersion).where(PolicyVersion.policy_id == policy.id)
                            .order_by(PolicyVersion.version.desc()).limit(1))
    base = policies.as_policy(latest) if latest else policies.preset_for(policy.jurisdiction)
    start = _when(effective_from)
    if latest is not None and latest.effective_from > start:
        # It would be overtaken when the later one starts, its change silently dropped.
        raise Conflict(
            f"Version {latest.version} of {policy.name} is scheduled from "
            f"{latest.effective_from:%Y-%m-%d %H:%M} UTC: a new version must take effect at or "
            "after it.", fields={"effective_from": ["before a version already scheduled"]})
    return policies.add_version(session, policy, _checked(base, rules), effective_from=start,
                                note=note, created_by_id=created_by_id)


def get_policy(session: Session, policy_id: int) -> CompliancePolicy:
    policy = session.get(CompliancePolicy, policy_id)
    if policy is None:
        raise NotFound("No such policy.", fields={"policy_id": ["no such policy"]})
    return policy


def policy_view(session: Session, policy: CompliancePolicy, now: datetime) -> dict:
    current = policies.version_at(session, policy.id, now)
    return {
        "id": policy.id, "name": policy.name, "jurisdiction": policy.jurisdiction,
        "lender": policy.lender, "description": policy.description,
        "created_at": policy.created_at,
        "current": version_view(current) if current else None,
        "versions": [version_view(v) for v in policy.versions],
    }


def version_view(row: PolicyVersion) -> dict:
    return {"id": row.id, "version": row.version, "effective_from": row.effective_from,
            "note": row.note, "created_by_id": row.created_by_id, "created_at": row.created_at,
            "rules": policies.rules_of(policies.as_policy(row))}


def hold_case_to(session: Session, case: Case, policy_id: int | None) -> None:
    """Hold `case` to a policy of its jurisdiction, or (None) to its lender's default."""
    if policy_id is not None:
        policy = session.get(CompliancePolicy, policy_id)
        if policy is None:
            raise InvalidInput("No such policy.", fields={"policy_id": ["no such policy"]})
        if policy.jurisdiction != case.jurisdiction:
            raise InvalidInput(
                f"Policy {policy.name} is for {policy.jurisdiction}; this case is under "
                f"{case.jurisdiction} law.",
                fields={"policy_id": ["for another jurisdiction"]})
    case.policy_id = policy_id


def case_policy_view(session: Session, case: Case, now: datetime) -> dict:
    row = policies.policy_row_for_case(session, case)
    applied = policies.policy_for_case(session, case, now)
    if applied.version_id is None:
        chosen_by = "preset"
    elif case.policy_id is not None:
        chosen_by = "case"
    else:
        chosen_by = "jurisdiction" if row.lender == ANY_LENDER else "lender"
    return {"case_id": case.id, "lender": case.lender, "jurisdiction": case.jurisdiction,
            "chosen_by": chosen_by, "policy": applied.name, "version": applied.version,
            "rules": policies.rules_of(applied)}


def _when(effective_from: datetime | None) -> datetime:
    now = utcnow()
    if effective_from is None:
        return now
    if effective_from < now - PAST_SLACK:
        raise InvalidInput(
            "A policy version cannot take effect in the past: verdicts already given under "
            "the version then in effect keep their meaning.",
            fields={"effective_from": ["must not be in the past"]})
    return effective_from


def _checked(base: Policy, changes: dict) -> Policy:
    """`base` with `changes`, checked as a whole (end after start, known time zone…)."""
    merged = {**policies.rules_of(base), **changes}
    try:
        return Policy(**merged, name=base.name)
    except ValidationError as error:
        fields: dict[str, list[str]] = {}
        for problem in error.errors():
            name = ".".join(str(p) for p in problem["loc"]) or "rules"
            fields.setdefault(f"rules.{name}", []).append(problem["msg"])
        raise InvalidInput("Some policy settings are not valid: " + ", ".join(fields),
                           fields=fields) from None


