"""The device-facing document of a case: everything a collector needs for a visit, offline."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable
from datetime import date, datetime

import orjson
from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.orm import Session, aliased

from api.models import Case, CaseNote, ContactAttempt, Debtor, DebtorBlackout, FieldProposal
from api.models.cases import CLOSED_STATUSES, LOAN_PARTIES
from api.services.casefile.cases import (
    CaseGraph,
    address_view,
    collateral_view,
    contact_view,
    debtor_view,
)
from api.services.fieldwork import reachability
from api.services.identity.pii import PiiCipher
from mobile_sync.field_history import empty_history, field_history

RECENT = 20  # recent contact attempts, notes and proposals carried on the phone


def _json_default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


# orjson writes what `json.dumps(value, ensure_ascii=False, separators=(",", ":"))` would,
# several times faster; times and days go through `_json_default` (their `isoformat()`).
_DUMPS_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def dumps(value) -> str:
    return orjson.dumps(value, default=_json_default, option=_DUMPS_OPTIONS).decode()


# Stored documents are zlib-compressed JSON, then sealed: a case's 3 KB of JSON takes about 40%
# of that (1.3 KB), so it stays in the table row (PostgreSQL moves a row's values over ~2 KB out
# to TOAST, and a sealed value does not compress there). A document sealed as plain JSON (from
# before) opens all the same: JSON starts with `{`, a zlib stream with 0x78.
COMPRESSION_LEVEL = 6
_ZLIB = 0x78


def seal_document(cipher: PiiCipher, document: str) -> bytes:
    """A device document as stored: compressed, then sealed."""
    return cipher.seal(zlib.compress(document.encode(), COMPRESSION_LEVEL))


def fingerprint(sealed: bytes) -> str:
    """What `CaseDocument.fingerprint` keeps of a sealed document: no two seals share it (each
    has its own nonce), so it changes whenever the document is sealed again."""
    return hashlib.md5(sealed, usedforsecurity=False).hexdigest()


def open_document(cipher: PiiCipher, sealed: bytes) -> str:
    """The stored document's JSON text, as it was serialised (not parsed again)."""
    return open_document_bytes(cipher, sealed).decode()


def open_document_bytes(cipher: PiiCipher, sealed: bytes) -> bytes:
    """The stored document's JSON as UTF-8 bytes, ready to be concatenated into a page."""
    data = cipher.unseal(sealed)
    return zlib.decompress(data) if data[0] == _ZLIB else data


def holder_of(case: Case) -> int | None:
    """The collector whose phone should carry the case: nobody once it is closed."""
    return None if case.status in CLOSED_STATUSES else case.collector_id


def _column_keys(model) -> frozenset[str]:
    return frozenset(attr.key for attr in inspect(model).column_attrs)


# The lists a document carries: the case's own, and its debtor's.
_CASE_LISTS = (Case.instalments, Case.collateral)
_DEBTOR_LISTS = (Debtor.contacts, Debtor.addresses)


