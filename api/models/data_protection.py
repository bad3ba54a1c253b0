"""Legal holds (nothing held is purged or erased) and the log of data-subject requests
(PIPL Art. 45-47: export, correction, erasure), each with its outcome."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.models.types import IdPk, UTCDateTime, enum_column, utcnow


class HoldKind(enum.StrEnum):
    LITIGATION = "litigation"
    ASSET_PRESERVATION = "asset_preservation"  # 财产保全


class LegalHold(db.Model):
    """A case's records frozen for a lawsuit or a preservation order; active until released."""

    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_case_released", "case_id", "released_at"),)

    id: Mapped[IdPk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[HoldKind] = mapped_column(enum_column(HoldKind, "kind"))
    reference: Mapped[str] = mapped_column(String(120))  # e.g. the court's file number
    note: Mapped[str | None] = mapped_column(String(400))
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release_note: Mapped[str | None] = mapped_column(String(400))


class SubjectRequestKind(enum.StrEnum):
    EXPORT = "export"
    CORRECTION = "correction"
    ERASURE = "erasure"


class SubjectRequestStatus(enum.StrEnum):
    IN_REVIEW = "in_review"  # a correction waiting for its review
    DONE = "done"
    REFUSED = "refused"


class SubjectRequest(db.Model):
    """One request from a debtor about their data, and what came of it."""

    __tablename__ = "subject_requests"

    id: Mapped[IdPk]
    kind: Mapped[SubjectRequestKind] = mapped_column(enum_column(SubjectRequestKind, "kind"))
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(200))  # the debtor, their lawyer...
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(400))
    handled_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[SubjectRequestStatus] = mapped_column(
        enum_column(SubjectRequestStatus, "status"))
    # What came of it: a sentence, and for a refusal the rule that refused it.
    outcome: Mapped[str | None] = mapped_column(Text)
    refused_rule: Mapped[str | None] = mapped_column(String(40))
    # A correction's field proposal, reviewed like any other (casefile.proposals).
    proposal_id: Mapped[str | None] = mapped_column(ForeignKey("field_proposals.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
