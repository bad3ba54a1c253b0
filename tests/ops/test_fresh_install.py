"""The README's production install, run for real by `scripts/fresh-install` (PostgreSQL database
created and dropped, S3 on a local moto server, keys, migration, first administrator, server,
readiness, sign-in over HTTP). Deselect with `-m "not fresh_install"`."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import ENGINES, PG_ADMIN_URL, ROOT

SCRIPT = ROOT / "scripts" / "fresh-install"


@pytest.mark.fresh_install
@pytest.mark.skipif("postgresql" not in ENGINES, reason="the production install is PostgreSQL")
def test_a_fresh_install_serves_its_first_administrator():
    env = {**os.environ, "FIELDVISIT_TEST_PG_URL": PG_ADMIN_URL}
    done = subprocess.run([str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    for step in ("db upgrade", "users create-admin", "GET /readyz", "sign in"):
        assert step in done.stdout
    assert '"status":"ready"' in done.stdout
    assert '{"username":"admin","role":"admin"}' in done.stdout
    assert "fresh install: every step passed" in done.stdout
