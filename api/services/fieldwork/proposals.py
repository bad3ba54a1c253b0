"""What a collector learns in the field (a new phone, address or contact): a proposal that a
supervisor reviews (`api.services.casefile.proposals`), never an overwrite."""

from __future__ import annotations

import enum
import json

from api.models import FieldProposal
from api.services.casefile.identifiers import normalize_phone
from api.services.fieldwork.context import FieldContext


def propose(ctx: FieldContext, data: dict) -> FieldProposal:
    """`data["data"]` is the proposed record, already checked against its kind's schema."""
    proposed = {k: v.value if isinstance(v, enum.Enum) else v for k, v in data["data"].items()}
    if proposed.get("phone"):
        proposed["phone"] = normalize_phone(proposed["phone"], field="data.phone")
    proposal = FieldProposal(
        **ctx.record_fields(str(data["id"])),
        kind=data["kind"],
        data=json.dumps(proposed, ensure_ascii=False),
        note=data["note"],
    )
    ctx.session.add(proposal)
    return proposal
