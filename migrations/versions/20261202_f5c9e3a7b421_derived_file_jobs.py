"""Files the server makes by jobs: a photo's thumbnail (`thumbnail_status`), and a file whose
job failed for good (`failed`, with `server_error`), shown in the exceptions feed as the
server's fault (`server_file_failed`, for the administrator).

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
KINDS = ("far_from_address", "outside_visit_hours", "too_few_collectors", "missing_photos",
         "promise_broken", "promise_due_today", "device_silent", "proposal_unreviewed",
         "upload_stuck")
ACTORS = ("supervisor", "collector", "legal")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _check(batch, column: str, values: Sequence[str], table: str) -> None:
    """Replace the CHECK constraint of an enum column (named as the models name it)."""
    batch.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
    batch.create_check_constraint(op.f(f"ck_{table}_{column}"), _in(column, values))


def upgrade() -> None:
    # Batches: SQLite changes a CHECK constraint only by copying the table.
    statuses = (*STATUSES, "failed")
    with op.batch_alter_table("evidence_files") as batch:
        batch.add_column(sa.Column("thumbnail_status", sa.String(12), nullable=True))
        batch.add_column(sa.Column("server_error", sa.String(300), nullable=True))
        batch.create_check_constraint(op.f("ck_evidence_files_thumbnail_status"),
                                      _in("thumbnail_status", statuses))
        _check(batch, "status", statuses, "evidence_files")
    op.execute("UPDATE evidence_files SET thumbnail_status = 'complete' "
               "WHERE thumbnail_key IS NOT NULL")
    with op.batch_alter_table("exception_items") as batch:
        _check(batch, "kind", (*KINDS, "server_file_failed"), "exception_items")
        _check(batch, "actor", (*ACTORS, "admin"), "exception_items")


def downgrade() -> None:
    op.execute("DELETE FROM exception_items WHERE kind = 'server_file_failed' OR actor = 'admin'")
    with op.batch_alter_table("exception_items") as batch:
        _check(batch, "actor", ACTORS, "exception_items")
        _check(batch, "kind", KINDS, "exception_items")
    op.execute("UPDATE evidence_files SET status = 'pending' WHERE status = 'failed'")
    with op.batch_alter_table("evidence_files") as batch:
        _check(batch, "status", STATUSES, "evidence_files")
        batch.drop_constraint(op.f("ck_evidence_files_thumbnail_status"), type_="check")
        batch.drop_column("server_error")
        batch.drop_column("thumbnail_status")
