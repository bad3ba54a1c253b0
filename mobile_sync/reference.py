"""Reference data every phone carries: the closed vocabularies of what it files (outcomes,
reasons, who was met, next steps, file kinds, notice types, payment methods, flags) and the
compliance policies. Sent with a bootstrap and whenever its version changes.

The version is known without reading the policies: policies and their versions are never
edited (a change is a new row), so what `phone_policies` answers changes only when a row is
added or removed, or a scheduled version takes effect. `fingerprint` counts exactly that, as
scalar subqueries of the pull's one state statement; the vocabularies are code, hashed once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from sqlalchemy import case, func, select

from api.models import (
    AddressKind,
    Channel,
    CompliancePolicy,
    ContactOutcome,
    EvidenceKind,
    NextStep,
    PolicyVersion,
    ProposalKind,
    Relation,
    VisitOutcome,
)
from api.models import vocabulary as v
from api.services.geo import DATUMS


def reference_data(policies: list[dict]) -> dict:
    """`policies`: api.services.compliance.policies.phone_policies (the phone picks a case's
    policy by the rule in docs/sync.md, and the version by the time of what it files)."""
    return {
        "channels": [c.value for c in Channel],
        "contact_outcomes": [o.value for o in ContactOutcome],
        "delinquency_reasons": v.DELINQUENCY_REASONS,
        "unreachable_reasons": v.UNREACHABLE_REASONS,
        "relations": [r.value for r in Relation],
        "address_kinds": [k.value for k in AddressKind],
        "proposal_kinds": [k.value for k in ProposalKind],
        "visit_outcomes": [o.value for o in VisitOutcome],
        "met": list(v.MET),
        "next_steps": [s.value for s in NextStep],
        "file_kinds": [k.value for k in EvidenceKind],
        "file_mimes": list(v.FILE_MIMES),
        "notice_types": list(v.NOTICE_TYPES),
        "served_to_roles": list(v.SERVED_TO_ROLES),
        "service_methods": list(v.SERVICE_METHODS),
        "promise_methods": list(v.PROMISE_METHODS),
        "receipt_methods": list(v.RECEIPT_METHODS),
        "fix_providers": list(v.FIX_PROVIDERS),
        "datums": list(DATUMS),
        "phone_labels": list(v.PHONE_LABELS),
        "phone_owners": list(v.PHONE_OWNERS),
        "flags": v.FLAGS,
        "policies": policies,
    }


def reference_version(data: dict) -> str:
    """A digest of reference data as it is (tests and tools; pulls use `version_of`)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def fingerprint(now) -> list:
    """Scalar subqueries whose values change whenever the policies a phone carries do (the
    latest creation times too, so a table emptied and filled again does not repeat one).
    `now`: a datetime, or a bind parameter of one."""
    started = func.coalesce(func.sum(case((PolicyVersion.effective_from <= now, 1), else_=0)), 0)
    return [
        select(func.count(CompliancePolicy.id)).scalar_subquery(),
        select(func.max(CompliancePolicy.id)).scalar_subquery(),
        select(func.max(CompliancePolicy.created_at)).scalar_subquery(),
        select(func.count(PolicyVersion.id)).scalar_subquery(),
        select(func.max(PolicyVersion.id)).scalar_subquery(),
        select(func.max(PolicyVersion.created_at)).scalar_subquery(),
        select(started).scalar_subquery(),
    ]


def version_of(values) -> str:
    """The reference version for `fingerprint`'s values, read in this pull."""
    stamp = "|".join(str(v) for v in values)
    return hashlib.sha256(f"{_VOCABULARIES}|{stamp}".encode()).hexdigest()[:16]


def cached(database: str, version: str, build: Callable[[], dict]) -> dict:
    """The reference data of `version`, built once per process and database: a version names
    one content (see the module's docstring), so a bootstrap reads no policies."""
    key = (database, version)
    data = _BUILT.get(key)
    if data is None:
        if len(_BUILT) >= 16:
            _BUILT.clear()
        data = _BUILT[key] = build()
    return data


_VOCABULARIES = reference_version(reference_data([]))
_BUILT: dict[tuple[str, str], dict] = {}
