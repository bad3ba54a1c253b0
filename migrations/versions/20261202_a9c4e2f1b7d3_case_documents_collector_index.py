"""Case documents: an index on (collector, case), so a bootstrap page reads only the
collector's documents instead of scanning every one.

Revision ID: a9c4e2f1b7d3
Revises: 5b3f9e21c7a4
Create Date: 2026-12-02 06:25:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a9c4e2f1b7d3"
down_revision: str | None = "5b3f9e21c7a4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_case_documents_collector_case", "case_documents",
                    ["collector_id", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_documents_collector_case", table_name="case_documents")
