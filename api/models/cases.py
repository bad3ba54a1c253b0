"""The case file: debtors, their contacts and addresses, loans (cases), schedules, payments,
collateral and assignment history. Amounts are integer fen; coordinates are WGS84."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.models.types import Fen, IdPk, UTCDateTime, enum_column, utcnow


class Relation(enum.StrEnum):
    SPOUSE = "spouse"
    PARENT = "parent"
    CHILD = "child"
    SIBLING = "sibling"
    RELATIVE = "relative"
    FRIEND = "friend"
    COLLEAGUE = "colleague"
    EMPLOYER = "employer"
    OTHER = "other"


class ContactRole(enum.StrEnum):
    REFERENCE = "reference"
    GUARANTOR = "guarantor"
    COUNTER_GUARANTOR = "counter_guarantor"


# Parties to the loan, who may be told of it; every other contact is a third party
# (compliance.contact_rules).
LOAN_PARTIES = (ContactRole.GUARANTOR, ContactRole.COUNTER_GUARANTOR)


class AddressKind(enum.StrEnum):
    HOUSEHOLD_REGISTRATION = "household_registration"
    HOME = "home"
    WORK = "work"
    WORKSITE = "worksite"
    OTHER = "other"


class CoordSource(enum.StrEnum):
    LENDER = "lender"
    GEOCODER = "geocoder"
    VISIT = "visit"
    TRACKER = "tracker"


class Product(enum.StrEnum):
    CONSUMER_LOAN = "consumer_loan"
    CAR_LOAN = "car_loan"
    MACHINERY_FINANCE = "machinery_finance"


class CaseStatus(enum.StrEnum):
    ACTIVE = "active"
    PROMISED = "promised"
    PARTLY_PAID = "partly_paid"
    SETTLED = "settled"
    LEGAL = "legal"
    WRITTEN_OFF = "written_off"


CLOSED_STATUSES = (CaseStatus.SETTLED, CaseStatus.WRITTEN_OFF)


class Bucket(enum.StrEnum):
    CURRENT = "current"
    M1 = "M1"
    M2 = "M2"
    M3 = "M3"
    M3_PLUS = "M3+"


class CollateralKind(enum.StrEnum):
    CAR = "car"
    TRUCK = "truck"
    MACHINERY = "machinery"
    OTHER = "other"


class RepossessionStatus(enum.StrEnum):
    NONE = "none"
    SEARCHING = "searching"
    LOCATED = "located"
    REPOSSESSED = "repossessed"
    RELEASED = "released"


class Debtor(db.Model):
    """A borrower. The national ID is stored encrypted and found by a keyed hash."""

    __tablename__ = "debtors"
    # Name search is a prefix match: text_pattern_ops lets PostgreSQL use the index for
    # `LIKE 'x%'` whatever the database collation; SQLite uses it for a range on the name.
    __table_args__ = (
        Index("ix_debtors_name", "name", postgresql_ops={"name": "text_pattern_ops"}),
    )

    id: Mapped[IdPk]
    lender_ref: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    national_id_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    national_id_digest: Mapped[str] = mapped_column(String(64), unique=True)
    national_id_last4: Mapped[str] = mapped_column(String(4))
    mobile_phone: Mapped[str | None] = mapped_column(String(32), index=True)
    home_phone: Mapped[str | None] = mapped_column(String(32), index=True)
    work_phone: Mapped[str | None] = mapped_column(String(32), index=True)
    employer: Mapped[str | None] = mapped_column(String(200))
    risk_notes: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # When retention or an erasure request stripped the personal data (compliance.retention).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="debtor", cascade="all, delete-orphan", order_by="Contact.id"
    )
    addresses: Mapped[list[Address]] = relationship(
        back_populates="debtor", cascade="all, delete-orphan", order_by="Address.id"
    )


class Contact(db.Model):
    """A person linked to a debtor. Whoever does not know of the loan must never learn of it."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("debtor_id", "lender_ref"),)

    id: Mapped[IdPk]
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id", ondelete="CASCADE"), index=True)
    lender_ref: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    relation: Mapped[Relation] = mapped_column(enum_column(Relation, "relation"))
    role: Mapped[ContactRole] = mapped_column(
        enum_column(ContactRole, "role"), default=ContactRole.REFERENCE
    )
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    knows_of_loan: Mapped[bool] = mapped_column(default=False)

    debtor: Mapped[Debtor] = relationship(back_populates="contacts")


class Address(db.Model):
    """A place where a debtor (or one of their contacts) may be found. lat/lon are WGS84."""

    __tablename__ = "addresses"
    __table_args__ = (
        UniqueConstraint("debtor_id", "lender_ref"),
        Index("ix_addresses_lat_lon", "lat", "lon"),
    )

    id: Mapped[IdPk]
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    lender_ref: Mapped[str] = mapped_column(String(64))
    kind: Mapped[AddressKind] = mapped_column(enum_column(AddressKind, "kind"))
    text: Mapped[str] = mapped_column(String(400))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    coord_source: Mapped[CoordSource | None] = mapped_column(
        enum_column(CoordSource, "coord_source")
    )
    source_datum: Mapped[str | None] = mapped_column(String(8))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    debtor: Mapped[Debtor] = relationship(back_populates="addresses")


