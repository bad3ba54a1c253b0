"""Every model, imported here so Alembic and the app see one complete metadata."""

from api.models.audit import AuditEvent
from api.models.cases import (
    Address,
    AddressKind,
    Assignment,
    Bucket,
    Case,
    CaseStatus,
    Collateral,
    CollateralKind,
    Contact,
    ContactRole,
    CoordSource,
    Debtor,
    Instalment,
    Payment,
    Product,
    Relation,
    RepossessionStatus,
)
from api.models.field import (
    CaseNote,
    Channel,
    ContactAttempt,
    ContactOutcome,
    FieldProposal,
    ProposalKind,
    ProposalStatus,
)
from api.models.imports import ImportRun
from api.models.org import Device, RefreshToken, Role, Team, User
from api.models.sync import CaseDocument, DeviceMutation, SyncChange, SyncCounter

__all__ = [
    "CaseDocument", "CaseNote", "Channel", "ContactAttempt", "ContactOutcome", "DeviceMutation",
    "FieldProposal", "ProposalKind", "ProposalStatus", "SyncChange", "SyncCounter",
    "Address",
    "AddressKind",
    "Assignment",
    "AuditEvent",
    "Bucket",
    "Case",
    "CaseStatus",
    "Collateral",
    "CollateralKind",
    "Contact",
    "ContactRole",
    "CoordSource",
    "Debtor",
    "Device",
    "ImportRun",
    "Instalment",
    "Payment",
    "Product",
    "RefreshToken",
    "Relation",
    "RepossessionStatus",
    "Role",
    "Team",
    "User",
]
