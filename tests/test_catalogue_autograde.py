"""Mutant and alternative catalogues through the real nbgrader pipeline.

Every mutant of an assignment already runs through the grading checks in process
(``tests/grading/test_<assignment>_checks.py``, fast). Here a representative set of them, and the
valid alternatives, go through the whole pipeline: a student fills the release notebook with the
(edited) reference code, ``nbgrader autograde`` runs it in a scratch course, and the scores are
read from the gradebook. A mutant must lose exactly the points of the grade ids it lists and keep
every other autograded point; an alternative must keep full marks. One scratch course and one
batch per assignment keep the cost to a few minutes on 2 cores.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

from reference_solution.autograde import ScratchCourse, apply_mutation, format_report
from reference_solution.course import assignments
from reference_solution.submissions import fill_release_with_solutions, _solution_body

REPO = Path(__file__).resolve().parents[1]
# How many mutants of each catalogue go through nbgrader (all of them run in process).
PIPELINE_MUTANTS = {"score_matching": 12, "wgan_anomalies": 6}
CATALOGUES = {"score_matching": "test_score_matching_checks.py",
              "wgan_anomalies": "test_wgan_checks.py"}


def _catalogue(assignment: str):
    path = REPO / "tests" / "grading" / CATALOGUES.get(assignment, "")
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"_catalogue_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _spread(items: list, n: int) -> list:
    """``n`` items spread evenly over the catalogue, so every part of the notebook is covered."""
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


CASES = [a for a in assignments(REPO) if _catalogue(a) is not None]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", CASES)
def test_mutants_lose_exactly_their_points_and_alternatives_keep_full_marks(assignment):
    catalogue = _catalogue(assignment)
    source = nbformat.read(REPO / "source" / assignment / f"{assignment}.ipynb", 4)
    solutions = {c.metadata["nbgrader"]["grade_id"]: _solution_body(c.source) for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    tests = {c.metadata["nbgrader"]["grade_id"] for c in source.cells if c.cell_type == "code"
             and c.metadata.get("nbgrader", {}).get("grade")}
    mutants = _spread(list(catalogue.MUTANTS), PIPELINE_MUTANTS[assignment])
    valid = list(catalogue.VALID)
    cases = {f"mutant{i:02d}": m for i, m in enumerate(mutants)}
    cases.update({f"valid{i:02d}": v for i, v in enumerate(valid)})

    with ScratchCourse(REPO, assignment) as course:
        submissions = {}
        for sid, case in cases.items():
            code = apply_mutation(solutions[case.cell_grade_id], case.old, case.new)
            submissions[sid] = fill_release_with_solutions(
                REPO, assignment, {case.cell_grade_id: code}, release_dir=course.release_dir)
        results = course.grade(submissions)
    report = format_report(results)
    problems = []
    for sid, case in cases.items():
        r = results[sid]
        if r.status not in ("graded", "flagged"):
            problems.append(f"{sid} {case.name!r}: {r.status}")
            continue
        auto = {g: res for g, res in r.grades.items() if g in tests}
        for grade_id, res in auto.items():
            full = res.score == res.max_score
            if grade_id in case.expected_failing and res.score != 0:
                problems.append(f"{sid} {case.name!r}: {grade_id} scored {res.score}, expected 0")
            elif grade_id not in case.expected_failing and grade_id not in case.may_fail and not full:
                problems.append(f"{sid} {case.name!r}: lost {grade_id} ({res.score}/{res.max_score})")
    assert not problems, "\n".join(problems) + "\n\n" + report
