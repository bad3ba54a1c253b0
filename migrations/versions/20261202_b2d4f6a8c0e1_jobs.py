"""Background jobs: one row per job, with its progress and the request to cancel it.

Revision ID: b2d4f6a8c0e1
Revises: a9c4e2f1b7d3
Create Date: 2026-12-02 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.types

revision: str = "b2d4f6a8c0e1"
down_revision: str | None = "a9c4e2f1b7d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", BigId, nullable=True),
        sa.Column("created_at", api.models.types.UTCDateTime(), nullable=False),
        sa.Column("started_at", api.models.types.UTCDateTime(), nullable=True),
        sa.Column("finished_at", api.models.types.UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", api.models.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_jobs_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_kind_status", "jobs", ["kind", "status"])
    op.create_index(op.f("ix_jobs_created_by_id"), "jobs", ["created_by_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_jobs_created_by_id"), table_name="jobs")
    op.drop_index("ix_jobs_kind_status", table_name="jobs")
    op.drop_table("jobs")
