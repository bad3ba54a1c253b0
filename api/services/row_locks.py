"""Row locks that serialise filings on one debtor and one case until the transaction ends
(PostgreSQL `SELECT … FOR UPDATE`; SQLite serialises writers already, so these do nothing
there). One order everywhere, so two transactions never wait on each other in a circle: a
debtor's row before a case's, and where many are taken at once, debtors then cases, each in
id order.

A push batch takes its rows up front (`lock_cases`), in its outer transaction; `lock_debtor`
and `lock_case` then skip a row this transaction already holds. Only rows locked outside any
savepoint are remembered: rolling a savepoint back releases the locks taken inside it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from api.models import Case, Debtor

_HELD = "fieldvisit.row_locks"


def lock_debtor(session: Session, debtor_id: int) -> None:
    """Hold the debtor's row until the transaction ends (the attempt caps count under it)."""
    if _postgresql(session) and debtor_id not in _held(session)[0]:
        session.execute(select(Debtor.id).where(Debtor.id == debtor_id).with_for_update())


def lock_case(session: Session, case_id: int) -> None:
    """Hold the case's row, after its debtor's, until the transaction ends (the pairing of a
    case's presences and reports: a presence and its report arriving at once each see the
    other)."""
    if not _postgresql(session) or case_id in _held(session)[1]:
        return
    debtor_id = session.scalar(select(Case.debtor_id).where(Case.id == case_id))
    if debtor_id is not None:
        lock_debtor(session, debtor_id)
    session.execute(select(Case.id).where(Case.id == case_id).with_for_update())


def lock_cases(session: Session, case_ids: Iterable[int]) -> None:
    """Hold these cases' rows and their debtors' (debtors first, each in id order), in two
    statements, until the transaction ends."""
    ids = sorted(set(case_ids))
    if not ids or not _postgresql(session):
        return
    debtors = session.scalars(
        select(Debtor.id)
        .where(Debtor.id.in_(select(Case.debtor_id).where(Case.id.in_(ids))))
        .order_by(Debtor.id)
        .with_for_update()
    ).all()
    cases = session.scalars(
        select(Case.id).where(Case.id.in_(ids)).order_by(Case.id).with_for_update()
    ).all()
    if _own(session).in_nested_transaction():
        return  # a savepoint's rollback would release them: not remembered
    held_debtors, held_cases = _held(session)
    session.info[_HELD] = (_own(session).get_transaction(), held_debtors | set(debtors),
                           held_cases | set(cases))


def _held(session: Session) -> tuple[frozenset | set, frozenset | set]:
    """(debtor ids, case ids) this transaction holds locks on outside any savepoint."""
    held = session.info.get(_HELD)
    if held is None or held[0] is not _own(session).get_transaction():
        return frozenset(), frozenset()
    return held[1], held[2]


def _own(session: Session | scoped_session) -> Session:
    """The session itself (a scoped session does not pass on the transaction look-ups)."""
    return session() if isinstance(session, scoped_session) else session


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