def build_documents(session: Session, case_ids: Iterable[int], cipher: PiiCipher) -> dict:
    """{case_id: (holder_id, document_json)} for the given cases, in a handful of queries.

    A case the session holds with everything its document needs already loaded is taken as it
    is (no query: the ORM would not overwrite loaded attributes either); the others are read as
    plain rows, which cost a fraction of ORM objects."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    if session.autoflush:
        session.flush()  # as the query it replaces would have
    graphs: dict[int, CaseGraph] = {}
    missing = []
    for case_id in ids:
        graph = _loaded_graph(session, case_id)
        if graph is None:
            missing.append(case_id)
        else:
            graphs[case_id] = graph
    if missing:
        graphs.update(_graphs_from_rows(session, missing))
    attempts = _recent(session, ContactAttempt, ids)
    notes = _recent(session, CaseNote, ids)
    proposals = _recent(session, FieldProposal, ids)
    history = field_history(session, ids)
    blackouts = _blackouts(session, {g.debtor.id for g in graphs.values()})
    reachable = reachability.latest(session, ids)
    return {case_id: _render(graph, cipher, attempts.get(case_id, []),
                             notes.get(case_id, []), proposals.get(case_id, []),
                             history[case_id], blackouts.get(graph.debtor.id, []),
                             reachable.get(case_id))
            for case_id, graph in graphs.items()}


def new_case_documents(graphs: Iterable[CaseGraph], cipher: PiiCipher) -> dict:
    """{case_id: (holder_id, document_json)} of cases just created with a new debtor, from
    their graphs in memory (no query): nothing has been recorded in the field about them yet,
    so their documents are what `build_documents` would read back from the database."""
    history = empty_history()
    return {graph.case.id: _render(graph, cipher, [], [], [], history, [], None)
            for graph in graphs}


def _render(graph: CaseGraph, cipher: PiiCipher, attempts: list, notes: list, proposals: list,
            history: dict, blackouts: list, reachable) -> tuple[int | None, str]:
    """(holder_id, document_json) of one case: its graph and what the field recorded."""
    case, debtor = graph.case, graph.debtor
    unreachable = bool(reachable and reachable.unreachable)
    doc = {
        "id": case.id,
        "contract_no": case.contract_no,
        "product": case.product,
        "currency": case.currency,
        "status": case.status,
        "bucket": case.bucket,
        "days_past_due": case.days_past_due,
        "reminder_class": case.reminder_class,
        "principal_fen": case.principal_fen,
        "total_due_fen": case.total_due_fen,
        "paid_fen": case.paid_fen,
        "overdue_fen": case.overdue_fen,
        "outstanding_fen": case.outstanding_fen,
        "outstanding_principal_fen": case.outstanding_principal_fen,
        "penalty_fen": case.penalty_fen,
        "fees_fen": case.fees_fen,
        "penalty_basis": case.penalty_basis,
        "next_due_on": case.next_due_on,
        "figures_as_of": case.figures_as_of,
        "version": case.version,
        # Which compliance policy: reference data `policies`, chosen as docs/sync.md says.
        "lender": case.lender,
        "jurisdiction": case.jurisdiction,
        "policy_id": case.policy_id,
        "debtor": debtor_view(debtor, cipher, full=True),
        # Contacts and third parties only while the debtor is marked unreachable.
        "reachability": reachability.state_view(reachable),
        # A third party's phone only once the debtor is marked unreachable (the document
        # is re-sealed when that changes); the parties to the loan always in full.
        "contacts": [contact_view(c, full=c.role in LOAN_PARTIES or unreachable)
                     for c in graph.contacts],
        "addresses": [address_view(a) for a in graph.addresses],
        "schedule": [
            {"seq": i.seq, "due_on": i.due_on, "amount_fen": i.amount_fen}
            for i in graph.instalments
        ],
        "collateral": [collateral_view(c) for c in graph.collateral],
        "recent_contacts": [
            {
                "id": a.id,
                "channel": a.channel,
                "outcome": a.outcome,
                "occurred_at": a.occurred_at,
                "contact_id": a.contact_id,
                "note": a.note,
            }
            for a in attempts
        ],
        "notes": [{"id": n.id, "text": n.text, "written_at": n.client_time} for n in notes],
        "proposals": [{"id": p.id, "kind": p.kind, "status": p.status} for p in proposals],
        "blackouts": blackouts,
        **history,
    }
    return holder_of(case), dumps(doc)


def _blackouts(session: Session, debtor_ids: set[int]) -> dict[int, list[dict]]:
    """The times and places each debtor declared off limits, as the phone shows them."""
    grouped: dict[int, list[dict]] = {}
    rows = session.scalars(select(DebtorBlackout).where(DebtorBlackout.debtor_id.in_(debtor_ids))
                           .order_by(DebtorBlackout.id))
    for b in rows:
        grouped.setdefault(b.debtor_id, []).append({
            "id": b.id, "kind": b.kind, "weekdays": json.loads(b.weekdays),
            "local_start": b.local_start, "local_end": b.local_end,
            "address_kind": b.address_kind, "address_id": b.address_id, "note": b.note})
    return grouped


def _complete(obj, keys: frozenset[str]) -> bool:
    """Whether every column of `obj` and the relationships named are loaded (none expired)."""
    return obj is not None and keys <= obj.__dict__.keys()


def _loaded_graph(session: Session, case_id: int) -> CaseGraph | None:
    """The case's graph from the session's identity map, if all of it is loaded."""
    case = session.identity_map.get(_CASE.identity_key_from_primary_key((case_id,)))
    if not _complete(case, _CASE_KEYS):
        return None
    debtor = case.__dict__["debtor"]
    if not _complete(debtor, _DEBTOR_KEYS):
        return None
    lists = [obj.__dict__[rel.key] for obj, rels in ((case, _CASE_LISTS), (debtor, _DEBTOR_LISTS))
             for rel in rels]
    for items, rel in zip(lists, _CASE_LISTS + _DEBTOR_LISTS, strict=True):
        keys = _COLUMNS[rel.property.mapper.class_]
        if not all(_complete(item, keys) for item in items):
            return None
    instalments, collateral, contacts, addresses = lists
    return CaseGraph(case, debtor, contacts, addresses, instalments, collateral)


def _graphs_from_rows(session: Session, ids: list[int]) -> dict[int, CaseGraph]:
    """The graphs of these cases read as plain rows, in the order of the ORM relationships.

    What the session already holds wins, as it would in an ORM query (which does not
    overwrite what is loaded): a held object is used as it is, a partly expired one is read
    through to its row, and a loaded collection is used instead of the rows."""
    held = _Held(session)
    case_rows = session.execute(_select_all(Case).where(Case.id.in_(ids))).all()
    case_objs = {row.id: held.object(Case, row.id) for row in case_rows}
    loaded_debtor = {  # case id -> the debtor its held case has loaded
        case_id: obj.__dict__["debtor"] for case_id, obj in case_objs.items()
        if obj is not None and obj.__dict__.get("debtor") is not None}
    debtor_ids = {row.debtor_id for row in case_rows if row.id not in loaded_debtor}
    debtor_ids |= {held.ident(debtor) for debtor in loaded_debtor.values()}
    debtor_rows = {d.id: d for d in session.execute(
        _select_all(Debtor).where(Debtor.id.in_(debtor_ids)))}
    rows = {rel: _children(session, rel, ids) for rel in _CASE_LISTS}
    rows |= {rel: _children(session, rel, debtor_ids) for rel in _DEBTOR_LISTS}

    def items(rel, obj, parent_id: int) -> list:
        if obj is not None and rel.key in obj.__dict__:  # loaded: the ORM would keep it
            return obj.__dict__[rel.key]
        model = rel.property.mapper.class_
        return [held.view(model, row) for row in rows[rel].get(parent_id, [])]

    graphs = {}
    for row in case_rows:
        case_obj = case_objs[row.id]
        debtor_obj = loaded_debtor.get(row.id)
        debtor_id = held.ident(debtor_obj) if debtor_obj is not None else row.debtor_id
        debtor_row = debtor_rows.get(debtor_id)
        if debtor_row is None:  # as the inner join of `Case.debtor`
            continue
        if debtor_obj is None:
            debtor_obj = held.object(Debtor, debtor_id)
        graphs[row.id] = CaseGraph(
            held.view(Case, row, case_obj), held.view(Debtor, debtor_row, debtor_obj),
            items(Debtor.contacts, debtor_obj, debtor_id),
            items(Debtor.addresses, debtor_obj, debtor_id),
            items(Case.instalments, case_obj, row.id),
            items(Case.collateral, case_obj, row.id))
    return graphs


class _Held:
    """Look-ups in the session's identity map."""

    def __init__(self, session: Session):
        self.identity_map = session.identity_map

    def object(self, model, ident: int):
        return self.identity_map.get(inspect(model).identity_key_from_primary_key((ident,)))

    @staticmethod
    def ident(obj) -> int:
        return inspect(obj).identity[0]

    def view(self, model, row, obj=None):
        """What the ORM would show for `row`: the held object, read through to the row for
        any attribute it has not loaded."""
        obj = obj if obj is not None else self.object(model, row.id)
        if obj is None:
            return row
        if _COLUMNS[model] <= obj.__dict__.keys():
            return obj
        return _ReadThrough(obj.__dict__, row)


