"""Evidence files: declared by the phone inside a record, uploaded out of band, verified."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.models.types import UTCDateTime, enum_column, utcnow


class EvidenceKind(enum.StrEnum):
    DOORPLATE = "doorplate"
    SITE = "site"
    DEBTOR = "debtor"
    VEHICLE_VIN_PLATE = "vehicle_vin_plate"
    ENGINE_NUMBER = "engine_number"
    VEHICLE = "vehicle"
    DOCUMENT = "document"
    RECEIPT = "receipt"
    NOTICE = "notice"
    SIGNATURE = "signature"
    PROMISE_PDF = "promise_pdf"


class UploadStatus(enum.StrEnum):
    PENDING = "pending"
    COMPLETE = "complete"
    # A file the server makes (a promise's PDF, a thumbnail) that its job could not make, after
    # its retries: the server's fault, never the collector's (`EvidenceFile.server_error`).
    FAILED = "failed"


class EvidenceFile(db.Model):
    """One original file. The declaration (hash, size, time, place) comes with the record; the
    bytes come later and must match it. Originals are never changed."""

    __tablename__ = "evidence_files"
    __table_args__ = (
        # A record's files; with status and mime, "has this visit a photo on the server?" is
        # answered from the index alone (the exceptions feed asks it of every recent visit).
        Index("ix_evidence_files_record", "record_type", "record_id", "status", "mime"),
        # Uploads still pending, oldest first (the exceptions feed's stuck uploads). Partial:
        # small, and no planner takes it for a `status = 'complete'` test.
        Index(
            "ix_evidence_files_pending",
            "declared_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # client UUID
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    record_type: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[EvidenceKind] = mapped_column(enum_column(EvidenceKind, "kind"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(60))
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(String(36))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[UploadStatus] = mapped_column(
        enum_column(UploadStatus, "status"), default=UploadStatus.PENDING
    )
    storage_key: Mapped[str] = mapped_column(String(200))
    thumbnail_key: Mapped[str | None] = mapped_column(String(200))  # set once it is stored
    # A photo's thumbnail, made by a job after the upload completes; None: the file has none.
    thumbnail_status: Mapped[UploadStatus | None] = mapped_column(
        enum_column(UploadStatus, "thumbnail_status"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exif: Mapped[str | None] = mapped_column(Text)  # JSON of what the file itself says
    flags: Mapped[str] = mapped_column(String(300), default="[]")  # JSON list
    last_error: Mapped[str | None] = mapped_column(String(300))
    # Why the server could not make this file or its thumbnail (its job failed for good).
    server_error: Mapped[str | None] = mapped_column(String(300))
