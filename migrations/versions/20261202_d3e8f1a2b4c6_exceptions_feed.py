"""The supervisors' exceptions feed (exception_items: one item per kind and subject); a partial
index of the uploads still pending, oldest first; a record's files indexed with their status
and type, so "has this visit a photo on the server?" needs no table read.

Revision ID: d3e8f1a2b4c6
Revises: 3a9e5c1d7b42
Create Date: 2026-12-02 01:06:03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.types

revision: str = "d3e8f1a2b4c6"
down_revision: str | None = "3a9e5c1d7b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exception_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "far_from_address",
                "outside_visit_hours",
                "too_few_collectors",
                "missing_photos",
                "promise_broken",
                "promise_due_today",
                "device_silent",
                "proposal_unreviewed",
                "upload_stuck",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=23,
            ),
            nullable=False,
        ),
        sa.Column("subject_type", sa.String(length=30), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "collector_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "actor",
            sa.Enum(
                "supervisor",
                "collector",
                "legal",
                name="actor",
                native_enum=False,
                create_constraint=True,
                length=14,
            ),
            nullable=False,
        ),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("occurred_at", api.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("detected_at", api.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "acknowledged",
                "resolved",
                name="state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "acknowledged_by_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("acknowledged_at", api.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledge_note", sa.String(length=400), nullable=True),
        sa.Column(
            "resolved_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("resolved_at", api.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("auto_resolved", sa.Boolean(), nullable=False),
        sa.Column("resolution_note", sa.String(length=400), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"],
            ["users.id"],
            name=op.f("fk_exception_items_acknowledged_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_exception_items_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["collector_id"], ["users.id"], name=op.f("fk_exception_items_collector_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["users.id"], name=op.f("fk_exception_items_resolved_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_exception_items_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exception_items")),
        sa.UniqueConstraint(
            "kind",
            "subject_type",
            "subject_id",
            name=op.f("uq_exception_items_kind_subject_type_subject_id"),
        ),
    )
    with op.batch_alter_table("exception_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exception_items_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_exception_items_collector_detected",
            ["collector_id", "detected_at", "id"],
            unique=False,
        )
        batch_op.create_index("ix_exception_items_detected", ["detected_at", "id"], unique=False)
        batch_op.create_index("ix_exception_items_kind_state", ["kind", "state"], unique=False)
        batch_op.create_index(
            "ix_exception_items_team_detected", ["team_id", "detected_at", "id"], unique=False
        )

    with op.batch_alter_table("evidence_files", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_files_record")
        batch_op.create_index(
            "ix_evidence_files_record",
            ["record_type", "record_id", "status", "mime"],
            unique=False,
        )
        batch_op.create_index(
            "ix_evidence_files_pending",
            ["declared_at"],
            unique=False,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence_files", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_files_pending")
        batch_op.drop_index("ix_evidence_files_record")
        batch_op.create_index(
            "ix_evidence_files_record", ["record_type", "record_id"], unique=False
        )

    with op.batch_alter_table("exception_items", schema=None) as batch_op:
        batch_op.drop_index("ix_exception_items_team_detected")
        batch_op.drop_index("ix_exception_items_kind_state")
        batch_op.drop_index("ix_exception_items_detected")
        batch_op.drop_index("ix_exception_items_collector_detected")
        batch_op.drop_index(batch_op.f("ix_exception_items_case_id"))

    op.drop_table("exception_items")
