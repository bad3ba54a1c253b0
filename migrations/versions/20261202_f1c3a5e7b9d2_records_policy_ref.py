"""Field records: the compliance policy version each was judged under.

Revision ID: f1c3a5e7b9d2
Revises: e4a7c2b9d1f0
Create Date: 2026-12-02 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f1c3a5e7b9d2"
down_revision: str | None = "e4a7c2b9d1f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORDS = ("contact_attempts", "case_notes", "field_proposals", "visit_reports",
           "repayment_promises", "field_receipts", "notices_served", "vehicle_sightings",
           "repossessions")


def upgrade() -> None:
    # Plain ALTER TABLE, also on SQLite: a batch copy would drop the tables' triggers.
    for table in RECORDS:
        op.add_column(table, sa.Column("policy_ref", sa.String(80), nullable=True))


def downgrade() -> None:
    for table in RECORDS:
        op.drop_column(table, "policy_ref")
