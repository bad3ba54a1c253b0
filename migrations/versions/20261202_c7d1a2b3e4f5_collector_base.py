"""Users: where a collector's day starts (base_lat, base_lon, WGS-84).

Revision ID: c7d1a2b3e4f5
Revises: b41c2d9e7f30
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c7d1a2b3e4f5"
down_revision: str | None = "b41c2d9e7f30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("base_lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("base_lon", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("base_lon")
        batch_op.drop_column("base_lat")
