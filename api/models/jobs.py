"""Background jobs: what was asked, how far it got, and how it ended."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.models.types import IdPk, UTCDateTime, utcnow


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(db.Model):
    """One unit of background work. The queue (api/jobs) carries only the id; everything else,
    the progress and the request to cancel included, lives here, so any worker or web process
    reads and steers it."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_kind_status", "kind", "status"),)

    id: Mapped[IdPk]
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default=JobStatus.QUEUED)
    payload: Mapped[str] = mapped_column(Text, default="{}")  # JSON: what the kind needs
    result: Mapped[str | None] = mapped_column(Text)  # JSON, once done
    error: Mapped[str | None] = mapped_column(Text)  # a sentence, once failed
    done: Mapped[int] = mapped_column(default=0)  # units of work done ...
    total: Mapped[int | None]  # ... of this many, once known
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def percent(self) -> float | None:
        if self.status == JobStatus.DONE:
            return 100.0
        if not self.total:
            return None
        return round(min(100.0, 100.0 * self.done / self.total), 1)
