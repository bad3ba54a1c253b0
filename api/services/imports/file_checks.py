"""A cases file checked against itself: each contract number once, each national ID for one
debtor ref, and a debtor with several loans told the same in each of them."""

from __future__ import annotations

from api.services.imports.merge import DEBTOR_FIELDS


class FileChecks:
    """What the records read so far said, for the records after them to be checked against."""

    def __init__(self) -> None:
        self.first_row: dict[str, int] = {}  # contract_no -> row that carried it first
        self.id_holder: dict[str, tuple[str, int]] = {}  # ID digest -> (debtor ref, row)
        # shared debtor data -> (row, hash of its values): a file of a million cases names
        # five million contacts and addresses; their values are not kept
        self.seen: dict[tuple, tuple[int, int]] = {}

    def debtor_read(self, ref: str) -> bool:
        """Whether a record read so far named the debtor."""
        return ("debtor", ref) in self.seen

    def repeated(self, contract_no: str, row_no: int) -> str | None:
        """Why the contract number may not be in this row (it was in an earlier one), or None."""
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
