"""A record of each file taken in from a lender, and how far its run got."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.models.jobs import FINISHED, Job, JobStatus
from api.models.types import IdPk, UTCDateTime, utcnow


class ImportRun(db.Model):
    """One lender file: asked for (`queued`), being taken in by its job in committed chunks
    (`running`, `done` of `total` rows), and how it ended (`done`, `failed`, `cancelled`)."""

    __tablename__ = "import_runs"

    id: Mapped[IdPk]
    kind: Mapped[str] = mapped_column(String(16))  # "cases" | "payments"
    file_format: Mapped[str] = mapped_column(String(8))  # "json" | "csv"
    filename: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    dry_run: Mapped[bool] = mapped_column(default=False)
    atomic: Mapped[bool] = mapped_column(default=False)
    as_of: Mapped[date | None] = mapped_column(Date)  # as asked; else the file's, else today
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default=JobStatus.DONE)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    blob_key: Mapped[str | None] = mapped_column(String(200))  # the upload, until the run ends
    # JSON of `file_checks.FileRepeats` found on upload (cases), until the run ends
    repeats: Mapped[str | None] = mapped_column(Text)
    done: Mapped[int] = mapped_column(default=0)  # records committed
    total: Mapped[int | None]  # records in the file
    rows: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    errors: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of row errors

    job: Mapped[Job | None] = relationship()

    @property
    def state(self) -> str:
        """The run's status; a run whose job ended before the run could (its worker died, or
        its user lost the right to import) has the job's."""
        if self.status not in FINISHED and self.job is not None and self.job.status in FINISHED:
            return self.job.status
        return self.status

    @property
    def percent(self) -> float | None:
        if self.state == JobStatus.DONE:
            return 100.0
        if not self.total:
            return None
        return round(min(100.0, 100.0 * self.done / self.total), 1)


class CaseImportDigest(db.Model):
    """What the last import that touched a case was given for it, and the case's device
    document just after: a later import given the same record, while the document is still
    that one (nothing changed the case since), skips the case without comparing a field."""

    __tablename__ = "case_import_digests"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(32))  # of the checked record and its as_of
    document_sha: Mapped[str] = mapped_column(String(32))  # of the sealed document then
