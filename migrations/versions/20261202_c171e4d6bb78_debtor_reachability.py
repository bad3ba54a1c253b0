"""The debtor's reachability per case: each change (marked unreachable with a reason and since
when, or reachable again), by whom and when; the latest is the case's state. And the contact
(a guarantor) who signed a promise, paid a receipt or was served a notice, when it was not the
debtor; and whether a contact attempt reached a third party while the debtor was reachable.

Revision ID: c171e4d6bb78
Revises: efc2c3348e0d
Create Date: 2026-12-02 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.types

revision: str = "c171e4d6bb78"
down_revision: str | None = "efc2c3348e0d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE = "reachability_changes"
CONTACT_COLUMNS = (
    ("repayment_promises", "signer_contact_id"),
    ("field_receipts", "payer_contact_id"),
    ("notices_served", "served_to_contact_id"),
)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("unreachable", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(30), nullable=True),
        sa.Column("since", api.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("author_id", BigId, nullable=False),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("mutation_id", sa.Integer(), nullable=False),
        sa.Column("client_time", api.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", api.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("case_reassigned", sa.Boolean(), nullable=False),
        sa.Column("policy_ref", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"],
                                name=op.f("fk_reachability_changes_author_id_users")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE",
                                name=op.f("fk_reachability_changes_case_id_cases")),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"],
                                name=op.f("fk_reachability_changes_device_id_devices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reachability_changes")),
    )
    for column in ("author_id", "case_id", "device_id"):
        op.create_index(op.f(f"ix_{TABLE}_{column}"), TABLE, [column])
    op.create_index("ix_reachability_changes_case_time", TABLE, ["case_id", "client_time"])
    for table, column in CONTACT_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, BigId, nullable=True))
            batch.create_foreign_key(batch.f(f"fk_{table}_{column}_contacts"), "contacts",
                                     [column], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    for table, column in CONTACT_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(batch.f(f"fk_{table}_{column}_contacts"), type_="foreignkey")
            batch.drop_column(column)
    op.drop_table(TABLE)
