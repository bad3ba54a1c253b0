"""The audit log: keyed hashes, a chain per shard, and signed statements of the chains' heads.

Rows written before keep their unkeyed SHA-256 hashes and go to shard 0 with key id 0; the
first keyed row of shard 0 chains onto the last of them (docs/audit.md). No row is rehashed:
rewriting history to a new scheme is exactly what the log must not allow.

Revision ID: d3c9f5a7b123
Revises: d1a7c3e5f901
Create Date: 2026-12-02 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.types

revision: str = "d3c9f5a7b123"
down_revision: str | None = "d1a7c3e5f901"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, also on SQLite (a batch copy would rewrite the table).
    op.add_column("audit_events",
                  sa.Column("shard", sa.SmallInteger(), server_default="0", nullable=False))
    op.add_column("audit_events",
                  sa.Column("key_id", sa.SmallInteger(), server_default="0", nullable=False))
    op.create_index("ix_audit_events_shard_id", "audit_events", ["shard", "id"])
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "audit_head_statements",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("signed_at", api.models.types.UTCDateTime(), nullable=False),
        sa.Column("key_id", sa.SmallInteger(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head_statements")),
    )
    op.create_index(op.f("ix_audit_head_statements_signed_at"), "audit_head_statements",
                    ["signed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_head_statements_signed_at"), table_name="audit_head_statements")
    op.drop_table("audit_head_statements")
    op.drop_index("ix_audit_events_shard_id", table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("key_id")
        batch.drop_column("shard")
