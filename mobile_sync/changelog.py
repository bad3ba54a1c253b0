"""The commit-safe change log, written by one helper in the changing transaction.

Every ORM flush is watched (`before_flush`); whatever touches a synced case (the case, its
debtor, contacts, addresses, schedule, payments, collateral, assignments, field records) marks
the case. Just before commit, `publish` rebuilds each marked case's device document and writes
change rows: `put` to the holder's bucket, `remove` to the bucket of the previous holder. So no
write path (import, assignment, API, field push) can forget to log, and revocation is data.
Rows written by bulk SQL are not seen: such a path marks its cases (`touch_cases`), or, as the
import's new cases do, publishes their documents built in memory itself (`Publisher.new_cases`).

Route plans are the second entity: whatever touches a plan or its stops marks the plan, and
`publish_route` puts a published plan's sealed document to its collector's bucket, or removes
a plan that left it (superseded), in the same transaction."""

from __future__ import annotations

from datetime import timedelta
from itertools import chain

from sqlalchemy import event, insert, select, text, tuple_
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.extensions import SESSION_CIPHER
from api.models import (
    Address,
    Assignment,
    Case,
    Collateral,
    Contact,
    Debtor,
    DebtorBlackout,
    Instalment,
    Payment,
    PlanStatus,
    RouteDocument,
    RoutePlan,
    RouteStop,
    SyncChange,
    SyncCounter,
)
from api.models.field import FieldRecordMixin
from api.models.sync import CaseDocument
from api.models.types import utcnow
from api.services.casefile.cases import CaseGraph
from api.services.identity.pii import PiiCipher
from api.services.imports.bulk import bulk_insert
from api.services.supervision.plan_views import route_document
from mobile_sync.documents import (
    build_documents,
    dumps,
    fingerprint,
    new_case_documents,
    seal_document,
)

CASE_ENTITY = "case"
ROUTE_ENTITY = "route"
# A collector's bucket keeps plans from the day before yesterday (UTC) on: older ones are
# removed when the next plan is published, so a bootstrap carries a handful of plans at most.
ROUTE_DAYS_KEPT = 2
_KEY = "fieldvisit.sync.touched"
_MARKS = "fieldvisit.sync.savepoints"
# What a case's device document is made of (every field record type counts too).
CASE_PARTS = (Case, Instalment, Payment, Collateral, Assignment, FieldRecordMixin)
DEBTOR_PARTS = (Debtor, Contact, Address, DebtorBlackout)
ROUTE_PARTS = (RoutePlan, RouteStop)
CHUNK = 500


def _touched(session: Session) -> dict:
    return session.info.setdefault(_KEY, {"cases": [], "debtors": [], "routes": []})


def bucket_of(user_id: int) -> str:
    return f"u{user_id}"


def _on_before_flush(session: Session, _context, _instances) -> None:
    touched = _touched(session)
    dirty = session.dirty  # an IdentitySet built on each access: take it once, not per object
    for obj in chain(session.new, dirty, session.deleted):
        if not isinstance(obj, CASE_PARTS + DEBTOR_PARTS + ROUTE_PARTS):
            continue
        if obj in dirty and not session.is_modified(obj, include_collections=False):
            continue
        if isinstance(obj, ROUTE_PARTS):
            touched["routes"].append(obj)
        else:
            touched["debtors" if isinstance(obj, DEBTOR_PARTS) else "cases"].append(obj)


def touch_cases(session: Session, case_ids) -> None:
    """Mark cases changed by a path the ORM does not see (bulk SQL)."""
    _touched(session)["cases"].extend(_Id(case_id) for case_id in case_ids)


def republish_all(session: Session, batch: int = CHUNK) -> int:
    """Rebuild every case's device document and put it to its holder, `batch` cases per
    transaction (so pulls are held back for one batch at most). For when what a document
    carries changed: phones receive the new documents as ordinary changes, no reset."""
    done, after = 0, 0
    while ids := session.scalars(
        select(Case.id).where(Case.id > after).order_by(Case.id).limit(batch)
    ).all():
        touch_cases(session, ids)
        session.commit()
        done, after = done + len(ids), ids[-1]
    return done


class _Id:
    __slots__ = ("case_id",)

    def __init__(self, case_id: int):
        self.case_id = case_id


def publish(session: Session, cipher: PiiCipher) -> int:
    """Write documents and change rows for every case and route plan marked in this
    transaction (cases first: a plan's stops name cases the phone should already hold)."""
    session.flush()
    touched = session.info.pop(_KEY, None)
    if not touched:
        return 0
    published, moved = _publish_cases(session, cipher, touched)
    plan_ids = {o.id if isinstance(o, RoutePlan) else o.plan_id for o in touched["routes"]}
    plan_ids |= _plans_holding(session, moved)
    plan_ids.discard(None)
    tx_id = transaction_id(session) if plan_ids else None
    for plan_id in sorted(plan_ids):
        plan = session.get(RoutePlan, plan_id)
        if plan is not None:
            publish_route(session, plan, cipher, tx_id)
    session.flush()
    session.info.pop(_KEY, None)  # our own flush marks nothing that needs publishing
    return published + len(plan_ids)


