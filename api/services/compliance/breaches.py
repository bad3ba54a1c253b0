"""A refusal that explains itself: which rule, which policy version, and a sentence a
supervisor understands. Raised where a rule can be enforced (plan, assignment, contact,
dispatch); a visit filed offline is never refused, only flagged."""

from __future__ import annotations

from api.config import Policy
from api.services.compliance.catalogue import RULES
from api.services.exceptions import InvalidInput


class RuleBreach(InvalidInput):
    """422 `rule_breach`; the body carries `rule`, `policy` and `policy_version`."""

    code = "rule_breach"

    def __init__(self, rule: str, policy: Policy, sentence: str, *, fields: dict | None = None):
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}: add it to compliance.catalogue.RULES")
        super().__init__(sentence, fields=fields)
        self.rule, self.policy_name, self.policy_version = rule, policy.name, policy.version
        self.policy_ref = policy.ref

    def details(self) -> dict:
        return {"rule": self.rule, "policy": self.policy_name,
                "policy_version": self.policy_version}
