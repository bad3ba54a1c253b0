"""A cases file checked against itself: each contract number once, each national ID for one
debtor ref, and a debtor with several loans told the same in each of them.

Only what the file names more than once can disagree with itself: what that is is found as the
file is checked on upload (`FileRepeats`, kept with the run), so the import keeps in memory the
facts of those records alone, not of every record of a file of a million."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from api.services.imports.merge import DEBTOR_FIELDS


@dataclass
class FileRepeats:
    """The contract numbers and debtor refs (as `converters.text` cleans them) that more than
    one record of a cases file names."""

    contract_nos: set[str] = field(default_factory=set)
    debtor_refs: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, records: Iterable) -> FileRepeats:
        counter = RepeatCounter()
        for raw in records:
            counter.note(raw)
        return counter.repeats

    def to_json(self) -> str:
        return json.dumps({"contract_nos": sorted(self.contract_nos),
                           "debtor_refs": sorted(self.debtor_refs)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> FileRepeats:
        data = json.loads(text)
        return cls(set(data["contract_nos"]), set(data["debtor_refs"]))


class RepeatCounter:
    """`FileRepeats` of records noted one at a time (a file checked as it streams past)."""

    def __init__(self) -> None:
        self.repeats = FileRepeats()
        self._contracts: set[str] = set()
        self._refs: set[str] = set()

    def note(self, raw: Any) -> None:
        if not isinstance(raw, dict):
            return
        debtor = raw.get("debtor")
        for value, seen, again in (
                (raw.get("contract_no"), self._contracts, self.repeats.contract_nos),
                (debtor.get("ref") if isinstance(debtor, dict) else None, self._refs,
                 self.repeats.debtor_refs)):
            if isinstance(value, str):
                value = value.strip()
                (again if value in seen else seen).add(value)


class FileChecks:
    """What the records read so far said, for the records after them to be checked against:
    of the contract numbers and debtors the file names more than once (`repeats`), and every
    record's national ID."""

    def __init__(self, repeats: FileRepeats) -> None:
        self.repeats = repeats
        self.first_row: dict[str, int] = {}  # repeated contract_no -> row that carried it first
        self.id_holder: dict[str, tuple[str, int]] = {}  # ID digest -> (debtor ref, row)
        # a repeated debtor's data -> (row, hash of its values)
        self.seen: dict[tuple, tuple[int, int]] = {}

    def debtor_read(self, ref: str) -> bool:
        """Whether a record read so far named the debtor."""
        return ("debtor", ref) in self.seen

    def contract_read(self, contract_no: str) -> bool:
        """Whether a record read so far carried the contract number."""
        return contract_no in self.first_row

    def read_contract(self, contract_no: str, row_no: int) -> None:
        """The row carries the contract number (a record skipped unread, `CaseImporter`)."""
        if contract_no in self.repeats.contract_nos:
            self.first_row[contract_no] = row_no

    def repeated(self, contract_no: str, row_no: int) -> str | None:
        """Why the contract number may not be in this row (it was in an earlier one), or None."""
        if contract_no not in self.repeats.contract_nos:
            return None
        first = self.first_row.setdefault(contract_no, row_no)
        return None if first == row_no else f"appears again (first in row {first})"

    def consistent(self, row_no: int, data: dict, digest: str, problems: list) -> None:
        """A debtor with several loans must read the same in each of them, or a re-import
        would flip the data back and forth; and one ID belongs to one debtor ref."""
        debtor = data["debtor"]
        ref = debtor["ref"]
        holder = self.id_holder.setdefault(digest, (ref, row_no))
        if holder[0] != ref:
            problems.append(("debtor.national_id",
                             f"also given for debtor ref {holder[0]} (row {holder[1]})"))
        if ref not in self.repeats.debtor_refs:
            return  # no other record names the debtor
        facts = [(("debtor", ref), "debtor",
                  (*((k, debtor[k]) for k in DEBTOR_FIELDS), ("id", digest)))]
        for part in ("contacts", "addresses"):
            for index, item in enumerate(data[part] or []):
                facts.append(((part, ref, item["key"]), f"{part}.{index}",
                              tuple(sorted((k, v) for k, v in item.items() if k != "ref"))))
        for key, name, values in facts:
            values_hash = hash(values)
            first_row, first_hash = self.seen.setdefault(key, (row_no, values_hash))
            if first_hash != values_hash:
                problems.append((name, f"differs from row {first_row} for the same debtor ref"))
