"""Mutant and alternative catalogues through the real nbgrader pipeline.

Every mutant of an assignment already runs through the grading checks in process
(``tests/grading/test_<assignment>_checks.py``, fast). A spread of them, and valid alternatives,
also go through the whole pipeline in the shared batch (``course_batch``): a student fills the
release notebook with the (edited) reference code, plain ``nbgrader autograde`` grades it, the
scores come from the gradebook. A mutant must lose exactly the points of the grade ids it lists
and keep every other autograded point; an alternative must keep full marks.
"""

from __future__ import annotations

import pytest
from course_batch import CATALOGUES, real_batch

from reference_solution.course.autograde import format_report


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(CATALOGUES))
def test_mutants_lose_exactly_their_points_and_alternatives_keep_full_marks(assignment):
    batch = real_batch(assignment)
    cases = {sid: case for sid, case in batch.cases.items() if sid.startswith(("mutant", "valid"))}
    assert len(cases) >= 3
    problems = []
    for sid, case in cases.items():
        r = batch.results[sid]
        if r.status not in ("graded", "flagged"):
            problems.append(f"{sid} {case.name!r}: {r.status}")
            continue
        for grade_id, res in r.grades.items():
            if res.needs_manual_grade:
                continue
            full = res.score == res.max_score
            if grade_id in case.expected_failing and res.score != 0:
                problems.append(f"{sid} {case.name!r}: {grade_id} scored {res.score}, expected 0")
            elif grade_id not in case.expected_failing and grade_id not in case.may_fail and not full:
                problems.append(f"{sid} {case.name!r}: lost {grade_id} ({res.score}/{res.max_score}): "
                                f"{r.why(grade_id)}")
    assert not problems, "\n".join(problems) + "\n\n" + format_report({k: batch.results[k] for k in cases})
