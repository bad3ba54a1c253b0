"""A dry run in chunks, each rolled back as its own transaction (an import job's), and what one
chunk must carry to the next so the run reports what the import itself would.

A case is in one record, so in one chunk; what crosses chunks is the debtor: a record of a later
chunk finds its debtor as the records before it left it (created, renamed, given another ID, new
contacts an address may name by `contact_ref`), and a debtor given another ID leaves its old one
free for another. So what the applied records gave the debtors named again later (or given
another ID) is kept in memory and redone, uncounted, at the start of each chunk that needs it."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from types import SimpleNamespace

from sqlalchemy import select

from api.models import Debtor
from api.services.imports.bulk import among
from api.services.imports.case_merge import CaseMerge
from api.services.imports.records import CaseRow


@dataclass
class Carried:
    """What the records applied so far gave one debtor: its data and ID, and its contacts and
    addresses by key (merged by key, never removed; the records of one debtor agree on them)."""

    order: int
    debtor: dict
    digest: str
    contacts: dict[str, dict] = field(default_factory=dict)
    addresses: dict[str, dict] = field(default_factory=dict)

    def row(self) -> SimpleNamespace:
        """As a record of the debtor alone, for `CaseMerge.upsert_debtor`."""
        return SimpleNamespace(digest=self.digest, data={
            "debtor": self.debtor, "contacts": list(self.contacts.values()),
            "addresses": list(self.addresses.values())})


class CarriedDebtors:
    """The debtors earlier (rolled-back) chunks gave something a later chunk needs."""

    def __init__(self, merge: CaseMerge, recurring: set[str]):
        self.merge, self.session = merge, merge.session
        self.recurring = recurring  # the debtor refs more than one record names
        self.carried: dict[str, Carried] = {}
        self._order = count()

    def keep(self, rows: list[CaseRow], re_ided: set[str]) -> None:
        """Keep what applied rows gave their debtor, if a later record names it again or its
        old ID may be given to another (`re_ided`)."""
        for row in rows:
            ref = row.data["debtor"]["ref"]
            if ref not in self.recurring and ref not in re_ided:
                continue
            carried = self.carried.get(ref)
            if carried is None:
                carried = self.carried[ref] = Carried(next(self._order), row.data["debtor"],
                                                      row.digest)
            for item in row.data["contacts"] or []:
                carried.contacts.setdefault(item["key"], item)
            for item in row.data["addresses"] or []:
                carried.addresses.setdefault(item["key"], item)

    def redo(self, rows: list[CaseRow]) -> None:
        """Redo, uncounted, what was kept of the debtors these rows name by ref, or that hold
        these rows' IDs (and, in turn, of those holding the IDs the redone ones are given), so
        the chunk finds them as the import itself would."""
        if not self.carried:
            return
        todo: set[str] = set()
        new = {row.data["debtor"]["ref"] for row in rows} & self.carried.keys()
        ids = {row.digest for row in rows}
        while new or ids:
            todo |= new
            ids |= {self.carried[ref].digest for ref in new}
            holders = set(self.session.scalars(
                select(Debtor.lender_ref).where(
                    among(self.session, Debtor.national_id_digest, ids))))
            new, ids = (holders & self.carried.keys()) - todo, set()
        if not todo:
            return
        chunk = self.merge.load_debtors(todo)
        with self.session.no_autoflush:
            for ref in sorted(todo, key=lambda ref: self.carried[ref].order):
                self.merge.upsert_debtor(self.carried[ref].row(), chunk)
        self.merge.flush(chunk)
