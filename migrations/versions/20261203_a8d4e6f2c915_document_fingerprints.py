"""Each device document's fingerprint (the md5 of its sealed bytes) kept beside it, so an import
tells an untouched case from its digest without reading and hashing the document.

Revision ID: a8d4e6f2c915
Revises: f5c9e3a7b421
Create Date: 2026-12-03 19:45:00
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a8d4e6f2c915"
down_revision: str | None = "f5c9e3a7b421"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _md5(value: bytes) -> str:
    return hashlib.md5(value, usedforsecurity=False).hexdigest()


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":  # PostgreSQL has md5(); SQLite is taught it here
        bind.connection.driver_connection.create_function("md5", 1, _md5, deterministic=True)
    with op.batch_alter_table("case_documents") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(32), nullable=True))
    op.execute("UPDATE case_documents SET fingerprint = md5(sealed)")
    with op.batch_alter_table("case_documents") as batch:
        batch.alter_column("fingerprint", existing_type=sa.String(32), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("case_documents") as batch:
        batch.drop_column("fingerprint")
