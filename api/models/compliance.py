"""Compliance policies as data: a named policy per jurisdiction and lender (`*`: any lender),
and its versions, each in effect from a stated time. A version is never edited: a change is
a new version, so a verdict recorded under an old one keeps meaning what it meant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.models.types import IdPk, UTCDateTime, utcnow

ANY_LENDER = "*"


class CompliancePolicy(db.Model):
    __tablename__ = "compliance_policies"
    __table_args__ = (UniqueConstraint("jurisdiction", "lender"),)

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(String(64), unique=True)
    jurisdiction: Mapped[str] = mapped_column(String(2))
    lender: Mapped[str] = mapped_column(String(64), default=ANY_LENDER)
    description: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[PolicyVersion]] = relationship(
        back_populates="policy", order_by="PolicyVersion.version"
    )


class PolicyVersion(db.Model):
    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("policy_id", "version"),)

    id: Mapped[IdPk]
    policy_id: Mapped[int] = mapped_column(ForeignKey("compliance_policies.id"), index=True)
    version: Mapped[int]
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    rules: Mapped[str] = mapped_column(Text)  # JSON: api.config.Policy's rule fields
    note: Mapped[str | None] = mapped_column(String(400))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    policy: Mapped[CompliancePolicy] = relationship(back_populates="versions")


class RuleRefusal(db.Model):
    """A plan, assignment or contact refused for a rule: who tried what, under which policy
    version, and the sentence they were given (no debtor data: ids and staff names only)."""

    __tablename__ = "rule_refusals"

    id: Mapped[IdPk]
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    policy_ref: Mapped[str] = mapped_column(String(80))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    operation: Mapped[str] = mapped_column(String(120))  # "POST /assignments"
    fields: Mapped[str] = mapped_column(Text, default="{}")  # JSON: field -> messages
    sentence: Mapped[str] = mapped_column(String(1000))
