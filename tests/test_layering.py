"""Imports flow one way (DESIGN.md): the sync transport knows nothing of Flask or the routes,
services know nothing of the transport, and the reference client is not server code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def offenders(package: str, forbidden: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """'file imports module' for each forbidden module (or its submodules) a file imports."""
    found = set()
    for path in sorted((root / package).rglob("*.py")):
        for name in imported_modules(path):
            for f in forbidden:
                if name == f or name.startswith(f + "."):
                    found.add(f"{path.relative_to(root)} imports {f}")
    return sorted(found)


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("mobile_sync", ("flask", "flask_smorest", "api.resources", "api.auth", "api.errors")),
        ("api/services", ("mobile_sync", "flask", "flask_smorest", "api.resources", "api.auth")),
        ("api/models", ("api.services", "mobile_sync", "flask", "api.resources")),
        ("clients", ("api", "mobile_sync", "schemas", "flask", "sqlalchemy")),
    ],
)
def test_imports_flow_one_way(package, forbidden):
    assert offenders(package, forbidden) == []


def test_a_rule_that_is_broken_is_found(tmp_path):
    """The check sees an offending import (so it cannot pass by reading nothing)."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("from flask import g\nimport mobile_sync.pull\n")
    assert offenders("pkg", ("flask", "mobile_sync"), tmp_path) == [
        "pkg/m.py imports flask",
        "pkg/m.py imports mobile_sync",
    ]
