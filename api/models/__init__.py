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
from api.models.imports import ImportRun
from api.models.org import Device, RefreshToken, Role, Team, User

__all__ = [
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
