"""Complaints about how a case was worked: received, assigned to someone who handles it, and
closed with an outcome. While one is open the case is not dispatched (when the policy says so)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.models.cases import Case
from api.models.types import IdPk, UTCDateTime, enum_column, utcnow


class ComplaintChannel(enum.StrEnum):
    PHONE = "phone"
    LETTER = "letter"
    EMAIL = "email"
    IN_PERSON = "in_person"
    LENDER = "lender"  # passed on by the lender
    REGULATOR = "regulator"  # a regulator or the banking association
    OTHER = "other"


class ComplaintCategory(enum.StrEnum):
    HARASSMENT = "harassment"
    IMPROPER_HOURS = "improper_hours"
    THREATS_OR_DECEPTION = "threats_or_deception"
    THIRD_PARTY_DISCLOSURE = "third_party_disclosure"
    WRONG_PERSON = "wrong_person"
    AMOUNT_DISPUTE = "amount_dispute"
    PERSONAL_DATA = "personal_data"
    COLLECTOR_CONDUCT = "collector_conduct"
    OTHER = "other"


class ComplaintStatus(enum.StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class Complainant(enum.StrEnum):
    DEBTOR = "debtor"
    CONTACT = "contact"  # one of the debtor's contacts: contact_id
    OTHER = "other"  # anybody else: complainant_name


OPEN_COMPLAINT = (ComplaintStatus.OPEN, ComplaintStatus.ASSIGNED)


class Complaint(db.Model):
    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_case_id_status", "case_id", "status"),)

    id: Mapped[IdPk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[ComplaintChannel] = mapped_column(enum_column(ComplaintChannel, "channel"))
    complainant: Mapped[Complainant] = mapped_column(enum_column(Complainant, "complainant"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    complainant_name: Mapped[str | None] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(Text)
    category: Mapped[ComplaintCategory] = mapped_column(
        enum_column(ComplaintCategory, "category"))
    status: Mapped[ComplaintStatus] = mapped_column(
        enum_column(ComplaintStatus, "status"), default=ComplaintStatus.OPEN)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()
    notes: Mapped[list[ComplaintNote]] = relationship(
        order_by="ComplaintNote.id", cascade="all, delete-orphan")


class ComplaintNote(db.Model):
    """What the handler noted while working the complaint (never edited)."""

    __tablename__ = "complaint_notes"

    id: Mapped[IdPk]
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
