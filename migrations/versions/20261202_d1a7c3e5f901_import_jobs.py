"""Imports as jobs: each run's state and progress, and the digest that lets a re-import skip
an unchanged case.

Revision ID: d1a7c3e5f901
Revises: c7e1a3f5b9d2
Create Date: 2026-12-02 13:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d1a7c3e5f901"
down_revision: str | None = "c7e1a3f5b9d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("import_runs") as batch:
        batch.add_column(sa.Column("atomic", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("as_of", sa.Date(), nullable=True))
        batch.add_column(sa.Column("status", sa.String(length=12), nullable=False,
                                   server_default="done"))
        batch.add_column(sa.Column("job_id", BigId, nullable=True))
        batch.add_column(sa.Column("blob_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("done", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("total", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_import_runs_job_id_jobs"), "jobs", ["job_id"], ["id"])
        batch.create_index(op.f("ix_import_runs_job_id"), ["job_id"], unique=False)
    op.execute("UPDATE import_runs SET done = rows, total = rows")
    with op.batch_alter_table("import_runs") as batch:
        for name in ("atomic", "status", "done"):
            batch.alter_column(name, server_default=None)
    op.create_table(
        "case_import_digests",
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("document_sha", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE",
                                name=op.f("fk_case_import_digests_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_import_digests")),
    )


def downgrade() -> None:
    op.drop_table("case_import_digests")
    with op.batch_alter_table("import_runs") as batch:
        batch.drop_index(op.f("ix_import_runs_job_id"))
        batch.drop_constraint(op.f("fk_import_runs_job_id_jobs"), type_="foreignkey")
        for name in ("total", "done", "blob_key", "job_id", "status", "as_of", "atomic"):
            batch.drop_column(name)
