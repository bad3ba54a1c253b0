"""Field work that proves itself: visit reports, repayment promises, field receipts, notices
served, vehicle sightings and repossessions. Device-owned and immutable: a correction is a new
record that supersedes the old one."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.models.field import FieldRecordMixin
from api.models.types import UTCDateTime, enum_column


class Geofence(enum.StrEnum):
    INSIDE = "inside"  # the whole accuracy circle is within the radius
    UNCERTAIN = "uncertain"  # the accuracy circle straddles the radius
    OUTSIDE = "outside"  # even the nearest point of the accuracy circle is outside
    NO_FIX = "no_fix"
    NO_TARGET = "no_target"  # the address has no coordinates


class VisitOutcome(enum.StrEnum):
    PROMISE_TO_PAY = "promise_to_pay"
    PAID = "paid"
    PARTIAL_PAYMENT = "partial_payment"
    REFUSED = "refused"
    DEBTOR_ABSENT = "debtor_absent"
    ADDRESS_INVALID = "address_invalid"
    MOVED = "moved"
    VEHICLE_FOUND = "vehicle_found"
    OTHER = "other"


class NextStep(enum.StrEnum):
    REVISIT = "revisit"
    CALL = "call"
    SERVE_NOTICE = "serve_notice"
    LEGAL = "legal"
    REPOSSESS = "repossess"
    CLOSE = "close"
    NONE = "none"


class PromiseStatus(enum.StrEnum):
    PENDING = "pending"
    KEPT = "kept"
    PARTLY_KEPT = "partly_kept"
    BROKEN = "broken"


class VisitReport(FieldRecordMixin, db.Model):
    __tablename__ = "visit_reports"
    __table_args__ = (Index("ix_visit_reports_local_day_started", "local_day", "started_at"),)

    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("visit_reports.id"), index=True)
    address_id: Mapped[int | None] = mapped_column(
        ForeignKey("addresses.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The debtor-local calendar day of `started_at`, fixed at receipt: day filters are a range
    # on an index, whatever the debtors' time zones. Set on every report (backfilled).
    local_day: Mapped[date | None]
    collector_ids: Mapped[str] = mapped_column(String(200))  # JSON list, author first
    # Every co-collector the report named: JSON [{"user_id", "verified", "cosigned",
    # "presence_id"}] (older rows: the first two); only the verified ones are in
    # `collector_ids`. Judged again when a presence pairs later (fieldwork/presence.py).
    co_collectors: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    fixes: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of GPS fixes
    lat: Mapped[float | None] = mapped_column(Float)  # the best (most accurate) fix, WGS84
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    met: Mapped[str] = mapped_column(String(30))
    met_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    outcome: Mapped[VisitOutcome] = mapped_column(enum_column(VisitOutcome, "outcome"))
    reason: Mapped[str | None] = mapped_column(String(40))
    promised_fen: Mapped[int | None] = mapped_column(BigInteger)
    collected_fen: Mapped[int | None] = mapped_column(BigInteger)
    next_step: Mapped[NextStep] = mapped_column(enum_column(NextStep, "next_step"))
    follow_up_on: Mapped[date | None]
    notes: Mapped[str | None] = mapped_column(Text)
    # Computed on receipt.
    distance_m: Mapped[float | None] = mapped_column(Float)
    geofence: Mapped[Geofence] = mapped_column(enum_column(Geofence, "geofence"))
    flags: Mapped[str] = mapped_column(String(400), default="[]")  # JSON list
    device_clock_offset_s: Mapped[float | None] = mapped_column(Float)


class VisitPresence(FieldRecordMixin, db.Model):
    """A collector's own word, from their own phone, that they were at a case's door: when and
    where (WGS84). Recorded offline and pushed whenever the phone syncs; the server pairs it
    with the visit report it belongs to (api/services/fieldwork/presence.py). The author is the
    collector who was present."""

    __tablename__ = "visit_presences"

    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float] = mapped_column(Float)
    mock: Mapped[bool] = mapped_column(default=False)  # a mock location: never counts
    # The newest visit report it paired with; None until one does.
    visit_report_id: Mapped[str | None] = mapped_column(
        ForeignKey("visit_reports.id", ondelete="SET NULL"), index=True
    )
    flags: Mapped[str] = mapped_column(String(400), default="[]")  # JSON list


class RepaymentPromise(FieldRecordMixin, db.Model):
    """还款承诺书: a concrete amount and date, in writing, signed."""

    __tablename__ = "repayment_promises"

    visit_report_id: Mapped[str | None] = mapped_column(ForeignKey("visit_reports.id"))
    plan: Mapped[str] = mapped_column(Text)  # JSON [{"due_on", "amount_fen"}], ordered
    total_fen: Mapped[int] = mapped_column(BigInteger)
    first_due_on: Mapped[date] = mapped_column(index=True)
    last_due_on: Mapped[date]
    method: Mapped[str] = mapped_column(String(30))
    signer_name: Mapped[str] = mapped_column(String(120))
    # The debtor's contact who signed (a guarantor), when it was not the debtor.
    signer_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    signer_id_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    signer_id_last4: Mapped[str | None] = mapped_column(String(4))
    signature_file_id: Mapped[str | None] = mapped_column(String(36))
    signature_strokes: Mapped[str | None] = mapped_column(Text)
    witness_name: Mapped[str | None] = mapped_column(String(120))
    place_text: Mapped[str | None] = mapped_column(String(400))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    pdf_file_id: Mapped[str | None] = mapped_column(String(36))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[PromiseStatus] = mapped_column(
        enum_column(PromiseStatus, "status"), default=PromiseStatus.PENDING
    )
    paid_toward_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class FieldReceipt(FieldRecordMixin, db.Model):
    """现金收据: money taken in the field, numbered from the receipt book."""

    __tablename__ = "field_receipts"

    visit_report_id: Mapped[str | None] = mapped_column(ForeignKey("visit_reports.id"))
    receipt_no: Mapped[str] = mapped_column(String(40), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(20))
    payer_name: Mapped[str] = mapped_column(String(120))
    # The debtor's contact who paid (a guarantor), when it was not the debtor.
    payer_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    # When the money was taken (the phone sends it as `received_at`); the mixin's `received_at`
    # is when the server received the record, as for every field record.
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class NoticeServed(FieldRecordMixin, db.Model):
    """催收通知书 / 律师函 送达: proof of service interrupts the limitation period."""

    __tablename__ = "notices_served"

    visit_report_id: Mapped[str | None] = mapped_column(ForeignKey("visit_reports.id"))
    notice_type: Mapped[str] = mapped_column(String(30))
    served_to_name: Mapped[str] = mapped_column(String(120))
    served_to_role: Mapped[str] = mapped_column(String(30))
    # The debtor's contact it was served to, when it was one: they must know of the loan.
    served_to_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    method: Mapped[str] = mapped_column(String(30))
    served_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)


class VehicleSighting(FieldRecordMixin, db.Model):
    """A vehicle or machine seen on site, its VIN and engine number compared with the file."""

    __tablename__ = "vehicle_sightings"

    collateral_id: Mapped[int] = mapped_column(ForeignKey("collateral.id"), index=True)
    vin_read: Mapped[str | None] = mapped_column(String(17))
    engine_no_read: Mapped[str | None] = mapped_column(String(20))
    plate_read: Mapped[str | None] = mapped_column(String(10))
    vin_match: Mapped[bool | None]
    engine_no_match: Mapped[bool | None]
    plate_match: Mapped[bool | None]
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    place_text: Mapped[str | None] = mapped_column(String(400))
    notes: Mapped[str | None] = mapped_column(Text)


class Repossession(FieldRecordMixin, db.Model):
    """拖车: the recovery of a vehicle. Its recovery time cannot be changed once written (a
    database trigger refuses it on both engines)."""

    __tablename__ = "repossessions"

    collateral_id: Mapped[int] = mapped_column(ForeignKey("collateral.id"), index=True)
    sighting_id: Mapped[str | None] = mapped_column(ForeignKey("vehicle_sightings.id"))
    recovered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    place_text: Mapped[str | None] = mapped_column(String(400))
    towed_by: Mapped[str | None] = mapped_column(String(120))
    odometer_km: Mapped[int | None]
    condition: Mapped[str | None] = mapped_column(Text)
