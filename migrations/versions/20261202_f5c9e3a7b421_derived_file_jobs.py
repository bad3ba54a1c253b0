"""Evidence files: a photo's thumbnail made by a job (`thumbnail_status`).

Files received before keep what they have: a stored thumbnail is `complete`, none is null.

Revision ID: f5c9e3a7b421
Revises: d3c9f5a7b123
Create Date: 2026-12-02 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f5c9e3a7b421"
down_revision: str | None = "d3c9f5a7b123"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("pending", "complete")


def _status(name: str) -> sa.Enum:
    return sa.Enum(*STATUSES, name=name, native_enum=False, create_constraint=True, length=12)


def upgrade() -> None:
    # A batch: on SQLite a column with a CHECK constraint cannot be added by ALTER TABLE.
    with op.batch_alter_table("evidence_files") as batch:
        batch.add_column(sa.Column("thumbnail_status", _status("thumbnail_status"),
                                   nullable=True))
    op.execute("UPDATE evidence_files SET thumbnail_status = 'complete' "
               "WHERE thumbnail_key IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("evidence_files") as batch:
        batch.drop_constraint(op.f("ck_evidence_files_thumbnail_status"), type_="check")
        batch.drop_column("thumbnail_status")
