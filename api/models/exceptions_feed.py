"""The supervisor's exceptions feed: one item per thing that went wrong in the field (a visit
far from the address, a broken promise, a silent phone...), who should act on it, and its state
from open to resolved. Items are found by a scan (`api.services.supervision.exceptions`); one
subject has at most one item of a kind, so a scan can run as often as wanted."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.models.types import IdPk, UTCDateTime, enum_column, utcnow


class ExceptionKind(enum.StrEnum):
    FAR_FROM_ADDRESS = "far_from_address"  # a visit's fix outside the geofence
    OUTSIDE_VISIT_HOURS = "outside_visit_hours"  # a visit outside the debtor-local hours
    TOO_FEW_COLLECTORS = "too_few_collectors"  # a lone visit where the policy wants two
    MISSING_PHOTOS = "missing_photos"  # a visit with no photo on the server
    PROMISE_BROKEN = "promise_broken"  # broken or partly kept
    PROMISE_DUE_TODAY = "promise_due_today"  # an instalment falls due today, not yet paid
    DEVICE_SILENT = "device_silent"  # a collector's phone has not synced for a while
    PROPOSAL_UNREVIEWED = "proposal_unreviewed"  # a field proposal waits for review
    UPLOAD_STUCK = "upload_stuck"  # a declared file never arrived
    SERVER_FILE_FAILED = "server_file_failed"  # the server could not make a file (PDF, thumbnail)


class ExceptionActor(enum.StrEnum):
    """Who should act: the supervisors of the item's team, its collector, legal staff, or the
    administrator (a fault of the server, nobody's in the field)."""

    SUPERVISOR = "supervisor"
    COLLECTOR = "collector"
    LEGAL = "legal"
    ADMIN = "admin"


class ExceptionState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class ExceptionItem(db.Model):
    __tablename__ = "exception_items"
    __table_args__ = (
        UniqueConstraint("kind", "subject_type", "subject_id"),
        # The feed is read newest first (detected_at, id), by team, by collector or in all.
        Index("ix_exception_items_team_detected", "team_id", "detected_at", "id"),
        Index("ix_exception_items_collector_detected", "collector_id", "detected_at", "id"),
        Index("ix_exception_items_detected", "detected_at", "id"),
        Index("ix_exception_items_kind_state", "kind", "state"),
    )

    id: Mapped[IdPk]
    kind: Mapped[ExceptionKind] = mapped_column(enum_column(ExceptionKind, "kind"))
    # What the item is about: "visit_report", "repayment_promise", "device", "field_proposal"
    # or "evidence_file", and its id (all of them client UUIDs).
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[str] = mapped_column(String(36))
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    # The case's team (a device: its owner's), kept up to date by every scan.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    # The collector concerned: the visit's author, the phone's owner, the uploader, the
    # proposal's author, or (promises) the case's collector.
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[ExceptionActor] = mapped_column(enum_column(ExceptionActor, "actor"))
    action: Mapped[str] = mapped_column(String(40))  # a code; the sentence is in the service
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON facts, no personal data
    # When the condition arose (the visit's start, the day the promise fell due, the moment
    # the phone had been silent too long); a resolved item reopens only for a later one.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[ExceptionState] = mapped_column(
        enum_column(ExceptionState, "state"), default=ExceptionState.OPEN
    )
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledge_note: Mapped[str | None] = mapped_column(String(400))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # True when a scan found the condition cleared (no one resolved it by hand).
    auto_resolved: Mapped[bool] = mapped_column(default=False)
    resolution_note: Mapped[str | None] = mapped_column(String(400))
