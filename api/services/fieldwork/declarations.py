"""Evidence a record declares: an upload slot per file, whose bytes arrive later, out of band."""

from __future__ import annotations

from api.models import EvidenceFile, EvidenceKind
from api.services.evidence.storage import evidence_key
from api.services.exceptions import InvalidInput
from api.services.fieldwork.context import FieldContext


def declare_files(
    ctx: FieldContext,
    record_type: str,
    record_id: str,
    files: list[dict],
    *,
    require: EvidenceKind | None = None,
) -> None:
    """Open an upload slot for each declared file; `require` names a kind that must be there."""
    if require is not None and not any(f["kind"] is require for f in files):
        raise InvalidInput(
            f"A {require.value} photo is required.",
            fields={"files": [f"declare a {require.value} photo"]},
        )
    for declared in files:
        file_id = str(declared["id"])
        if ctx.session.get(EvidenceFile, file_id) is not None:
            raise InvalidInput(
                "A file with this id was already declared.",
                fields={"files.id": ["already used"]},
            )
        ctx.session.add(
            EvidenceFile(
                id=file_id,
                case_id=ctx.case.id,
                record_type=record_type,
                record_id=record_id,
                kind=declared["kind"],
                sha256=declared["sha256"],
                size=declared["size"],
                mime=declared["mime"],
                captured_at=declared["captured_at"],
                lat=declared["lat"],
                lon=declared["lon"],
                accuracy_m=declared["accuracy_m"],
                uploader_id=ctx.user_id,
                device_id=ctx.device_id,
                storage_key=evidence_key(ctx.case.id, file_id),
            )
        )
