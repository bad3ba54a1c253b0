"""Which policy version governs a case at a moment.

A case's policy is the one assigned to it (by an import or an admin), else its lender's in its
jurisdiction, else the jurisdiction's (lender `*`), else the built-in preset. Within a policy,
the version in effect is the latest whose `effective_from` is not after the moment; before the
first one, the preset applies. Verdicts record the version they were judged under
(`Policy.ref`), so a later version never rewrites them."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from api.config import Policy
from api.models import Case, CompliancePolicy, PolicyVersion
from api.models.compliance import ANY_LENDER
from api.services.compliance.presets import PRESETS

IDENTITY = ("name", "version", "version_id")
SINCE_EVER = datetime(2000, 1, 1, tzinfo=UTC)  # when the presets take effect


def rules_of(policy: Policy) -> dict:
    """The rule settings of `policy`, without its identity (what a version stores)."""
    return {k: v for k, v in dataclasses.asdict(policy).items() if k not in IDENTITY}


RULE_FIELDS = frozenset(f.name for f in dataclasses.fields(Policy)) - set(IDENTITY)


def as_policy(row: PolicyVersion) -> Policy:
    """The stored version as a Policy; a setting it predates takes today's default."""
    rules = {k: v for k, v in json.loads(row.rules).items() if k in RULE_FIELDS}
    return Policy(**rules, name=row.policy.name, version=row.version, version_id=row.id)


def preset_for(jurisdiction: str) -> Policy:
    return PRESETS.get(jurisdiction, PRESETS["CN"])


def policy_row_for_case(session: Session, case: Case) -> CompliancePolicy | None:
    if case.policy_id is not None:
        return session.get(CompliancePolicy, case.policy_id)
    rows = session.scalars(
        select(CompliancePolicy).where(
            CompliancePolicy.jurisdiction == case.jurisdiction,
            or_(CompliancePolicy.lender == case.lender, CompliancePolicy.lender == ANY_LENDER),
        )
    ).all()
    return min(rows, key=lambda r: r.lender == ANY_LENDER, default=None)


def version_at(session: Session, policy_id: int, at: datetime) -> PolicyVersion | None:
    return session.scalar(
        select(PolicyVersion)
        .where(PolicyVersion.policy_id == policy_id, PolicyVersion.effective_from <= at)
        .order_by(PolicyVersion.effective_from.desc(), PolicyVersion.version.desc())
        .limit(1)
    )


def policy_for_case(session: Session, case: Case, at: datetime) -> Policy:
    """The policy version in effect for `case` at `at` (its rules, name, version, version_id)."""
    row = policy_row_for_case(session, case)
    version = version_at(session, row.id, at) if row is not None else None
    return as_policy(version) if version is not None else preset_for(case.jurisdiction)


def policy_by_ref(session: Session, ref: str) -> Policy | None:
    """The version a verdict names (`cn-default@2`), or None when it is not stored (a preset
    judged before the database held it)."""
    name, _, number = ref.rpartition("@")
    row = session.scalar(
        select(PolicyVersion).join(CompliancePolicy)
        .where(CompliancePolicy.name == name, PolicyVersion.version == int(number)))
    return as_policy(row) if row is not None else None


def store_version(
    session: Session,
    jurisdiction: str,
    rules: Policy,
    *,
    effective_from: datetime,
    lender: str = ANY_LENDER,
    note: str | None = None,
    created_by_id: int | None = None,
) -> Policy:
    """A new version of the policy for (`jurisdiction`, `lender`) with `rules`' settings,
    creating the policy (named `rules.name`) when there is none yet."""
    policy = session.scalar(select(CompliancePolicy).where(
        CompliancePolicy.jurisdiction == jurisdiction, CompliancePolicy.lender == lender))
    if policy is None:
        name = rules.name
        if session.scalar(select(CompliancePolicy.id).where(CompliancePolicy.name == name)):
            name = f"{name}-{jurisdiction.lower()}-{lender}"[:64]
        policy = CompliancePolicy(name=name, jurisdiction=jurisdiction, lender=lender)
        session.add(policy)
        session.flush()
    return as_policy(add_version(session, policy, rules, effective_from=effective_from,
                                 note=note, created_by_id=created_by_id))


def add_version(
    session: Session,
    policy: CompliancePolicy,
    rules: Policy,
    *,
    effective_from: datetime,
    note: str | None = None,
    created_by_id: int | None = None,
) -> PolicyVersion:
    """The next version of `policy`, holding `rules`' settings from `effective_from`."""
    latest = session.scalar(select(func.max(PolicyVersion.version))
                            .where(PolicyVersion.policy_id == policy.id)) or 0
    row = PolicyVersion(policy=policy, version=latest + 1, effective_from=effective_from,
                        rules=json.dumps(rules_of(rules), sort_keys=True), note=note,
                        created_by_id=created_by_id)
    session.add(row)
    session.flush()
    return row


def phone_policies(session: Session, now: datetime) -> list[dict]:
    """Every policy with its versions in effect from `now` on (the current one and any
    scheduled), and each jurisdiction's preset where no policy covers all its lenders: what a
    phone needs to judge, offline, what it files today and later."""
    out = []
    covered = set()
    policies = session.scalars(select(CompliancePolicy).order_by(CompliancePolicy.id)
                               .options(selectinload(CompliancePolicy.versions)))
    for policy in policies:  # two statements in all: every pull asks
        started = [v for v in policy.versions if v.effective_from <= now]
        current = max(started, key=lambda v: (v.effective_from, v.version), default=None)
        versions = [v for v in policy.versions if v.effective_from > now or v is current]
        if policy.lender == ANY_LENDER and current is not None:
            covered.add(policy.jurisdiction)
        out.append({"id": policy.id, "name": policy.name, "jurisdiction": policy.jurisdiction,
                    "lender": policy.lender, "versions": [_phone_version(as_policy(v), v)
                                                          for v in versions]})
    out += [preset_phone_policy(j) for j in PRESETS if j not in covered]
    return out


def preset_phone_policy(jurisdiction: str) -> dict:
    preset = PRESETS[jurisdiction]
    return {"id": None, "name": preset.name, "jurisdiction": jurisdiction,
            "lender": ANY_LENDER, "versions": [_phone_version(preset, None)]}


def _phone_version(policy: Policy, row: PolicyVersion | None) -> dict:
    start = row.effective_from if row is not None else SINCE_EVER
    return {"version": policy.version, "effective_from": start.isoformat(),
            "rules": rules_of(policy)}


def preset_rows(now: datetime) -> tuple[list[dict], list[dict]]:
    """The presets as rows of `compliance_policies` and `policy_versions` (version 1 of each,
    in effect since 2000): what a new database starts with (the migration and test wipes)."""
    policies, versions = [], []
    for number, (jurisdiction, preset) in enumerate(PRESETS.items(), start=1):
        policies.append({"id": number, "name": preset.name, "jurisdiction": jurisdiction,
                         "lender": ANY_LENDER, "description": f"{jurisdiction} preset",
                         "created_at": now})
        versions.append({"id": number, "policy_id": number, "version": 1,
                         "effective_from": SINCE_EVER, "note": "preset", "created_at": now,
                         "rules": json.dumps(rules_of(preset), sort_keys=True)})
    return policies, versions
