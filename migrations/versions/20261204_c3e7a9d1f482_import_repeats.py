"""What a queued cases file names more than once (contract numbers, debtor refs), found as it
was checked on upload, so its job keeps only those records' facts in memory.

Revision ID: c3e7a9d1f482
Revises: a8d4e6f2c915
Create Date: 2026-12-04 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3e7a9d1f482"
down_revision: str | None = "a8d4e6f2c915"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_runs") as batch:
        batch.add_column(sa.Column("repeats", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_runs") as batch:
        batch.drop_column("repeats")
