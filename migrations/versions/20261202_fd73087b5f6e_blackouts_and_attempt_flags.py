"""Debtor blackouts (times and places declared off limits), and a contact attempt's flags
(contact hours, blackouts, attempt caps) in place of the one over-call-limit column: an
attempt that was over the limit keeps it as `over_daily_attempt_cap`.

Revision ID: fd73087b5f6e
Revises: d6ddadde77ef
Create Date: 2026-12-02 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.types

revision: str = "fd73087b5f6e"
down_revision: str | None = "d6ddadde77ef"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ADDRESS_KINDS = ("household_registration", "home", "work", "worksite", "other")


def upgrade() -> None:
    op.create_table(
        "debtor_blackouts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("debtor_id", BigId, nullable=False),
        sa.Column("kind", sa.Enum("time", "place", name="kind", native_enum=False,
                                  create_constraint=True, length=9), nullable=False),
        sa.Column("weekdays", sa.String(20), nullable=False),
        sa.Column("local_start", sa.String(5), nullable=True),
        sa.Column("local_end", sa.String(5), nullable=True),
        sa.Column("address_kind", sa.Enum(*ADDRESS_KINDS, name="address_kind", native_enum=False,
                                          create_constraint=True, length=26), nullable=True),
        sa.Column("address_id", BigId, nullable=True),
        sa.Column("note", sa.String(400), nullable=True),
        sa.Column("recorded_by_id", BigId, nullable=False),
        sa.Column("recorded_at", api.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"], ondelete="CASCADE",
                                name=op.f("fk_debtor_blackouts_debtor_id_debtors")),
        sa.ForeignKeyConstraint(["address_id"], ["addresses.id"], ondelete="CASCADE",
                                name=op.f("fk_debtor_blackouts_address_id_addresses")),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["users.id"],
                                name=op.f("fk_debtor_blackouts_recorded_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debtor_blackouts")),
    )
    op.create_index(op.f("ix_debtor_blackouts_debtor_id"), "debtor_blackouts", ["debtor_id"])
    with op.batch_alter_table("contact_attempts") as batch:
        batch.add_column(sa.Column("flags", sa.String(400), nullable=False, server_default="[]"))
    op.execute("UPDATE contact_attempts SET flags = '[\"over_daily_attempt_cap\"]' "
               "WHERE over_call_limit")
    with op.batch_alter_table("contact_attempts") as batch:
        batch.alter_column("flags", server_default=None)
        batch.drop_column("over_call_limit")


def downgrade() -> None:
    with op.batch_alter_table("contact_attempts") as batch:
        batch.add_column(sa.Column("over_call_limit", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.execute("UPDATE contact_attempts SET over_call_limit = true "
               "WHERE flags LIKE '%\"over_daily_attempt_cap\"%'")
    with op.batch_alter_table("contact_attempts") as batch:
        batch.alter_column("over_call_limit", server_default=None)
        batch.drop_column("flags")
    op.drop_index(op.f("ix_debtor_blackouts_debtor_id"), table_name="debtor_blackouts")
    op.drop_table("debtor_blackouts")
