"""Reference data every phone carries: the closed vocabularies of what it files (outcomes,
reasons, who was met, next steps, file kinds, notice types, payment methods, flags) and the
compliance policies. Sent with a bootstrap and whenever its version changes."""

from __future__ import annotations

import hashlib
import json

from api.models import (
    AddressKind,
    Channel,
    ContactOutcome,
    EvidenceKind,
    NextStep,
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
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
