"""Targets: a month's targets per team and per collector; indexes for progress (payments by
date, and by case and date, instalments by case and due date, each covering the amount).

Revision ID: d8e2f0a1b3c4
Revises: d3e8f1a2b4c6
Create Date: 2026-12-02 01:02:09.316955
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.types

revision: str = "d8e2f0a1b3c4"
down_revision: str | None = "d3e8f1a2b4c6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "targets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "collector_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("recovered_fen", sa.BigInteger(), nullable=True),
        sa.Column("m1_fen", sa.BigInteger(), nullable=True),
        sa.Column("m2_fen", sa.BigInteger(), nullable=True),
        sa.Column("m3_plus_fen", sa.BigInteger(), nullable=True),
        sa.Column("m2_account_share_bp", sa.Integer(), nullable=True),
        sa.Column("visits", sa.Integer(), nullable=True),
        sa.Column(
            "set_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("set_at", api.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "coalesce(recovered_fen, 0) >= 0 AND coalesce(m1_fen, 0) >= 0"
            " AND coalesce(m2_fen, 0) >= 0 AND coalesce(m3_plus_fen, 0) >= 0"
            " AND coalesce(visits, 0) >= 0"
            " AND coalesce(m2_account_share_bp, 0) BETWEEN 0 AND 10000",
            name=op.f("ck_targets_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["collector_id"], ["users.id"], name=op.f("fk_targets_collector_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_targets_set_by_id_users")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_targets_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targets")),
        sa.UniqueConstraint(
            "month", "team_id", "collector_id", name=op.f("uq_targets_month_team_id_collector_id")
        ),
    )
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_targets_collector_id"), ["collector_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_targets_set_by_id"), ["set_by_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_targets_team_id"), ["team_id"], unique=False)
        batch_op.create_index(
            "uq_targets_month_team_id_team_row",
            ["month", "team_id"],
            unique=True,
            postgresql_where=sa.text("collector_id IS NULL"),
            sqlite_where=sa.text("collector_id IS NULL"),
        )

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_paid_on", ["paid_on"], unique=False)
        batch_op.create_index(
            "ix_payments_case_paid_on", ["case_id", "paid_on", "amount_fen"], unique=False
        )
    with op.batch_alter_table("instalments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_instalments_case_due_on", ["case_id", "due_on", "amount_fen"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("instalments", schema=None) as batch_op:
        batch_op.drop_index("ix_instalments_case_due_on")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_case_paid_on")
        batch_op.drop_index("ix_payments_paid_on")

    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_targets_month_team_id_team_row",
            postgresql_where=sa.text("collector_id IS NULL"),
            sqlite_where=sa.text("collector_id IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_targets_team_id"))
        batch_op.drop_index(batch_op.f("ix_targets_set_by_id"))
        batch_op.drop_index(batch_op.f("ix_targets_collector_id"))

    op.drop_table("targets")
