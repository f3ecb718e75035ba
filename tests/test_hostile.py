"""The hostile catalogue through plain ``nbgrader autograde``: tricks earn nothing, nobody else is hurt.

Each trick of ``hostile_catalogue.TRICKS`` is the first cell of a blank submission. One batch per
course (one ``nbgrader autograde`` run, as an instructor runs it) grades every trick, a broken
notebook file, and then complete submissions (student ids sort after the tricks, and nbgrader
grades in that order). The toy course runs in seconds per student; the real assignments are
slow and run every trick too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest

from hostile_catalogue import CATEGORIES, TRICKS
from reference_solution import course as course_module
from reference_solution.autograde import ScratchCourse, example_submissions, format_report

TOY = Path(__file__).parent / "fixtures" / "toy_course"
REPO = Path(__file__).resolve().parents[1]
GRADING_SOURCES = sorted((REPO / "reference_solution" / "grading").glob("*.py"))


def with_trick(nb, code: str):
    nb = nbformat.from_dict(nb)
    nb.cells.insert(0, nbformat.v4.new_code_cell(code))
    return nb


def _fingerprint(folder: Path) -> dict[str, str]:
    """Hashes of the course files a student must not change (the gradebook is checked by grades)."""
    files = [folder / "nbgrader_config.py", *sorted((folder / "source").rglob("*")),
             *sorted((folder / "release").rglob("*"))]
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in files if p.is_file() and "__pycache__" not in p.parts}


def _distinctive_lines() -> set[str]:
    """Lines of the trusted verdict code that must never reach a notebook or feedback."""
    lines = set()
    for path in GRADING_SOURCES:
        for line in path.read_text().splitlines():
            line = line.strip()
            if len(line) > 40 and line.startswith(("assert ", "raise AssertionError")):
                lines.add(line)
    return lines


def grade_catalogue(root: Path, assignment: str, *, workers: int, args: tuple = ()):
    with ScratchCourse(root, assignment, nbgrader_args=args, workers=workers) as course:
        examples = example_submissions(root, assignment, course.release_dir)
        before = [_fingerprint(c) for c in course.courses]
        subs = {f"h{i:02d}_{t.name}"[:60]: with_trick(examples["blank"], t.code)
                for i, t in enumerate(TRICKS)}
        subs["h99_broken_notebook_file"] = b'{"cells": [ this is not json'
        for i in range(workers):  # one complete submission at the end of every worker's batch
            subs[f"zz_complete_{i}"] = examples["complete"]
        results = course.grade(subs)
        after = [_fingerprint(c) for c in course.courses]
        autograded = {sid: "\n".join(p.read_text() for c in course.courses
                                     for p in (c / "autograded" / sid).rglob("*.ipynb"))
                      for sid in subs}
        yield results, before, after, autograded, course


def _check_batch(results, before, after, autograded, assignment: str) -> list[str]:
    problems = []
    report = format_report(results)
    for sid, result in results.items():
        if sid.startswith("h"):
            auto = {g: r for g, r in result.grades.items() if not r.needs_manual_grade}
            earned = sum(r.score for r in auto.values())
            if earned:
                problems.append(f"{sid} earned {earned} autograded points")
            manual = [g for g, r in result.grades.items() if r.needs_manual_grade and r.score]
            if manual:
                problems.append(f"{sid} has manual scores {manual}")
        else:
            for g, r in result.grades.items():
                if not r.needs_manual_grade and r.score != r.max_score:
                    problems.append(f"{sid} (complete, graded after the tricks) lost {g}: "
                                    f"{r.score}/{r.max_score}")
    if before != after:
        changed = {k for b, a in zip(before, after) for k in set(b) | set(a) if b.get(k) != a.get(k)}
        problems.append(f"course files changed: {sorted(changed)}")
    secret = _distinctive_lines()
    for sid, text in autograded.items():
        leaked = [line for line in secret if line in text]
        if leaked:
            problems.append(f"{sid}: verdict code in the autograded notebook: {leaked[:2]}")
        if str(REPO) + "/reference_solution" in text:
            problems.append(f"{sid}: instructor package path in the autograded notebook")
    return [p + "\n" for p in problems] + ([report] if problems else [])


def test_catalogue_has_two_tricks_per_category():
    for category in CATEGORIES:
        assert sum(t.category == category for t in TRICKS) >= 2, category
    assert {t.category for t in TRICKS} <= set(CATEGORIES)


@pytest.fixture(scope="module")
def toy_batch():
    yield from grade_catalogue(TOY, "toy", workers=1, args=("--Execute.timeout=10",))


def test_toy_tricks_earn_nothing_and_hurt_nobody(toy_batch):
    results, before, after, autograded, _ = toy_batch
    problems = _check_batch(results, before, after, autograded, "toy")
    assert not problems, "".join(problems)


def test_broken_notebook_file_gets_a_result_and_the_batch_goes_on(toy_batch):
    results, *_ = toy_batch
    broken = results["h99_broken_notebook_file"]
    assert broken.status == "crashed" and broken.total == 0, format_report({"b": broken})
    assert results["zz_complete_0"].total == 5


@pytest.mark.slow
@pytest.mark.parametrize("assignment", course_module.assignments(REPO))
def test_real_assignment_tricks_earn_nothing_and_hurt_nobody(assignment):
    for results, before, after, autograded, _ in grade_catalogue(
            REPO, assignment, workers=2, args=("--Execute.timeout=120",)):
        problems = _check_batch(results, before, after, autograded, assignment)
        assert not problems, "".join(problems)
