"""The hostile catalogue through plain ``nbgrader autograde``: tricks earn nothing, nobody is hurt.

Each trick of ``hostile_catalogue.TRICKS`` is the first cell of a blank submission, graded in the
same batch as complete submissions that come after it (``course_batch``). For the toy course and
for both real assignments: every trick earns 0 autograded points and no manual score, the
complete submissions graded after the tricks get full marks, the course files are unchanged, and
no verdict code or instructor path reaches a notebook or its feedback.
"""

from __future__ import annotations

import re

import pytest
from course_batch import REPO, real_batch, toy_batch
from hostile_catalogue import CATEGORIES, TRICKS

from reference_solution.course import release as course_module
from reference_solution.course.autograde import format_report
from reference_solution.course.sandbox import availability

# Without the jail a trick that reads the course's files succeeds: that is what the jail is for
# (nbgrader's log says so loudly), not a failure of the code under test.
_JAIL, _WHY = availability()
pytestmark = pytest.mark.skipif(not _JAIL, reason=f"the tricks are graded in bubblewrap's jail; none here: {_WHY}")

# the trusted side's verdict code (codec, protocol and probes are sent into kernels: public)
GRADING_SOURCES = [p for p in sorted((REPO / "reference_solution" / "grading").glob("*.py"))
                   if p.name not in ("codec.py", "protocol.py", "__init__.py")]


def _distinctive_lines() -> set[str]:
    """Lines of the trusted verdict code that must never reach a notebook or feedback."""
    lines = set()
    for path in GRADING_SOURCES:
        for line in path.read_text().splitlines():
            line = line.strip()
            if len(line) > 40 and line.startswith(("assert ", "raise AssertionError")):
                lines.add(line)
    return lines


def problems_of(batch) -> list[str]:
    problems = []
    for sid, result in batch.results.items():
        if sid.startswith("h"):
            earned = sum(r.score for r in result.grades.values() if not r.needs_manual_grade)
            if earned:
                problems.append(f"{sid} earned {earned} autograded points")
            if any(r.needs_manual_grade and r.score for r in result.grades.values()):
                problems.append(f"{sid} has a manual score")
        elif sid.startswith("zz_"):
            for g, r in result.grades.items():
                if not r.needs_manual_grade and r.score != r.max_score:
                    problems.append(f"{sid} (complete, graded after the tricks) lost {g}: "
                                    f"{r.score}/{r.max_score}: {result.why(g)}")
    if batch.before != batch.after:
        changed = {k for b, a in zip(batch.before, batch.after) for k in set(b) | set(a) if b.get(k) != a.get(k)}
        problems.append(f"course files changed: {sorted(changed)}")
    secret = _distinctive_lines()
    for where in (batch.autograded, batch.feedback):
        for sid, text in where.items():
            leaked = [line for line in secret if line in text]
            if leaked:
                problems.append(f"{sid}: verdict code in its notebook or feedback: {leaked[:2]}")
            if str(REPO / "reference_solution") in text:
                problems.append(f"{sid}: an instructor path in its notebook or feedback")
    if problems:
        problems.append(format_report({k: v for k, v in batch.results.items() if k.startswith(("h", "zz"))}))
    return problems


def test_catalogue_has_two_tricks_per_category_and_obfuscated_ones():
    for category in CATEGORIES:
        assert sum(t.category == category for t in TRICKS) >= 2, category
    assert {t.category for t in TRICKS} <= set(CATEGORIES)
    assert sum("obfuscated" in t.name for t in TRICKS) >= 5


def test_toy_tricks_earn_nothing_and_hurt_nobody():
    problems = problems_of(toy_batch())
    assert not problems, "\n".join(problems)


def test_broken_notebook_file_gets_a_result_and_the_batch_goes_on():
    results = toy_batch().results
    broken = results["h99_broken_notebook_file"]
    assert broken.status == "rejected" and broken.total == 0, format_report({"b": broken})
    assert results["zz_complete_0"].total == results["zz_complete_1"].total == 5


@pytest.mark.slow
@pytest.mark.parametrize("assignment", course_module.assignments(REPO, editions=False))
def test_real_assignment_tricks_earn_nothing_and_hurt_nobody(assignment):
    problems = problems_of(real_batch(assignment))
    assert not problems, "\n".join(problems)


def feedback_problems(batch, registry_docs: dict[str, str]) -> list[str]:
    problems = []
    blank, complete = batch.feedback["blank"], batch.feedback["zz_complete_0"]
    for text, who in ((blank, "blank"), (complete, "complete")):
        for marker in ("BEGIN HIDDEN TESTS", "from reference_solution", 'check("'):
            if marker in text:
                problems.append(f"{who}'s feedback shows hidden test code ({marker!r})")
        # nbgrader_config.py's FeedbackLayout: messages wrap, every figure has its own alt text
        if "reference_solution.course.feedback.FeedbackLayout" not in text:
            problems.append(f"{who}'s feedback lacks FeedbackLayout's styles (long messages are cut)")
        unnamed = [tag[:80] for tag in re.findall(r"<img\b[^>]*>", text) if 'alt="figure ' not in tag]
        if unnamed:
            problems.append(f"{who}'s feedback has {len(unnamed)} figure(s) without alt text: {unnamed[:2]}")
    for name in registry_docs:
        if f"Hidden check failed: {name}" not in blank:
            problems.append(f"blank feedback does not name the failed check {name}")
        if f"✓ {name}" not in complete:
            problems.append(f"complete feedback does not list the passed check {name}")
    return problems


def _docs(names) -> dict[str, str]:
    from reference_solution.grading.protocol import registry

    return {n: registry()[n].doc for n in names}


def test_toy_feedback_shows_checks_not_hidden_code():
    import toy_checks  # noqa: F401  (the toy course folder is on sys.path via course_batch)

    from reference_solution.grading.protocol import registry

    docs = {c.name: c.doc for c in registry(("toy_checks",)).values()}
    problems = feedback_problems(toy_batch(), docs)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", course_module.assignments(REPO, editions=False))
def test_real_feedback_shows_checks_not_hidden_code(assignment):
    batch = real_batch(assignment)
    names = [g for g, r in batch.results["zz_complete_0"].grades.items() if not r.needs_manual_grade]
    problems = feedback_problems(batch, _docs(names))
    assert not problems, "\n".join(problems)
