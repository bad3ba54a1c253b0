"""Compliance policies as data: policies per jurisdiction and lender with dated versions
(seeded with the CN, US and IN presets), and each case's lender, jurisdiction and policy.

Revision ID: e4a7c2b9d1f0
Revises: d8e2f0a1b3c4
Create Date: 2026-12-02 04:20:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import api.models.types

revision: str = "e4a7c2b9d1f0"
down_revision: str | None = "d8e2f0a1b3c4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    policies = op.create_table(
        "compliance_policies",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("lender", sa.String(64), nullable=False),
        sa.Column("description", sa.String(400), nullable=True),
        sa.Column("created_at", api.models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_compliance_policies_name")),
        sa.UniqueConstraint(
            "jurisdiction", "lender", name=op.f("uq_compliance_policies_jurisdiction_lender")
        ),
    )
    versions = op.create_table(
        "policy_versions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("policy_id", BigId, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", api.models.types.UTCDateTime(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("note", sa.String(400), nullable=True),
        sa.Column("created_by_id", BigId, nullable=True),
        sa.Column("created_at", api.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["policy_id"], ["compliance_policies.id"],
                                name=op.f("fk_policy_versions_policy_id_compliance_policies")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_policy_versions_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_versions")),
        sa.UniqueConstraint(
            "policy_id", "version", name=op.f("uq_policy_versions_policy_id_version")
        ),
    )
    op.create_index(op.f("ix_policy_versions_policy_id"), "policy_versions", ["policy_id"])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("lender", sa.String(64), nullable=False, server_default="default")
        )
        batch.add_column(
            sa.Column("jurisdiction", sa.String(2), nullable=False, server_default="CN")
        )
        batch.add_column(sa.Column("policy_id", BigId, nullable=True))
        batch.create_foreign_key(
            op.f("fk_cases_policy_id_compliance_policies"), "compliance_policies",
            ["policy_id"], ["id"],
        )

    # The presets as each policy's version 1, in effect from the start of time.
    from api.services.compliance.policies import preset_rows

    policy_rows, version_rows = preset_rows(datetime.now(UTC))
    op.bulk_insert(policies, policy_rows)
    op.bulk_insert(versions, version_rows)
    if op.get_bind().dialect.name == "postgresql":
        for table in ("compliance_policies", "policy_versions"):
            op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                       f"(SELECT max(id) FROM {table}))")


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint(op.f("fk_cases_policy_id_compliance_policies"), type_="foreignkey")
        batch.drop_column("policy_id")
        batch.drop_column("jurisdiction")
        batch.drop_column("lender")
    op.drop_index(op.f("ix_policy_versions_policy_id"), table_name="policy_versions")
    op.drop_table("policy_versions")
    op.drop_table("compliance_policies")