class _ReadThrough:
    __slots__ = ("_loaded", "_row")

    def __init__(self, loaded: dict, row):
        self._loaded, self._row = loaded, row

    def __getattr__(self, name: str):
        try:
            return self._loaded[name]
        except KeyError:
            return getattr(self._row, name)


def _select_all(model):
    return select(*(getattr(model, key) for key in sorted(_COLUMNS[model])))


def _children(session: Session, relationship, parent_ids) -> dict[int, list]:
    """{parent id: rows} of a one-to-many relationship, each list in its `order_by`."""
    prop = relationship.property
    (foreign_key,) = prop.remote_side
    rows = session.execute(
        _select_all(prop.mapper.class_)
        .where(foreign_key.in_(parent_ids))
        .order_by(foreign_key, *(prop.order_by or ()))
    )
    grouped: dict[int, list] = {}
    for row in rows:
        grouped.setdefault(getattr(row, foreign_key.key), []).append(row)
    return grouped


_CASE = inspect(Case)
_COLUMNS = {
    rel.property.mapper.class_: _column_keys(rel.property.mapper.class_)
    for rel in _CASE_LISTS + _DEBTOR_LISTS
} | {Case: _column_keys(Case), Debtor: _column_keys(Debtor)}
_CASE_KEYS = _COLUMNS[Case] | {"debtor", *(rel.key for rel in _CASE_LISTS)}
_DEBTOR_KEYS = _COLUMNS[Debtor] | {rel.key for rel in _DEBTOR_LISTS}


def _recent_statement(model, time_column):
    """The newest RECENT records of each case bound as `case_ids`, ranked in the database (not
    all of them read); built once per model."""
    rank = func.row_number().over(
        partition_by=model.case_id, order_by=(time_column.desc(), model.id.desc())
    ).label("rank_")
    ranked = (
        select(model, rank)
        .where(model.case_id.in_(bindparam("case_ids", expanding=True)))
        .subquery()
    )
    return select(aliased(model, ranked)).where(ranked.c.rank_ <= RECENT).order_by(
        ranked.c.case_id, ranked.c.rank_
    )


_RECENT = {
    ContactAttempt: _recent_statement(ContactAttempt, ContactAttempt.occurred_at),
    CaseNote: _recent_statement(CaseNote, CaseNote.client_time),
    FieldProposal: _recent_statement(FieldProposal, FieldProposal.client_time),
}


def _recent(session: Session, model, case_ids: list[int]) -> dict[int, list]:
    grouped: dict[int, list] = {}
    for row in session.scalars(_RECENT[model], {"case_ids": case_ids}):
        grouped.setdefault(row.case_id, []).append(row)
    return grouped
