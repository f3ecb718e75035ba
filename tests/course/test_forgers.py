"""The forger catalogue through plain ``nbgrader autograde``: forgers earn only the known holes.

Each notebook of ``forger_catalogue.notebooks`` is a blank release with one forger cell per
family in front (``course_batch`` grades them in the shared batch, before the complete
submissions). A grade id answered by a forger must score 0 unless the forger is listed as
earning it (``Forger.earns``: an open hole, in docs/SECURITY.md); every other autograded grade id
scores what the blank notebook scores (0), except the checks no forger is judged on
(``NOT_JUDGED``). The complete submissions graded after the forgers keep full marks
(``test_hostile``). ``tests/grading/test_forged_results.py`` judges the same forgers' data in
process, check by check.
"""

from __future__ import annotations

import pytest
from course_batch import JAILED, NO_JAIL_REASON, real_batch
from forger_catalogue import FAMILIES, NOT_JUDGED

from reference_solution.course.autograde import format_report

ASSIGNMENTS = tuple(FAMILIES)


def allowed(book, grade_id: str) -> bool:
    """Whether the forgers of this notebook may earn ``grade_id`` (a listed hole, or not judged)."""
    assignment = book[0].assignment
    if grade_id in NOT_JUDGED[assignment]:
        return True
    return any(grade_id in f.earns for f in book if grade_id in FAMILIES[assignment][f.family])


@pytest.mark.slow
@pytest.mark.skipif(not JAILED, reason=f"forgers are graded only in bubblewrap's jail; none here: {NO_JAIL_REASON}")
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_forgers_earn_only_the_listed_holes(assignment):
    batch = real_batch(assignment)
    books = {sid: case for sid, case in batch.cases.items() if sid.startswith("f")}
    assert books, "no forger notebook was graded"
    problems = []
    for sid, book in books.items():
        result = batch.results[sid]
        assert result.status != "rejected", format_report({sid: result})
        for g, r in result.grades.items():
            if r.needs_manual_grade:
                if r.score:
                    problems.append(f"{sid}: a manual score on {g}")
            elif r.score and not allowed(book, g):
                who = [f.name for f in book if g in FAMILIES[assignment][f.family]] or ["(no forger: the blank)"]
                problems.append(f"{sid}: {who[0]} earned {g} ({r.score}/{r.max_score})")
    assert not problems, "\n".join(problems) + "\n" + format_report({k: batch.results[k] for k in books})


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_complete_submissions_after_the_forgers_keep_full_marks(assignment):
    batch = real_batch(assignment)
    for sid in ("zz_complete_0", "zz_complete_1"):
        result = batch.results[sid]
        lost = {g: f"{r.score}/{r.max_score}: {result.why(g)}" for g, r in result.grades.items()
                if not r.needs_manual_grade and r.score != r.max_score}
        assert not lost, lost
