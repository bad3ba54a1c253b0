"""Field records: the compliance policy version each was judged under; the log of refusals
for a rule.

Revision ID: f1c3a5e7b9d2
Revises: e4a7c2b9d1f0
Create Date: 2026-12-02 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.types

revision: str = "f1c3a5e7b9d2"
down_revision: str | None = "e4a7c2b9d1f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORDS = ("contact_attempts", "case_notes", "field_proposals", "visit_reports",
           "repayment_promises", "field_receipts", "notices_served", "vehicle_sightings",
           "repossessions")


def upgrade() -> None:
    # Plain ALTER TABLE, also on SQLite: a batch copy would drop the tables' triggers.
    for table in RECORDS:
        op.add_column(table, sa.Column("policy_ref", sa.String(80), nullable=True))
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "rule_refusals",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("at", api.models.types.UTCDateTime(), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("policy_ref", sa.String(80), nullable=False),
        sa.Column("actor_id", big_id, nullable=True),
        sa.Column("team_id", big_id, nullable=True),
        sa.Column("operation", sa.String(120), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("sentence", sa.String(1000), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"],
                                name=op.f("fk_rule_refusals_actor_id_users")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"],
                                name=op.f("fk_rule_refusals_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_refusals")),
    )
    for column in ("at", "rule", "actor_id", "team_id"):
        op.create_index(op.f(f"ix_rule_refusals_{column}"), "rule_refusals", [column])


def downgrade() -> None:
    op.drop_table("rule_refusals")
    for table in RECORDS:
        op.drop_column(table, "policy_ref")
