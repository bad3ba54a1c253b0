"""refresh token families and generations

Refresh tokens issued before this revision carry no generation, so none of them can be proven
to postdate the user's last password change or deactivation: they are revoked (devices sign
in once more).

Revision ID: 7c1f0a9d4e21
Revises: 2d2f5e69ab66
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c1f0a9d4e21"
down_revision: str | None = "2d2f5e69ab66"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE refresh_tokens SET revoked_at = CURRENT_TIMESTAMP WHERE revoked_at IS NULL"
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("family_id", sa.String(length=32), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("generation", sa.Integer(), nullable=False, server_default="-1")
        )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.alter_column("family_id", server_default=None)
        batch_op.alter_column("generation", server_default=None)
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_family_id"), ["family_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_family_id"))
        batch_op.drop_column("generation")
        batch_op.drop_column("family_id")
