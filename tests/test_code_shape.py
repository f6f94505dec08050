"""Package code stays in small units: no function over 60 lines, no module over 400 (issue 8).

Counted as the source shows them (docstrings included), over every package a user
imports; tests and benchmarks are exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("asib_sweeps", "trainables", "search_spaces", "cluster", "analysis")
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400

MODULES = sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_module_and_its_functions_are_small(path: Path) -> None:
    source = path.read_text()
    assert source.count("\n") <= MAX_MODULE_LINES, f"{path.name} has {source.count(chr(10))} lines"
    long_functions = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long_functions, f"{path.name}: " + ", ".join(long_functions)


def test_the_walk_sees_the_packages() -> None:
    assert len(MODULES) > 50 and any(path.name == "run.py" for path in MODULES)
