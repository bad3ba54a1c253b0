"""`fieldvisit demo`: demo teams, users and a generated lender book, seeded once."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from api.extensions import db
from api.services.imports.demo.seed import seed_demo


@click.command("demo")
@click.option("--cases", "n_cases", type=click.IntRange(1, 200_000), default=2000,
              show_default=True, help="How many loans to generate.")
@click.option("--seed", type=int, default=7, show_default=True,
              help="Random seed: the same seed gives the same book.")
@with_appcontext
def command(n_cases: int, seed: int) -> None:
    """Seed demo teams, users and cases (does nothing if demo users exist).

    The users' passwords are printed once, here, and stored only as hashes."""
    result = seed_demo(db.session, current_app.extensions["fieldvisit.pii"],
                       n_cases=n_cases, seed=seed)
    if not result.created:
        click.echo(result.message)
        _print_buckets(result.buckets)
        return
    db.session.commit()
    run = result.run
    if run is not None:
        errors = json.loads(run.errors or "[]")
        click.echo(f"Imported {run.rows} cases: {run.created} created, {run.updated} updated, "
                   f"{run.unchanged} unchanged, {len(errors)} row errors.")
    click.echo(f"\n{'username':<28} {'role':<10} {'team':<7} {'name':<6}  password")
    for user in result.users:
        click.echo(f"{user.username:<28} {user.role:<10} {user.team_code or '-':<7} "
                   f"{user.full_name:\u3000<4}  {user.password}")
    click.echo("\nThe passwords are shown only this once.")
    _print_buckets(result.buckets)


def _print_buckets(buckets: dict[str, int]) -> None:
    click.echo("\nCases per bucket: " + ", ".join(f"{b} {n}" for b, n in buckets.items())
               + f" (total {sum(buckets.values())})")
