"""`fieldvisit worker`: run background jobs taken from the configured broker."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--threads", default=None, type=click.IntRange(1, 64),
              help="Jobs run at once [default: FIELDVISIT_JOB_THREADS].")
@with_appcontext
def command(threads: int | None):
    """Run jobs from FIELDVISIT_JOB_BROKER (redis://... or amqp://...) until stopped."""
    queue = current_app.extensions["fieldvisit.jobs"]
    if queue.in_process:
        raise click.ClickException(
            "FIELDVISIT_JOB_BROKER is 'inprocess': the server runs its own jobs; set it to "
            "redis://... or amqp://... to run workers of their own")
    if threads:
        queue.threads = threads
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    queue.start_worker()
    click.echo(f"worker: {queue.threads} threads on {queue.url.split('@')[-1]}")
    stop.wait()
    queue.stop_worker()
