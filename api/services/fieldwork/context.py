"""What a field-work service is given: the session, who files, from which device, for which
case, under which policy. Built by the push transport for a mutation and by an online route
for a request, so both paths run the same rules and store the same records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from api.config import Policy
from api.models import Case
from api.services.exceptions import Conflict, InvalidInput


@dataclass
class FieldContext:
    """The filer and the case. `flags` collects what the rules found (never a refusal)."""

    session: Session
    user_id: int
    device_id: str
    mutation_id: int  # the phone's outbox position; 0 for an online filing
    client_time: datetime
    case: Case
    case_reassigned: bool
    policy: Policy
    cipher: Any = None  # api.services.identity.pii.PiiCipher
    blobs: Any = None  # api.services.evidence.storage.BlobStore
    verify_cosign: Callable[[str, datetime, datetime], int | None] | None = None
    clock_offset_s: float | None = None
    flags: list[str] = field(default_factory=list)
    # A push batch's prefetched look-ups (`mobile_sync.push`); None: each is a query.
    blackouts_of: Callable[[int], list] | None = None
    # False when the case surely has no stored presence (the batch read which cases have).
    may_have_presences: Callable[[int], bool] | None = None

    def record_fields(self, record_id: str) -> dict:
        """The columns every device-created record carries."""
        return {
            "id": record_id,
            "case_id": self.case.id,
            "author_id": self.user_id,
            "device_id": self.device_id,
            "mutation_id": self.mutation_id,
            "client_time": self.client_time,
            "case_reassigned": self.case_reassigned,
            "policy_ref": self.policy.ref,
        }

    @property
    def timezone(self) -> str:
        """The debtor's time zone, where visit and contact hours are judged."""
        return self.case.debtor.timezone or self.policy.default_timezone

    def own(self, model, row_id, field_name: str, *, debtor: bool = False):
        """A row that must belong to this case (or its debtor), or None when not given."""
        if row_id is None:
            return None
        row = self.session.get(model, row_id)
        owner = (
            (row.debtor_id == self.case.debtor_id)
            if debtor and row
            else (row is not None and row.case_id == self.case.id)
        )
        if row is None or not owner:
            raise InvalidInput(
                f"That {field_name.removesuffix('_id')} is not part of this case.",
                fields={field_name: ["not part of this case"]},
            )
        return row


def ensure_new_record(session: Session, model: type, record_id: str) -> None:
    if session.get(model, record_id) is not None:
        raise Conflict("A record with this id already exists.", fields={"id": ["already used"]})


def id_or_none(value) -> str | None:
    return None if value is None else str(value)
