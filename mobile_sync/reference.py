"""Reference data every phone carries: outcome and reason codes, relations, and the policy."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from api.config import Policy
from api.models import AddressKind, Channel, ContactOutcome, ProposalKind, Relation

# Reasons for delinquency and debtor attitudes, from the trade's training material (DOMAIN.md).
DELINQUENCY_REASONS = {
    "business_cash_flow": "经营资金周转困难 business cash-flow trouble",
    "market_change": "市场变化 market change",
    "family_divorce": "家庭变故：离婚 divorce",
    "family_illness": "家庭变故：疾病 illness",
    "family_schooling": "家庭变故：子女上学 schooling costs",
    "family_renovation": "家庭变故：装修 home renovation",
    "unemployment": "失业 / 收入下降 lost job or income",
    "malicious_gambling": "恶意：赌博 gambling",
    "malicious_fraud": "恶意：欺诈 fraud",
    "malicious_never_intended": "恶意：无还款意愿 never meant to pay",
    "other": "其他 other",
}


def reference_data(policy: Policy) -> dict:
    return {
        "channels": [c.value for c in Channel],
        "contact_outcomes": [o.value for o in ContactOutcome],
        "delinquency_reasons": DELINQUENCY_REASONS,
        "relations": [r.value for r in Relation],
        "address_kinds": [k.value for k in AddressKind],
        "proposal_kinds": [k.value for k in ProposalKind],
        "policy": asdict(policy),
    }


def reference_version(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