def _plans_holding(session: Session, moved: list[tuple[int, int]]) -> set[int]:
    """The published plans of collectors who just lost a case that is on them: re-sealed, so
    the phone no longer holds where that debtor lives."""
    if not moved:
        return set()
    plans = set()
    for start in range(0, len(moved), CHUNK):
        chunk = moved[start : start + CHUNK]
        plans |= set(session.scalars(
            select(RouteStop.plan_id).join(RoutePlan, RoutePlan.id == RouteStop.plan_id).where(
                RoutePlan.status == PlanStatus.PUBLISHED,
                tuple_(RoutePlan.collector_id, RouteStop.case_id).in_(chunk))))
    return plans


def _publish_cases(session: Session, cipher: PiiCipher, touched: dict) -> tuple[int, list]:
    """Publish the touched cases; answers how many, and (previous holder, case id) of each case
    that left a collector."""
    if not (touched["cases"] or touched["debtors"]):
        return 0, []
    case_ids = {
        getattr(o, "case_id", None) or o.id
        for o in touched["cases"]
        if not isinstance(o, Case) or o.id is not None
    }
    debtor_ids = {o.id if isinstance(o, Debtor) else o.debtor_id for o in touched["debtors"]}
    debtor_ids.discard(None)
    if debtor_ids:
        case_ids |= set(session.scalars(select(Case.id).where(Case.debtor_id.in_(debtor_ids))))
    case_ids.discard(None)
    if not case_ids:
        return 0, []
    tx_id = transaction_id(session)
    ordered = sorted(case_ids)
    moved: list[tuple[int, int]] = []
    for start in range(0, len(ordered), CHUNK):
        moved += _publish_chunk(session, cipher, tx_id, ordered[start : start + CHUNK])
    session.flush()
    return len(case_ids), moved


def _publish_chunk(
    session: Session, cipher: PiiCipher, tx_id: int, ids: list[int]
) -> list[tuple[int, int]]:
    documents = build_documents(session, ids, cipher)
    existing = {
        d.case_id: d
        for d in session.scalars(select(CaseDocument).where(CaseDocument.case_id.in_(ids)))
    }
    moved, changes = [], []  # the change rows: one multi-row INSERT for the chunk
    for case_id in ids:
        previous = existing.get(case_id)
        if case_id not in documents:  # the case was deleted
            if previous is not None and previous.collector_id is not None:
                changes.append(_change_row(tx_id, previous.collector_id, case_id, "remove"))
            continue
        holder, body = documents[case_id]
        sealed = seal_document(cipher, body)
        if previous is None:
            session.add(CaseDocument(case_id=case_id, collector_id=holder, sealed=sealed,
                                     fingerprint=fingerprint(sealed)))
        else:
            if previous.collector_id is not None and previous.collector_id != holder:
                changes.append(_change_row(tx_id, previous.collector_id, case_id, "remove"))
                moved.append((previous.collector_id, case_id))
            previous.collector_id, previous.sealed = holder, sealed
            previous.fingerprint = fingerprint(sealed)
        if holder is not None:
            changes.append(_change_row(tx_id, holder, case_id, "put"))
    if changes:
        session.execute(insert(SyncChange), changes)
    return moved


class Publisher:
    """What an import job publishes with (`api.services.imports.runs.Publication`): the cases
    its session marked, and the cases it created by bulk SQL, from their graphs in memory."""

    def __init__(self, cipher: PiiCipher):
        self.cipher = cipher

    def __call__(self, session: Session) -> int:
        return publish(session, self.cipher)

    def new_cases(self, session: Session, graphs: list[CaseGraph]) -> None:
        publish_new_cases(session, self.cipher, new_case_documents(graphs, self.cipher))


def publish_new_cases(session: Session, cipher: PiiCipher, documents: dict) -> None:
    """Store the documents of cases created by bulk SQL ({case_id: (holder_id, json)}, e.g.
    `new_case_documents`) and put each to its holder's bucket, in two bulk INSERTs: what
    `publish` writes for a new case, with no document to replace and nobody to remove it from.
    The cases must not be marked too (`touch_cases`), or they would be published twice."""
    if not documents:
        return
    tx_id, now = transaction_id(session), utcnow()
    rows = []
    for case_id, (holder, body) in documents.items():
        sealed = seal_document(cipher, body)
        rows.append({"case_id": case_id, "collector_id": holder, "sealed": sealed,
                     "fingerprint": fingerprint(sealed), "updated_at": now})
    bulk_insert(session, CaseDocument.__table__, rows)
    changes = [_change_row(tx_id, holder, case_id, "put")
               for case_id, (holder, _body) in documents.items() if holder is not None]
    if changes:
        bulk_insert(session, SyncChange.__table__, changes)


