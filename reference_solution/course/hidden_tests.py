"""The hidden region of a test cell: what the grading executor accepts there.

A test cell's ``### BEGIN HIDDEN TESTS`` region never reaches the student's kernel; it may only
name checks (``check("<name>")``) that the executor runs on the trusted side. Anything else is
an instructor's mistake and stops grading with ``GradingConfigError``.
"""

from __future__ import annotations

import ast

__all__ = ["BEGIN", "END", "GradingConfigError", "hidden_checks", "is_test_cell"]

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


class GradingConfigError(ValueError):
    """A hidden test region the executor cannot run (the instructor's notebook is wrong)."""


def hidden_checks(source: str) -> tuple[str, list[str]]:
    """``(visible source, check names)`` of a test cell; the hidden region may only hold
    ``from reference_solution.grading import check`` and ``check("<name>")`` lines."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        if BEGIN in line:
            inside = True
        elif END in line:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    names = []
    try:
        tree = ast.parse("\n".join(hidden))
    except SyntaxError as exc:
        raise GradingConfigError(f"the hidden tests do not parse: {exc}") from None
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "reference_solution.grading" \
                and [a.name for a in stmt.names] == ["check"]:
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
                and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "check" \
                and len(stmt.value.args) == 1 and not stmt.value.keywords \
                and isinstance(stmt.value.args[0], ast.Constant) \
                and isinstance(stmt.value.args[0].value, str):
            names.append(stmt.value.args[0].value)
            continue
        raise GradingConfigError("hidden tests may only call check(\"<name>\"), found: "
                                 + ast.unparse(stmt)[:200])
    return "\n".join(visible), names


def is_test_cell(cell) -> bool:
    """An autograded test cell (graded, not a solution)."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")
