"""Legal holds, the data-subject request log, each case's close and purge times and each
debtor's anonymisation time (retention).

Revision ID: 5b3f9e21c7a4
Revises: c171e4d6bb78
Create Date: 2026-12-02 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.types

revision: str = "5b3f9e21c7a4"
down_revision: str | None = "c171e4d6bb78"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = api.models.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("kind", sa.Enum("litigation", "asset_preservation", name="kind",
                                  native_enum=False, create_constraint=True, length=22),
                  nullable=False),
        sa.Column("reference", sa.String(120), nullable=False),
        sa.Column("note", sa.String(400), nullable=True),
        sa.Column("placed_by_id", BigId, nullable=False),
        sa.Column("placed_at", UTC(), nullable=False),
        sa.Column("released_by_id", BigId, nullable=True),
        sa.Column("released_at", UTC(), nullable=True),
        sa.Column("release_note", sa.String(400), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_legal_holds_case_id_cases")),
        sa.ForeignKeyConstraint(["placed_by_id"], ["users.id"],
                                name=op.f("fk_legal_holds_placed_by_id_users")),
        sa.ForeignKeyConstraint(["released_by_id"], ["users.id"],
                                name=op.f("fk_legal_holds_released_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index("ix_legal_holds_case_released", "legal_holds", ["case_id", "released_at"])
    op.create_index(op.f("ix_legal_holds_placed_by_id"), "legal_holds", ["placed_by_id"])
    op.create_index(op.f("ix_legal_holds_released_by_id"), "legal_holds", ["released_by_id"])
    op.create_table(
        "subject_requests",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.Enum("export", "correction", "erasure", name="kind",
                                  native_enum=False, create_constraint=True, length=14),
                  nullable=False),
        sa.Column("debtor_id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=True),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("received_at", UTC(), nullable=False),
        sa.Column("note", sa.String(400), nullable=True),
        sa.Column("handled_by_id", BigId, nullable=False),
        sa.Column("status", sa.Enum("in_review", "done", "refused", name="status",
                                    native_enum=False, create_constraint=True, length=13),
                  nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("refused_rule", sa.String(40), nullable=True),
        sa.Column("proposal_id", sa.String(36), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("closed_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"],
                                name=op.f("fk_subject_requests_debtor_id_debtors")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_subject_requests_case_id_cases")),
        sa.ForeignKeyConstraint(["handled_by_id"], ["users.id"],
                                name=op.f("fk_subject_requests_handled_by_id_users")),
        sa.ForeignKeyConstraint(["proposal_id"], ["field_proposals.id"],
                                name=op.f("fk_subject_requests_proposal_id_field_proposals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_requests")),
    )
    for column in ("debtor_id", "case_id", "handled_by_id", "proposal_id"):
        op.create_index(op.f(f"ix_subject_requests_{column}"), "subject_requests", [column])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("closed_at", UTC(), nullable=True))
        batch.add_column(sa.Column("purged_at", UTC(), nullable=True))
    with op.batch_alter_table("debtors") as batch:
        batch.add_column(sa.Column("anonymised_at", UTC(), nullable=True))
    # Cases closed before close times were kept: their last change is the best record of it.
    op.execute("UPDATE cases SET closed_at = updated_at "
               "WHERE status IN ('settled', 'written_off')")


def downgrade() -> None:
    with op.batch_alter_table("debtors") as batch:
        batch.drop_column("anonymised_at")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("purged_at")
        batch.drop_column("closed_at")
    for column in ("proposal_id", "handled_by_id", "case_id", "debtor_id"):
        op.drop_index(op.f(f"ix_subject_requests_{column}"), table_name="subject_requests")
    op.drop_table("subject_requests")
    op.drop_index(op.f("ix_legal_holds_released_by_id"), table_name="legal_holds")
    op.drop_index(op.f("ix_legal_holds_placed_by_id"), table_name="legal_holds")
    op.drop_index("ix_legal_holds_case_released", table_name="legal_holds")
    op.drop_table("legal_holds")
