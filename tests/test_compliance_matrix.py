"""`docs/compliance-matrix.md` is generated from the rule catalogue
(api/services/compliance/catalogue.py) and the tests marked `@pytest.mark.rule("<id>", preset=…)`;
this fails when they drift apart: a rule no test proves, a marker naming no rule, or a stale file.

Regenerate with `.venv/bin/python -m tests.test_compliance_matrix`."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

from api.services.compliance.catalogue import RULES

ROOT = Path(__file__).resolve().parent.parent
MATRIX = ROOT / "docs" / "compliance-matrix.md"


def _rule_marks(decorators: list[ast.expr]) -> list[tuple[str, str | None]]:
    marks = []
    for node in decorators:
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "rule" and ast.unparse(node.func.value) == "pytest.mark"):
            rule = ast.literal_eval(node.args[0])
            preset = next((ast.literal_eval(k.value) for k in node.keywords
                           if k.arg == "preset"), None)
            if preset is None and len(node.args) > 1:
                preset = ast.literal_eval(node.args[1])
            marks.append((rule, preset))
    return marks


def marked_tests() -> list[tuple[str, str, str, str | None]]:
    """(rule id, test file, test name, preset) for every rule marker under tests/."""
    found = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_marks = []
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
                values = node.value.elts if isinstance(node.value, ast.List) else [node.value]
                module_marks += _rule_marks(values)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and (
                    node.name.startswith(("test_", "Test"))):
                for rule, preset in _rule_marks(node.decorator_list) + module_marks:
                    found.append((rule, str(path.relative_to(ROOT)), node.name, preset))
    return found


def render() -> str:
    tests = defaultdict(list)
    for rule, file, name, preset in marked_tests():
        tests[rule].append(f"`{file}::{name}`" + (f" ({preset})" if preset else ""))
    lines = [
        "# Compliance matrix",
        "",
        "Every rule the system keeps: where it comes from, where it is enforced (refused) or",
        "flagged, and the tests that prove it on SQLite and PostgreSQL, with the policy preset",
        "each test belongs to. Generated from `api/services/compliance/catalogue.py` and the",
        "tests marked `@pytest.mark.rule`; `tests/test_compliance_matrix.py` fails when this",
        "file is stale (regenerate: `.venv/bin/python -m tests.test_compliance_matrix`).",
        "",
        "Each policy version's settings (hours, caps, distances, retention) are data: see",
        "`GET /policies`. The presets are CN (`cn-default`), US (`us-fdcpa`) and IN (`in-rbi`).",
        "",
        "| rule | what it says | source | where | tests |",
        "|---|---|---|---|---|",
    ]
    for rule_id, rule in RULES.items():
        proofs = "<br>".join(sorted(tests.get(rule_id, []))) or "**none**"
        lines.append(f"| `{rule_id}` | {rule.title} | {rule.source} | {rule.enforced} "
                     f"| {proofs} |")
    return "\n".join(lines) + "\n"


def test_every_marker_names_a_rule_of_the_catalogue():
    unknown = [f"{file}::{name}: {rule}" for rule, file, name, _ in marked_tests()
               if rule not in RULES]
    assert not unknown, "markers naming no rule of the catalogue:\n" + "\n".join(unknown)


def test_every_rule_is_proven_by_a_test():
    proven = {rule for rule, *_ in marked_tests()}
    assert not set(RULES) - proven, f"rules no test proves: {sorted(set(RULES) - proven)}"


def test_the_matrix_in_docs_is_current():
    assert MATRIX.read_text(encoding="utf-8") == render(), (
        "docs/compliance-matrix.md is stale: run .venv/bin/python -m tests.test_compliance_matrix")


if __name__ == "__main__":
    MATRIX.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {MATRIX.relative_to(ROOT)}\n")
