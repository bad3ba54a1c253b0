"""Operations tests: the console commands, the probes and the server process."""

from __future__ import annotations

import pytest

from api.cli import cli


@pytest.fixture
def run_cli(app):
    """Run a `fieldvisit ...` command against the test app; returns click's Result."""
    runner = app.test_cli_runner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(cli, list(args), input=input)

    return run


