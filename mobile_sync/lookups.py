"""What a push batch's mutations look up, read once for the batch instead of once each, and the
row locks they would each take, taken once up front (`BatchLookups`)."""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.config import Policy
from api.models import Address, Case, CompliancePolicy, PolicyVersion, VisitPresence
from api.services.compliance import blackouts
from api.services.compliance.policies import as_policy, policy_row_for_case, preset_for
from api.services.identity.accounts import Principal
from api.services.row_locks import lock_cases
from mobile_sync.registry import MUTATIONS

MAX_ID = 2**63 - 1  # no stored id is larger; a larger one is the mutation's own error


class BatchLookups:
    """Read after the device row is locked, before the first mutation: the batch's cases and
    the addresses of their debtors (then found in the session's identity map), which of their
    record ids are taken, the debtors' declared blackouts (no mutation declares one), the
    policies with all their versions, and which cases have presences stored.

    The rows of the cases the filer may file for (held, or their team's) and of their debtors
    are locked here, outside the mutations' savepoints, in id order (`api.services.row_locks`):
    a mutation's own lock of them is then skipped, and no presence can be added to them until
    the batch commits, so the presences read here stay true for the whole batch."""

    def __init__(self, session: Session, filer: Principal, mutations: list[dict]):
        self.session = session
        case_ids: set[int] = set()
        presence_cases: set[int] = set()  # may gain a presence in this batch
        self.taken: dict[type, set[str]] = {}
        for mutation in mutations:
            kind, payload = MUTATIONS.get(mutation["type"]), mutation.get("payload")
            if kind is None or not isinstance(payload, dict):
                continue
            if type(payload.get("case_id")) is int and 0 < payload["case_id"] <= MAX_ID:
                case_ids.add(payload["case_id"])
                if kind.model is VisitPresence:
                    presence_cases.add(payload["case_id"])
            with contextlib.suppress(TypeError, ValueError, AttributeError):
                self.taken.setdefault(kind.model, set()).add(str(uuid.UUID(payload.get("id"))))
        # Held here: the identity map keeps only what someone refers to.
        self.cases = session.scalars(select(Case).where(Case.id.in_(case_ids))).all()
        self.locked = {case.id for case in self.cases if _may_file(filer, case)}
        lock_cases(session, self.locked)
        debtor_ids = {case.debtor_id for case in self.cases}
        self.addresses = session.scalars(
            select(Address).where(Address.debtor_id.in_(debtor_ids))).all()
        self._blackouts = blackouts.by_debtor(session, debtor_ids) if debtor_ids else {}
        for model, ids in self.taken.items():
            self.taken[model] = set(session.scalars(select(model.id).where(model.id.in_(ids))))
        self._presences = presence_cases
        if self.locked:
            self._presences |= set(session.scalars(
                select(VisitPresence.case_id).distinct()
                .where(VisitPresence.case_id.in_(self.locked))))
        self._rows: dict[tuple, CompliancePolicy | None] = {}
        self._versions: dict[int, list[PolicyVersion]] = {}
        self._policies: dict[int, Policy] = {}

    def may_be_taken(self, model, record_id: str) -> bool:
        """False when the id is surely free (not stored before the batch, nor filed in it)."""
        return record_id in self.taken.get(model, ())

    def filed(self, model, record_id: str) -> None:
        self.taken.setdefault(model, set()).add(record_id)

    def checkpoint(self) -> dict[type, set[str]]:
        """The ids taken now, to `restore` if the savepoint opened next is rolled back."""
        return {model: set(ids) for model, ids in self.taken.items()}

    def restore(self, checkpoint: dict[type, set[str]]) -> None:
        """Forget the ids filed since `checkpoint`: their savepoint was rolled back."""
        self.taken = checkpoint

    def may_have_presences(self, case_id: int) -> bool:
        """False when the case surely has no presence stored (none before the batch, while
        its row is locked, and the batch files none)."""
        return case_id not in self.locked or case_id in self._presences

    def blackouts(self, debtor_id: int) -> list:
        return self._blackouts.get(debtor_id, [])

    def policy(self, case: Case, at: datetime) -> Policy:
        """As `compliance.policies.policy_for_case`."""
        key = (case.policy_id, case.jurisdiction, case.lender)
        if key not in self._rows:
            self._rows[key] = policy_row_for_case(self.session, case)
        row = self._rows[key]
        if row is None:
            return preset_for(case.jurisdiction)
        if row.id not in self._versions:
            self._versions[row.id] = self.session.scalars(
                select(PolicyVersion).where(PolicyVersion.policy_id == row.id)
                .order_by(PolicyVersion.effective_from.desc(), PolicyVersion.version.desc())).all()
        version = next((v for v in self._versions[row.id] if v.effective_from <= at), None)
        if version is None:
            return preset_for(case.jurisdiction)
        if version.id not in self._policies:
            self._policies[version.id] = as_policy(version)
        return self._policies[version.id]


def _may_file(filer: Principal, case: Case) -> bool:
    """Whether the filer holds the case or it is their team's. (One that has left them may be
    filed for too, once its mutation has checked it was theirs; it takes its own locks then:
    a push locks no row of a case its filer may not file for.)"""
    return case.collector_id == filer.user_id or (
        filer.team_id is not None and case.team_id == filer.team_id)
