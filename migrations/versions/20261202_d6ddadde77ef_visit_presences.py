"""Visit presences: each collector at a visit records their own presence (time and GPS fix) on
their own phone; the server pairs it with the visit report (the two-collector rule, offline).

Revision ID: d6ddadde77ef
Revises: f1c3a5e7b9d2
Create Date: 2026-12-02 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.types

revision: str = "d6ddadde77ef"
down_revision: str | None = "f1c3a5e7b9d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "visit_presences",
        sa.Column("recorded_at", api.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=False),
        sa.Column("mock", sa.Boolean(), nullable=False),
        sa.Column("visit_report_id", sa.String(length=36), nullable=True),
        sa.Column("flags", sa.String(length=400), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("author_id", BigId, nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("mutation_id", sa.Integer(), nullable=False),
        sa.Column("client_time", api.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", api.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("case_reassigned", sa.Boolean(), nullable=False),
        sa.Column("policy_ref", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_visit_presences_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_visit_presences_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_visit_presences_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["visit_report_id"], ["visit_reports.id"],
            name=op.f("fk_visit_presences_visit_report_id_visit_reports"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_presences")),
    )
    for column in ("author_id", "case_id", "device_id", "visit_report_id"):
        op.create_index(op.f(f"ix_visit_presences_{column}"), "visit_presences", [column])


def downgrade() -> None:
    for column in ("author_id", "case_id", "device_id", "visit_report_id"):
        op.drop_index(op.f(f"ix_visit_presences_{column}"), table_name="visit_presences")
    op.drop_table("visit_presences")