class Case(db.Model):
    """A loan in collection. Figures are recomputed from schedule and payments on every import."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_team_bucket", "team_id", "bucket"),
        Index("ix_cases_collector_status", "collector_id", "status"),
        Index("ix_cases_days_past_due", "days_past_due"),
    )

    id: Mapped[IdPk]
    contract_no: Mapped[str] = mapped_column(String(64), unique=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    product: Mapped[Product] = mapped_column(enum_column(Product, "product"))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    principal_fen: Mapped[Fen]
    disbursed_on: Mapped[date | None]
    status: Mapped[CaseStatus] = mapped_column(
        enum_column(CaseStatus, "status"), default=CaseStatus.ACTIVE
    )
    lender_bucket: Mapped[Bucket | None] = mapped_column(enum_column(Bucket, "lender_bucket"))
    penalty_fen: Mapped[Fen]
    fees_fen: Mapped[Fen]
    penalty_basis: Mapped[str | None] = mapped_column(String(200))

    # Computed from schedule and payments (api.services.casefile.loan_figures).
    figures_as_of: Mapped[date | None]
    total_due_fen: Mapped[Fen]
    paid_fen: Mapped[Fen]
    overdue_fen: Mapped[Fen]
    outstanding_fen: Mapped[Fen]
    outstanding_principal_fen: Mapped[Fen]
    days_past_due: Mapped[int] = mapped_column(default=0)
    periods_overdue: Mapped[int] = mapped_column(default=0)
    bucket: Mapped[Bucket] = mapped_column(enum_column(Bucket, "bucket"), default=Bucket.CURRENT)
    reminder_class: Mapped[str] = mapped_column(String(1), default="C")
    next_due_on: Mapped[date | None]

    # Whose loan and under which law: they choose the compliance policy (compliance.policies).
    lender: Mapped[str] = mapped_column(String(64), default="default", server_default="default")
    jurisdiction: Mapped[str] = mapped_column(String(2), default="CN", server_default="CN")
    # Set by an import or an admin; otherwise the policy of the lender and jurisdiction.
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("compliance_policies.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # When the case reached a closed status (`closing`); retention runs from here.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When retention or an erasure request removed its field records (compliance.retention).
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    debtor: Mapped[Debtor] = relationship(lazy="joined", innerjoin=True)
    instalments: Mapped[list[Instalment]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="Instalment.seq"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="Payment.paid_on"
    )
    collateral: Mapped[list[Collateral]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="Collateral.id"
    )
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="Assignment.id"
    )

    __mapper_args__ = {"version_id_col": version}


@event.listens_for(Case.status, "set")
def closing(case: Case, status, _old, _initiator) -> None:
    """Every write path sets the status through the ORM (imports, payments, factories), so the
    close time is kept here: stamped when the case first reaches a closed status, cleared when
    it reopens. A close time already set (by a backfill or a test) is kept. A reopened case
    is no longer purged: what it gathers now is retention's again (compliance.retention)."""
    if status in CLOSED_STATUSES:
        if case.closed_at is None:
            case.closed_at = utcnow()
    else:
        case.closed_at = case.purged_at = None


class Instalment(db.Model):
    __tablename__ = "instalments"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[IdPk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    seq: Mapped[int]
    due_on: Mapped[date]
    amount_fen: Mapped[Fen]
    principal_fen: Mapped[Fen]

    case: Mapped[Case] = relationship(back_populates="instalments")


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("case_id", "lender_ref"),)

    id: Mapped[IdPk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    lender_ref: Mapped[str] = mapped_column(String(64))
    paid_on: Mapped[date]
    amount_fen: Mapped[Fen]
    method: Mapped[str | None] = mapped_column(String(40))

    case: Mapped[Case] = relationship(back_populates="payments")


class Collateral(db.Model):
    """A vehicle or machine securing a loan; field staff confirm it by VIN and engine number."""

    __tablename__ = "collateral"
    __table_args__ = (UniqueConstraint("case_id", "lender_ref"),)

    id: Mapped[IdPk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    lender_ref: Mapped[str] = mapped_column(String(64))
    kind: Mapped[CollateralKind] = mapped_column(enum_column(CollateralKind, "kind"))
    vin: Mapped[str | None] = mapped_column(String(17), index=True)
    engine_no: Mapped[str | None] = mapped_column(String(20))
    plate: Mapped[str | None] = mapped_column(String(10), index=True)
    make: Mapped[str | None] = mapped_column(String(60))
    model: Mapped[str | None] = mapped_column(String(60))
    colour: Mapped[str | None] = mapped_column(String(30))
    tracker_lat: Mapped[float | None]
    tracker_lon: Mapped[float | None]
    tracker_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    repossession_status: Mapped[RepossessionStatus] = mapped_column(
        enum_column(RepossessionStatus, "repossession_status"), default=RepossessionStatus.NONE
    )

    case: Mapped[Case] = relationship(back_populates="collateral")


# "Last six of the VIN" (the serial number) is how field staff read a VIN aloud. An index on the
# expression serves it with nothing for any writer to keep up to date; the search must use the
# very same expression, with literal positions (see `vin_serial`).
def vin_serial(vin):
    """SQL for the last six characters of a 17-character VIN, as the index stores them."""
    return func.substr(vin, literal_column("12"), literal_column("6"))


Index("ix_collateral_vin_serial", vin_serial(Collateral.vin))


class Assignment(db.Model):
    """One period during which a case was held by a team and (optionally) a collector."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_case_open", "case_id", "ended_at"),)

    id: Mapped[IdPk]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    collector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(back_populates="assignments")
