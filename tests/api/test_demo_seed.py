"""An administrator seeds the demo: teams, people and a generated book go in through the real
import, every collector gets a round of cases, and a second run does nothing."""

import json
from collections import Counter
from datetime import date

from sqlalchemy import func, select

from api.commands.demo import command as demo_command
from api.extensions import db
from api.models import Assignment, Case, ImportRun, Role, User
from api.services.identity.passwords import verify_password
from api.services.imports.demo.book import generate_cases_file, generate_payments_file
from api.services.imports.demo.seed import seed_demo
from api.services.imports.runs import import_payments

AS_OF = date(2026, 11, 21)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_demo_seed_imports_every_case_and_gives_every_collector_some(app):
    cipher = app.extensions["fieldvisit.pii"]
    result = seed_demo(db.session, cipher, n_cases=200, seed=7, as_of=AS_OF)
    db.session.commit()

    assert result.created and result.run is not None
    assert json.loads(result.run.errors) == []
    assert (result.run.rows, result.run.created) == (200, 200)
    assert count(Case) == 200 and sum(result.buckets.values()) == 200
    assert all(result.buckets[b] > 0 for b in ("current", "M1", "M2", "M3", "M3+"))

    users = {u.username: u for u in db.session.scalars(select(User))}
    roles = Counter(u.role for u in users.values())
    assert roles[Role.ADMIN] == roles[Role.LEGAL] == 1 and roles[Role.SUPERVISOR] == 3
    assert 12 <= roles[Role.COLLECTOR] <= 18
    for shown in result.users:  # the passwords printed once are the ones that work
        assert verify_password(users[shown.username].password_hash, shown.password)

    held = Counter(db.session.scalars(select(Case.collector_id)))
    for user in users.values():
        if user.role is Role.COLLECTOR:
            assert held[user.id] > 0, f"{user.username} has no cases"
    assert None not in held
    mismatched = db.session.scalar(
        select(func.count()).select_from(Case).join(User, User.id == Case.collector_id)
        .where(User.team_id != Case.team_id))
    assert mismatched == 0
    # Assigned through the import's assignment path: one open history row per case.
    open_rows = db.session.scalar(select(func.count()).select_from(Assignment)
                                  .where(Assignment.ended_at.is_(None)))
    assert open_rows == 200

    again = seed_demo(db.session, cipher, n_cases=200, seed=7, as_of=AS_OF)
    db.session.commit()
    assert not again.created and again.users == [] and again.run is None
    assert count(User) == len(users) and count(Case) == 200 and count(ImportRun) == 1


def test_the_days_payments_file_applies_to_the_seeded_book(app):
    seed_demo(db.session, app.extensions["fieldvisit.pii"], n_cases=200, seed=7, as_of=AS_OF)
    db.session.commit()
    book = generate_cases_file(200, seed=7, as_of=AS_OF)  # the book seed_demo imported
    payments = generate_payments_file(book, seed=7, as_of=date(2026, 11, 22))

    run = import_payments(db.session, payments, as_of=date(2026, 11, 22))
    db.session.commit()

    assert json.loads(run.errors) == []
    assert run.rows == len(payments["payments"]) + len(payments["balances"]) == 40
    paid = db.session.scalar(select(func.count()).select_from(Case)
                             .where(Case.figures_as_of == date(2026, 11, 22)))
    assert paid == 20


def test_demo_command_prints_passwords_once(app):
    runner = app.test_cli_runner()
    first = runner.invoke(demo_command, ["--cases", "40", "--seed", "3"])
    assert first.exit_code == 0, first.output
    assert "demo-admin" in first.output and "shown only this once" in first.output
    assert "0 row errors" in first.output and "total 40" in first.output

    second = runner.invoke(demo_command, ["--cases", "40", "--seed", "3"])
    assert second.exit_code == 0, second.output
    assert "already exist" in second.output and "demo-admin" not in second.output
