"""Who may be sent to a case: a collector's authorisation (certificate) for a lender (`*`: any
lender) in a jurisdiction, valid from one day to another. A revoked one stays on file, with
when and by whom, so a past dispatch can still be explained."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.models.org import User
from api.models.types import IdPk, UTCDateTime, utcnow


class CollectorAuthorisation(db.Model):
    __tablename__ = "collector_authorisations"

    id: Mapped[IdPk]
    collector_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    lender: Mapped[str] = mapped_column(String(64))  # "*": every lender
    jurisdiction: Mapped[str] = mapped_column(String(2))
    certificate_no: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)  # the last day it is valid; None: never
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoke_reason: Mapped[str | None] = mapped_column(String(400))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    collector: Mapped[User] = relationship(foreign_keys=[collector_id])
