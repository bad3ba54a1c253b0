"""What collectors record in the field. Device-owned: created with client UUIDs, immutable."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.models.types import UTCDateTime, enum_column, utcnow


class Channel(enum.StrEnum):
    CALL = "call"
    SMS = "sms"
    VISIT_ATTEMPT = "visit_attempt"


class ContactOutcome(enum.StrEnum):
    CONNECTED = "connected"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    POWERED_OFF = "powered_off"
    WRONG_NUMBER = "wrong_number"
    REFUSED = "refused"
    PROMISED = "promised"
    NOBODY_HOME = "nobody_home"
    MOVED = "moved"
    SENT = "sent"


class ProposalKind(enum.StrEnum):
    PHONE = "phone"
    ADDRESS = "address"
    CONTACT = "contact"


class ProposalStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class FieldRecordMixin:
    """Columns every device-created record carries: who, from which device, and three clocks."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # client-generated UUID
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    mutation_id: Mapped[int]
    client_time: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The case had left the author's hands when this arrived: kept, and flagged for review.
    case_reassigned: Mapped[bool] = mapped_column(default=False)
    # The compliance policy version the record was judged under ("cn-default@1"): a later
    # version never changes what its flags meant.
    policy_ref: Mapped[str | None] = mapped_column(String(80))


class ContactAttempt(FieldRecordMixin, db.Model):
    """A call, SMS or visit attempt and how it went."""

    __tablename__ = "contact_attempts"
    __table_args__ = (Index("ix_contact_attempts_case_time", "case_id", "occurred_at"),)

    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    outcome: Mapped[ContactOutcome] = mapped_column(enum_column(ContactOutcome, "outcome"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_s: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(Text)
    # What the rules found on receipt (api.models.vocabulary.FLAGS): contact hours, blackouts,
    # attempt caps. A JSON list, as a visit report's.
    flags: Mapped[str] = mapped_column(String(400), default="[]")


class CaseNote(FieldRecordMixin, db.Model):
    __tablename__ = "case_notes"

    text: Mapped[str] = mapped_column(Text)


class FieldProposal(FieldRecordMixin, db.Model):
    """A phone, address or contact learnt in the field: reviewed, never an overwrite."""

    __tablename__ = "field_proposals"

    kind: Mapped[ProposalKind] = mapped_column(enum_column(ProposalKind, "kind"))
    data: Mapped[str] = mapped_column(Text)  # JSON of the proposed record
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ProposalStatus] = mapped_column(
        enum_column(ProposalStatus, "status"), default=ProposalStatus.PENDING
    )
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(String(200))


class ReachabilityChange(FieldRecordMixin, db.Model):
    """The debtor of a case marked unreachable (with why and since when) or reachable again,
    by the case's collector or a supervisor of its team. Append-only: the latest change by
    `client_time` is the case's state, and the rows are its history (who, when)."""

    __tablename__ = "reachability_changes"
    __table_args__ = (Index("ix_reachability_changes_case_time", "case_id", "client_time"),)

    unreachable: Mapped[bool]
    reason: Mapped[str | None] = mapped_column(String(30))  # vocabulary.UNREACHABLE_REASONS
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # unreachable since
    note: Mapped[str | None] = mapped_column(Text)
