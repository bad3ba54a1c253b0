"""Times and places a debtor declared off limits ("never at work", "not Sundays",
"not 12:00–14:00"). Planning keeps visits out of them; a visit or contact that breaks one is
flagged `in_blackout`."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.models.cases import AddressKind
from api.models.types import IdPk, UTCDateTime, enum_column, utcnow


class BlackoutKind(enum.StrEnum):
    TIME = "time"  # no visit or contact then, anywhere
    PLACE = "place"  # no visit at that place (its address, or every address of a kind)


class DebtorBlackout(db.Model):
    """A debtor's declared blackout. Weekdays are ISO (1 Monday … 7 Sunday), none: every day;
    `local_start`–`local_end` are debtor-local HH:MM ("24:00" ends the day), none: all day.
    A place blackout names an address or a kind of address and may be limited in time too."""

    __tablename__ = "debtor_blackouts"

    id: Mapped[IdPk]
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id", ondelete="CASCADE"), index=True)
    kind: Mapped[BlackoutKind] = mapped_column(enum_column(BlackoutKind, "kind"))
    weekdays: Mapped[str] = mapped_column(String(20), default="[]")  # JSON list of 1..7
    local_start: Mapped[str | None] = mapped_column(String(5))
    local_end: Mapped[str | None] = mapped_column(String(5))
    address_kind: Mapped[AddressKind | None] = mapped_column(
        enum_column(AddressKind, "address_kind"))
    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id", ondelete="CASCADE"))
    note: Mapped[str | None] = mapped_column(String(400))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
