"""Field receipts: the moment the money was taken is `paid_at`; `received_at` is again, as on
every field record, when the server received it (it had been shadowed: backfilled from paid_at,
the best moment known for the rows already held).

Revision ID: b41c2d9e7f30
Revises: ae731127ba76
Create Date: 2026-12-01 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.models.types import UTCDateTime

revision: str = "b41c2d9e7f30"
down_revision: str | None = "ae731127ba76"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("field_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_field_receipts_received_at")
        batch_op.alter_column("received_at", new_column_name="paid_at")
    with op.batch_alter_table("field_receipts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("field_receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_field_receipts_paid_at"), ["paid_at"], unique=False)
    op.execute("UPDATE field_receipts SET received_at = paid_at")
    with op.batch_alter_table("field_receipts", schema=None) as batch_op:
        batch_op.alter_column("received_at", existing_type=UTCDateTime(timezone=True),
                              nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("field_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_field_receipts_paid_at"))
        batch_op.drop_column("received_at")
    with op.batch_alter_table("field_receipts", schema=None) as batch_op:
        batch_op.alter_column("paid_at", new_column_name="received_at")
    with op.batch_alter_table("field_receipts", schema=None) as batch_op:
        batch_op.create_index("ix_field_receipts_received_at", ["received_at"], unique=False)
