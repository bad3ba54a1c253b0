"""The change log is bound to the application's session, not to SQLAlchemy's global Session:
work done without a request (a CLI command, a job) publishes its changes as a request does,
a session of another class publishes only once the hooks are installed on it, and a session
that changed cases but holds no cipher fails loudly instead of silently forgetting."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.extensions import SESSION_CIPHER, db
from api.models import Case, Debtor, SyncChange
from api.services.casefile.assignment import set_assignment
from mobile_sync import changelog
from mobile_sync.changelog import bucket_of


def changes_for(user_id: int) -> list[tuple[int, str]]:
    rows = db.session.scalars(
        select(SyncChange).where(SyncChange.bucket == bucket_of(user_id)).order_by(SyncChange.seq)
    )
    return [(c.entity_id, c.op) for c in rows]


def test_a_change_made_outside_any_request_is_published(app, world):
    """As `fieldvisit import` or a job does: the app context only, no request."""
    team = world.team()
    alice, bob = world.user("collector", team), world.user("collector", team)
    case = world.case(collector=alice)
    set_assignment(db.session, case, team_id=team.id, collector_id=bob.id, assigned_by_id=None,
                   reason="outside a request")
    db.session.commit()
    assert changes_for(alice.id)[-1] == (case.id, "remove")
    assert changes_for(bob.id)[-1] == (case.id, "put")


def test_a_plain_session_publishes_once_the_hooks_are_bound(app, world):
    team = world.team()
    alice = world.user("collector", team)
    case = world.case(collector=alice)
    before = len(changes_for(alice.id))

    class JobSession(Session):
        pass

    factory = sessionmaker(bind=db.engine, class_=JobSession)
    debtor_id = case.debtor_id
    with factory() as unbound:  # hooks not installed: nothing marks the case
        unbound.get(Debtor, debtor_id).risk_notes = "seen by a job"
        unbound.commit()
    db.session.rollback()  # end the read transaction: see what the other session committed
    assert len(changes_for(alice.id)) == before

    changelog.install(JobSession)
    with factory(info={SESSION_CIPHER: app.extensions["fieldvisit.pii"]}) as bound:
        bound.get(Debtor, debtor_id).risk_notes = "dog in the yard"
        bound.commit()
    db.session.rollback()  # end the read transaction: see what the other session committed
    assert changes_for(alice.id)[before:] == [(case.id, "put")]
    assert db.session.get(Case, case.id).debtor.risk_notes == "dog in the yard"

    with factory() as no_cipher, pytest.raises(RuntimeError, match="no PII cipher"):
        no_cipher.get(Debtor, debtor_id).risk_notes = "again"
        no_cipher.commit()
