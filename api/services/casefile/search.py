"""Finding a case from what someone has at hand: a contract number, a lender's reference, the
debtor's name, a phone number, a national ID, a plate or a VIN (or its last six characters).

The query is tried against every identifier normaliser; each kind it could be becomes one
indexed lookup, and a case matches if any of them finds it. The national ID is never compared
in clear: the query's keyed digest is looked up where import stored the debtor's. What a search
leaves in the audit log is the kinds tried and a keyed digest of the query, never the query.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Select, literal_column, select, union, union_all
from sqlalchemy.orm import Session

from api.models import Case, Collateral, Contact, Debtor
from api.models.cases import vin_serial
from api.services.casefile.identifiers import (
    normalize_national_id,
    normalize_phone,
    normalize_plate,
    normalize_vin,
)
from api.services.exceptions import InvalidInput
from api.services.identity.pii import PiiCipher

MIN_LENGTH, MAX_LENGTH = 2, 64  # a single character (one surname) would match thousands
_VIN_SERIAL = re.compile(r"[A-HJ-NPR-Z0-9]{6}")


class SearchKind(enum.StrEnum):
    CONTRACT_NO = "contract_no"
    LENDER_REF = "lender_ref"  # the debtor's reference at the lender
    NAME = "name"  # prefix of the debtor's name, case-sensitive
    PHONE = "phone"  # the debtor's mobile, home or work phone, or a contact's
    NATIONAL_ID = "national_id"  # exact, through the keyed digest
    PLATE = "plate"
    VIN = "vin"
    VIN_SERIAL = "vin_serial"  # the last six characters of the VIN


_CANONICAL = (SearchKind.NATIONAL_ID, SearchKind.PHONE, SearchKind.VIN, SearchKind.PLATE)


@dataclass(frozen=True)
class CaseSearch:
    """A classified query: each kind it may be, with the value to look up (for the national
    ID, its keyed digest)."""

    terms: dict[SearchKind, str]
    digest: str  # keyed digest of the query's canonical form, for the audit row
    built: dict = field(default_factory=dict, compare=False, repr=False)  # see _branches

    def audit_detail(self) -> dict:
        return {"kinds": sorted(self.terms), "q_digest": self.digest}


def _try(normalize: Callable[[str], str], value: str) -> str | None:
    try:
        return normalize(value)
    except InvalidInput:
        return None


def parse_query(q: str, cipher: PiiCipher) -> CaseSearch:
    """Classify `q`; InvalidInput naming `q` if it is too short or too long once trimmed."""
    q = (q or "").strip()
    if not MIN_LENGTH <= len(q) <= MAX_LENGTH:
        message = f"must be {MIN_LENGTH} to {MAX_LENGTH} characters"
        raise InvalidInput(f"The search q {message}.", fields={"q": [message]})
    compact = re.sub(r"\s+", "", q).upper()
    terms: dict[SearchKind, str] = {SearchKind.CONTRACT_NO: q, SearchKind.LENDER_REF: q}
    if not any(c.isdigit() for c in q):
        terms[SearchKind.NAME] = q
    found = {
        SearchKind.NATIONAL_ID: _try(normalize_national_id, q),
        SearchKind.PHONE: _try(normalize_phone, q),
        SearchKind.PLATE: _try(normalize_plate, compact),
        SearchKind.VIN: _try(normalize_vin, compact),
        SearchKind.VIN_SERIAL: compact if _VIN_SERIAL.fullmatch(compact) else None,
    }
    terms |= {kind: value for kind, value in found.items() if value is not None}
    # The audit digest is of the canonical form, so it does not depend on how the query was
    # typed; for a national ID it equals the debtor's `national_id_digest`.
    canonical = next((terms[k] for k in _CANONICAL if k in terms), q)
    digest = cipher.digest(canonical)
    if SearchKind.NATIONAL_ID in terms:
        terms[SearchKind.NATIONAL_ID] = digest
    return CaseSearch(terms, digest)


def _name_prefix(prefix: str, dialect: str):
    """An index-served prefix match: LIKE on PostgreSQL (text_pattern_ops index), a range on
    SQLite, whose BINARY order is code-point order (its LIKE would need a NOCASE index)."""
    if dialect == "postgresql":
        escaped = re.sub(r"([\\%_])", r"\\\1", prefix)
        return Debtor.name.like(escaped + "%", escape="\\")
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # no text holds a lone surrogate: skip the block
        following = 0xE000
    upper = prefix[:-1] + chr(following) if following <= 0x10FFFF else None
    return (Debtor.name >= prefix) & (Debtor.name < upper) if upper else Debtor.name == prefix


def _branches(search: CaseSearch, dialect: str) -> tuple[tuple[SearchKind, Select], ...]:
    """One select of case ids per kind, each a lookup on an index; built once per search
    (the count, the page and `matched_kinds` share them)."""
    if dialect not in search.built:
        search.built[dialect] = _build(search, dialect)
    return search.built[dialect]


def _build(search: CaseSearch, dialect: str) -> tuple[tuple[SearchKind, Select], ...]:

    def by_debtor(*debtor_ids: Select) -> Select:
        return select(Case.id).where(Case.debtor_id.in_(union(*debtor_ids)))

    out: list[tuple[SearchKind, Select]] = []
    for kind, value in search.terms.items():
        if kind is SearchKind.CONTRACT_NO:
            branch = select(Case.id).where(Case.contract_no == value)
        elif kind is SearchKind.LENDER_REF:
            branch = by_debtor(select(Debtor.id).where(Debtor.lender_ref == value))
        elif kind is SearchKind.NAME:
            branch = by_debtor(select(Debtor.id).where(_name_prefix(value, dialect)))
        elif kind is SearchKind.NATIONAL_ID:
            branch = by_debtor(select(Debtor.id).where(Debtor.national_id_digest == value))
        elif kind is SearchKind.PHONE:
            branch = by_debtor(
                *(select(Debtor.id).where(column == value)
                  for column in (Debtor.mobile_phone, Debtor.home_phone, Debtor.work_phone)),
                select(Contact.debtor_id).where(Contact.phone == value),
            )
        else:
            column = {SearchKind.PLATE: Collateral.plate, SearchKind.VIN: Collateral.vin,
                      SearchKind.VIN_SERIAL: vin_serial(Collateral.vin)}[kind]
            branch = select(Collateral.case_id).where(column == value)
        out.append((kind, branch))
    return tuple(out)


def matching_case_ids(search: CaseSearch, dialect: str) -> Select:
    """Ids of every case any kind of the query finds (visibility is the caller's)."""
    return union(*(branch for _, branch in _branches(search, dialect)))


def matched_kinds(session: Session, search: CaseSearch, case_ids: list[int]) -> dict[int, list]:
    """For each of `case_ids` (a page), the kinds of the query that found it."""
    if not case_ids:
        return {}
    dialect = session.get_bind().dialect.name
    tagged = [
        branch.add_columns(literal_column(f"'{kind.value}'")).where(branch.selected_columns[0].in_(case_ids))
        for kind, branch in _branches(search, dialect)
    ]
    out: dict[int, list] = {}
    for case_id, kind in session.execute(union_all(*tagged)):
        out.setdefault(case_id, []).append(kind)
    return {case_id: sorted(set(kinds)) for case_id, kinds in out.items()}
