"""The visible parts of a notebook's test cells, run in process, and the rule every catalogue
mutant is judged by (``tests/grading/test_visible_*.py``).

A realistic bug must fail a visible test of its own exercise (one of the grade ids it lists in
``expected_failing``, among those run here), with a message that says what is wrong, unless only
a hidden check can tell it (``unseen``); and no visible test may fail outside ``expected_failing``
and ``may_fail``, since under nbgrader a failed visible part costs its cell's points, unless its
message names what it depends on (``depends_on``: grade id -> phrase).
"""

from __future__ import annotations

import contextlib
import io

import nbformat

from reference_solution.course.notebook_namespace import REPO


def visible_sources(assignment: str) -> tuple[dict[str, str], list[str]]:
    """``{grade_id: visible part}`` of the source notebook's graded code cells (the hidden region
    cut off), and the grade ids of its test cells in notebook order."""
    nb = nbformat.read(REPO / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    graded = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade_id")]
    cells = {c.metadata["nbgrader"]["grade_id"]: c.source.split("### BEGIN HIDDEN TESTS")[0] for c in graded}
    return cells, [c.metadata["nbgrader"]["grade_id"] for c in graded if c.metadata["nbgrader"].get("grade")]


def run_visible(source: str, name: str, ns: dict) -> str | None:
    """Run one visible part in ``ns``; its error as the student sees it, or None."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, f"<visible {name}>", "exec"), ns)  # noqa: S102 - the course's own cells
    except Exception as exc:  # noqa: BLE001 - any error is a failed cell to the student
        return f"{type(exc).__name__}: {exc}"
    return None


def judge(mutant, failed: dict[str, str], ran: set[str], unseen: dict[str, str],
          depends_on: dict[str, str] | None = None) -> None:
    """Assert the module docstring's rule for ``mutant`` given the visible ``failed`` of ``ran``."""
    own = set(mutant.expected_failing) & ran
    allowed = set(mutant.expected_failing) | set(mutant.may_fail)
    if mutant.name not in unseen:
        caught = own & set(failed)
        assert caught, f"{mutant.name}: every visible test of {sorted(own)} passes"
        said = any(len(failed[g]) > len("AssertionError: ") + 20 for g in caught)
        assert said, f"{mutant.name}: the messages say too little: {failed}"
    depends_on = depends_on or {}
    blamed = {g for g in set(failed) - allowed if depends_on.get(g, "\0") not in failed[g]}
    assert not blamed, f"{mutant.name}: visible tests blame {sorted(blamed)}: {failed}"
