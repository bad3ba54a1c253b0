"""Route plans: plans, their stops (unplanned ones kept with the reason), and the sealed
device document of each published plan.

Revision ID: 3a9e5c1d7b42
Revises: c7d1a2b3e4f5
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.models.types

revision: str = "3a9e5c1d7b42"
down_revision: str | None = "c7d1a2b3e4f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route_plans",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "collector_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "published",
                "superseded",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=14,
            ),
            nullable=False,
        ),
        sa.Column(
            "start_kind",
            sa.Enum(
                "base",
                "position",
                name="start_kind",
                native_enum=False,
                create_constraint=True,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column("start_lat", sa.Float(), nullable=False),
        sa.Column("start_lon", sa.Float(), nullable=False),
        sa.Column("shift_start", api.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shift_end", api.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("departs_at", api.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", api.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("solve_ms", sa.Float(), nullable=False),
        sa.Column(
            "planned_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", api.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", api.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "replanned_from_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collector_id"], ["users.id"], name=op.f("fk_route_plans_collector_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["planned_by_id"], ["users.id"], name=op.f("fk_route_plans_planned_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["replanned_from_id"],
            ["route_plans.id"],
            name=op.f("fk_route_plans_replanned_from_id_route_plans"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_route_plans_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_plans")),
    )
    op.create_index(
        "ix_route_plans_collector_day", "route_plans", ["collector_id", "service_day"], unique=False
    )
    op.create_index(
        op.f("ix_route_plans_planned_by_id"), "route_plans", ["planned_by_id"], unique=False
    )
    op.create_index(
        op.f("ix_route_plans_replanned_from_id"), "route_plans", ["replanned_from_id"], unique=False
    )
    op.create_index(
        op.f("ix_route_plans_service_day"), "route_plans", ["service_day"], unique=False
    )
    op.create_index(op.f("ix_route_plans_team_id"), "route_plans", ["team_id"], unique=False)
    op.create_table(
        "route_documents",
        sa.Column("plan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("collector_id", sa.BigInteger(), nullable=False),
        sa.Column("service_day", sa.Date(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", api.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["route_plans.id"],
            name=op.f("fk_route_documents_plan_id_route_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_route_documents")),
    )
    op.create_index(
        op.f("ix_route_documents_collector_id"), "route_documents", ["collector_id"], unique=False
    )
    op.create_table(
        "route_stops",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("plan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "address_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("window_start", api.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("window_end", api.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("planned_arrival", api.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("planned_start", api.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("planned_departure", api.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("travel_m", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "done",
                "cancelled",
                "unplanned",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=13,
            ),
            nullable=False,
        ),
        sa.Column("unplanned_reason", sa.String(length=20), nullable=True),
        sa.Column("unplanned_detail", sa.String(length=400), nullable=True),
        sa.Column("visit_report_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["addresses.id"],
            name=op.f("fk_route_stops_address_id_addresses"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_route_stops_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["route_plans.id"],
            name=op.f("fk_route_stops_plan_id_route_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["visit_report_id"],
            ["visit_reports.id"],
            name=op.f("fk_route_stops_visit_report_id_visit_reports"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_stops")),
    )
    op.create_index(op.f("ix_route_stops_address_id"), "route_stops", ["address_id"], unique=False)
    op.create_index(op.f("ix_route_stops_case_id"), "route_stops", ["case_id"], unique=False)
    op.create_index(op.f("ix_route_stops_plan_id"), "route_stops", ["plan_id"], unique=False)
    op.create_index(
        op.f("ix_route_stops_visit_report_id"), "route_stops", ["visit_report_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_route_stops_visit_report_id"), table_name="route_stops")
    op.drop_index(op.f("ix_route_stops_plan_id"), table_name="route_stops")
    op.drop_index(op.f("ix_route_stops_case_id"), table_name="route_stops")
    op.drop_index(op.f("ix_route_stops_address_id"), table_name="route_stops")
    op.drop_table("route_stops")
    op.drop_index(op.f("ix_route_documents_collector_id"), table_name="route_documents")
    op.drop_table("route_documents")
    op.drop_index(op.f("ix_route_plans_team_id"), table_name="route_plans")
    op.drop_index(op.f("ix_route_plans_service_day"), table_name="route_plans")
    op.drop_index(op.f("ix_route_plans_replanned_from_id"), table_name="route_plans")
    op.drop_index(op.f("ix_route_plans_planned_by_id"), table_name="route_plans")
    op.drop_index("ix_route_plans_collector_day", table_name="route_plans")
    op.drop_table("route_plans")
