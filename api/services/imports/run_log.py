"""The counts and row errors of one import run, and how a refused record is named."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DataError

MAX_ERRORS = 10_000  # listed in the run; rows beyond it are still skipped and counted


@dataclass
class RunLog:
    """Counts and row errors of one run."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)
    failed_rows: set[tuple[str, int]] = field(default_factory=set)

    def error(self, row: int | None, contract_no: Any, field: str, message: str,
              section: str = "") -> None:
        self.failed_rows.add((section, row or 0))
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"row": row, "contract_no": contract_no if isinstance(
                contract_no, str) else None, "field": field, "message": message})

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def sorted_errors(self) -> list[dict]:
        """In file order: by section (payments before balances), then row."""
        def key(error: dict) -> tuple:
            section = error["field"].partition(".")[0]
            return ({"payment": 1, "balance": 2}.get(section, 0), error["row"] or 0)

        return sorted(self.errors, key=key)


def db_problem(exc: Exception, default_field: str) -> tuple[str, str]:
    """Field and message for a record the database refused (no values: they may be personal)."""
    if isinstance(exc, DataError):
        return default_field, "a value does not fit the database"
    text = str(getattr(exc, "orig", exc))
    for needle, name in (("national_id_digest", "debtor.national_id"),
                         ("debtors.lender_ref", "debtor.ref"), ("debtors_lender_ref", "debtor.ref"),
                         ("contract_no", "contract_no")):
        if needle in text:
            return name, "clashes with a record saved meanwhile"
    return default_field, "clashes with an existing record"


def field_line(lines: dict | None, field_name: str, default: int) -> int:
    """The CSV line of the record a field belongs to (longest known prefix)."""
    if not lines:
        return default
    key = field_name
    while key:
        if key in lines:
            return lines[key]
        key = key.rpartition(".")[0]
    return lines.get("", default)
