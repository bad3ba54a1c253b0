"""case search indexes: debtor name (prefix), phones, contact phones, VIN serial (last 6)

Revision ID: 5e4c41d7b0a1
Revises: 7c1f0a9d4e21
Create Date: 2026-12-01 21:49:31.958382
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e4c41d7b0a1"
down_revision: str | None = "7c1f0a9d4e21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PHONES = ("mobile_phone", "home_phone", "work_phone")


def upgrade() -> None:
    op.create_index("ix_contacts_phone", "contacts", ["phone"])
    for column in PHONES:
        op.create_index(f"ix_debtors_{column}", "debtors", [column])
    op.create_index("ix_debtors_name", "debtors", ["name"],
                    postgresql_ops={"name": "text_pattern_ops"})
    # Same expression as api.models.cases.vin_serial (literal positions, so queries match it).
    op.create_index("ix_collateral_vin_serial", "collateral", [sa.text("substr(vin, 12, 6)")])


def downgrade() -> None:
    op.drop_index("ix_collateral_vin_serial", table_name="collateral")
    op.drop_index("ix_debtors_name", table_name="debtors")
    for column in PHONES:
        op.drop_index(f"ix_debtors_{column}", table_name="debtors")
    op.drop_index("ix_contacts_phone", table_name="contacts")
