"""Monthly targets a supervisor sets for a team and for each of its collectors.

A month's figure is split into weekly and daily ones by `api.services.supervision.targets`
(working days, Monday to Saturday); only the month is stored."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.models.cases import Instalment, Payment
from api.models.types import IdPk, UTCDateTime, utcnow

# The measures a target may set; None means "no target for this measure".
MEASURES = ("recovered_fen", "m1_fen", "m2_fen", "m3_plus_fen", "m2_account_share_bp", "visits")


class Target(db.Model):
    """One month's target for a team (`collector_id` NULL) or for one of its collectors."""

    __tablename__ = "targets"
    __table_args__ = (
        UniqueConstraint("month", "team_id", "collector_id"),
        # NULLs are distinct in a unique constraint: the team's own row needs its own index.
        Index(
            "uq_targets_month_team_id_team_row",
            "month",
            "team_id",
            unique=True,
            postgresql_where=text("collector_id IS NULL"),
            sqlite_where=text("collector_id IS NULL"),
        ),
        CheckConstraint(
            "coalesce(recovered_fen, 0) >= 0 AND coalesce(m1_fen, 0) >= 0"
            " AND coalesce(m2_fen, 0) >= 0 AND coalesce(m3_plus_fen, 0) >= 0"
            " AND coalesce(visits, 0) >= 0"
            " AND coalesce(m2_account_share_bp, 0) BETWEEN 0 AND 10000",
            name="not_negative",
        ),
    )

    id: Mapped[IdPk]
    month: Mapped[date]  # the first day of the month
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Amounts recovered, in fen: all buckets together, then by the case's bucket at the start of
    # the month (M3 and M3+ together).
    recovered_fen: Mapped[int | None] = mapped_column(BigInteger)
    m1_fen: Mapped[int | None] = mapped_column(BigInteger)
    m2_fen: Mapped[int | None] = mapped_column(BigInteger)
    m3_plus_fen: Mapped[int | None] = mapped_column(BigInteger)
    # Share of the M2 accounts held that pay something, in basis points (10000 = 100%).
    m2_account_share_bp: Mapped[int | None]
    visits: Mapped[int | None]
    set_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Progress (api.services.supervision.progress) reads a period's payments by date, and each
# case's payments and instalments up to the start of the month from an index alone.
Index("ix_payments_paid_on", Payment.paid_on)
Index("ix_payments_case_paid_on", Payment.case_id, Payment.paid_on, Payment.amount_fen)
Index("ix_instalments_case_due_on", Instalment.case_id, Instalment.due_on, Instalment.amount_fen)