def _change(
    tx_id: int, user_id: int, entity_id: int, op: str, entity: str = CASE_ENTITY
) -> SyncChange:
    return SyncChange(
        tx_id=tx_id, bucket=bucket_of(user_id), entity=entity, entity_id=entity_id, op=op
    )


def _change_row(tx_id: int, user_id: int, case_id: int, op: str) -> dict:
    return {"tx_id": tx_id, "bucket": bucket_of(user_id), "entity": CASE_ENTITY,
            "entity_id": case_id, "op": op}


def publish_route(
    session: Session, plan: RoutePlan, cipher: PiiCipher, tx_id: int | None = None
) -> None:
    """Put a published plan's sealed document to its collector's bucket, or remove a plan that
    is no longer published from it; and remove the collector's plans for days long past. Called
    at commit for every plan the transaction touched (it may be called directly too)."""
    tx_id = transaction_id(session) if tx_id is None else tx_id
    document = session.get(RouteDocument, plan.id)
    if plan.status is PlanStatus.PUBLISHED:
        held = set(session.scalars(select(Case.id).where(
            Case.id.in_([s.case_id for s in plan.stops]), Case.collector_id == plan.collector_id)))
        sealed = seal_document(cipher, dumps(route_document(plan, held)))
        if document is None:
            session.add(RouteDocument(plan_id=plan.id, collector_id=plan.collector_id,
                                      service_day=plan.service_day, sealed=sealed))
        else:
            document.sealed = sealed
        session.add(_change(tx_id, plan.collector_id, plan.id, "put", ROUTE_ENTITY))
        cutoff = utcnow().date() - timedelta(days=ROUTE_DAYS_KEPT)
        for old in session.scalars(select(RouteDocument).where(
                RouteDocument.collector_id == plan.collector_id,
                RouteDocument.service_day < cutoff)):
            session.delete(old)
            session.add(_change(tx_id, old.collector_id, old.plan_id, "remove", ROUTE_ENTITY))
    elif document is not None:
        session.delete(document)
        session.add(_change(tx_id, document.collector_id, plan.id, "remove", ROUTE_ENTITY))


def transaction_id(session: Session) -> int:
    """PostgreSQL: this transaction's id. SQLite: the clock, bumped under the write lock."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(text("SELECT pg_current_xact_id()::text::bigint"))
    stmt = sqlite_insert(SyncCounter).values(name="clock", value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"], set_={"value": SyncCounter.value + 1}
    ).returning(SyncCounter.value)
    return session.execute(stmt).scalar_one()


def read_counter(session: Session, name: str) -> int:
    return session.scalar(select(SyncCounter.value).where(SyncCounter.name == name)) or 0


def install(session_class) -> None:
    """Register the hooks once on `session_class`; each session seals with the PII cipher in
    its `info[SESSION_CIPHER]` (`api.extensions.AppSession` puts its app's there)."""
    if event.contains(session_class, "before_flush", _on_before_flush):
        return
    event.listen(session_class, "before_flush", _on_before_flush)

    def before_commit(session: Session) -> None:
        # Savepoint releases commit too; publish once, for the whole transaction. Commit runs
        # this hook before its own flush, so flush first to see every pending change.
        if session.in_nested_transaction():
            return
        session.flush()
        if session.info.get(_KEY):
            cipher = session.info.get(SESSION_CIPHER)
            if cipher is None:
                raise RuntimeError("This session changed cases but has no PII cipher to seal "
                                   "their device documents (set info[SESSION_CIPHER]).")
            publish(session, cipher)

    def mark(session: Session, transaction) -> None:
        if transaction.nested:  # remember how much was touched before the savepoint
            touched = session.info.get(_KEY) or {"cases": [], "debtors": [], "routes": []}
            session.info.setdefault(_MARKS, {})[id(transaction)] = (
                len(touched["cases"]), len(touched["debtors"]), len(touched["routes"]))

    def forget(session: Session, previous_transaction) -> None:
        """What a rolled-back savepoint touched did not happen: do not publish it."""
        if previous_transaction.parent is None:  # the whole transaction rolled back
            session.info.pop(_KEY, None)
            session.info.pop(_MARKS, None)
            return
        marks = session.info.get(_MARKS, {}).pop(id(previous_transaction), None)
        touched = session.info.get(_KEY)
        if marks is not None and touched is not None:
            del touched["cases"][marks[0]:]
            del touched["debtors"][marks[1]:]
            del touched["routes"][marks[2]:]

    event.listen(session_class, "before_commit", before_commit)
    event.listen(session_class, "after_transaction_create", mark)
    event.listen(session_class, "after_soft_rollback", forget)
