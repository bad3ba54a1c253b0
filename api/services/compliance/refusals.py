"""The log of refusals for a rule, so a compliance officer sees what the rules stopped, and a
supervisor what their team tried."""

from __future__ import annotations

import json

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from api.models import Role, RuleRefusal
from api.services.compliance.breaches import RuleBreach
from api.services.identity.accounts import Principal


def record_refusal(session: Session, breach: RuleBreach, principal: Principal | None,
                   operation: str) -> RuleRefusal:
    row = RuleRefusal(
        rule=breach.rule, policy_ref=breach.policy_ref,
        actor_id=principal.user_id if principal else None,
        team_id=principal.team_id if principal else None,
        operation=operation[:120], fields=json.dumps(breach.fields, sort_keys=True),
        sentence=breach.message[:1000])
    session.add(row)
    return row


def refusals_visible_to(principal: Principal, args: dict) -> Select:
    """Admins and legal staff see every refusal; a supervisor those of their team."""
    stmt = select(RuleRefusal)
    if principal.role is Role.SUPERVISOR:
        # A supervisor without a team sees none (not every team-less actor's).
        stmt = stmt.where(RuleRefusal.team_id == principal.team_id
                          if principal.team_id is not None else false())
    if "rule" in args:
        stmt = stmt.where(RuleRefusal.rule == args["rule"])
    if "since" in args:
        stmt = stmt.where(RuleRefusal.at >= args["since"])
    return stmt


def refusal_view(row: RuleRefusal) -> dict:
    return {"id": row.id, "at": row.at, "rule": row.rule, "policy_ref": row.policy_ref,
            "actor_id": row.actor_id, "team_id": row.team_id, "operation": row.operation,
            "fields": json.loads(row.fields), "sentence": row.sentence}
