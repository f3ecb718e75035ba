"""Feedback made before the hand grading: refused by default, provisional with a banner on request,
plain once the grader has scored the written answer (``reference_solution/course/feedback.py``).

One toy course, autograded once (two students: ``alice`` answered the written question, so it
waits for a grader; ``bob`` handed in the blank release, which nbgrader scores 0 with nothing to
grade by hand). Then plain ``nbgrader generate_feedback`` three times, as an instructor runs it:
without the flag, with ``--PendingManualGrades.allow_pending=True``, and after the written answer
got a manual score through the gradebook API.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from reference_solution.course import release as course
from reference_solution.course.autograde import ScratchCourse, example_submissions
from reference_solution.course.feedback import ALLOW_FLAG, PendingGrade, banner

TOY = Path(__file__).resolve().parents[1] / "fixtures" / "toy_course"
WRITTEN = "why_square_is_positive"  # the toy's answer graded by hand, 1 point
BANNER = "Provisional feedback: the total score is not final."


@dataclass
class Run:
    returncode: int
    log: str
    feedback: dict[str, str | None]  # student -> feedback HTML, None when nbgrader wrote none


def generate_feedback(folder: Path, *args: str) -> Run:
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", "toy", "--force", *args],
                          cwd=folder, env=course.nbgrader_env(TOY), capture_output=True, text=True, timeout=600)
    html = {sid: folder / "feedback" / sid / "toy" / "toy.html" for sid in ("alice", "bob")}
    return Run(done.returncode, done.stdout + done.stderr,
               {sid: p.read_text() if p.is_file() else None for sid, p in html.items()})


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    with ScratchCourse(TOY, "toy", nbgrader_args=("--Execute.timeout=10",)) as scratch:
        examples = example_submissions(TOY, "toy", scratch.release_dir)
        graded = scratch.grade({"alice": examples["complete"], "bob": examples["blank"]})
        assert graded["alice"].grades[WRITTEN].needs_manual_grade, graded["alice"]
        assert not any(g.needs_manual_grade for g in graded["bob"].grades.values()), graded["bob"]
        folder = scratch.course_dir
        out = {"default": generate_feedback(folder), "allowed": generate_feedback(folder, ALLOW_FLAG)}
        with Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as gb:  # the grader scores the answer
            grade = gb.find_grade(WRITTEN, "toy", "toy", "alice")
            grade.manual_score = 1.0
            gb.db.commit()
        out["graded"] = generate_feedback(folder)
        return out


def test_feedback_is_refused_while_a_written_answer_waits_for_a_grader(runs):
    run = runs["default"]
    assert run.returncode != 0, run.log[-3000:]
    assert run.feedback["alice"] is None, "feedback with an incomplete total was written"
    refused = [line for line in run.log.splitlines() if "Feedback refused" in line]
    assert refused and all(w in refused[0] for w in ("'alice'", "'toy'", WRITTEN)), run.log[-3000:]
    assert ALLOW_FLAG in run.log  # the way out is named
    assert run.feedback["bob"] is not None and BANNER not in run.feedback["bob"]  # nothing pending: unaffected


def test_allowed_feedback_carries_the_banner(runs):
    run = runs["allowed"]
    assert run.returncode == 0, run.log[-3000:]
    alice = run.feedback["alice"]
    assert alice is not None and BANNER in alice
    assert "1 answer worth 1 point" in alice and f'href="#{WRITTEN}"' in alice
    assert "counts 0 points" in alice and "the total above is incomplete" in alice
    assert alice.index(BANNER) < alice.index("Toy assignment")  # at the top of the notebook
    assert "(Score: 5.0 / 6.0)" in alice  # nbgrader's total, which the banner qualifies
    warned = [line for line in run.log.splitlines() if "Provisional feedback" in line]
    assert warned and "'alice'" in warned[0] and WRITTEN in warned[0], run.log[-3000:]
    assert BANNER not in run.feedback["bob"]
    assert "not recognized by `PendingManualGrades`" not in run.log


def test_after_hand_grading_the_feedback_is_plain(runs):
    run = runs["graded"]
    assert run.returncode == 0, run.log[-3000:]
    alice = run.feedback["alice"]
    assert alice is not None and BANNER not in alice and "(Score: 6.0 / 6.0)" in alice
    assert "Provisional feedback" not in run.log and "Feedback refused" not in run.log


def test_banner_counts_answers_points_and_what_they_count_now():
    text = banner([PendingGrade("a", 1.0, 0.0), PendingGrade("b", 2.5, 0.5)])
    assert "2 answers worth 3.5 points ([a](#a), [b](#b)) have not been graded by hand" in text
    assert "they count 0.5 points" in text and "once they are graded" in text


def test_feedback_layout_keeps_an_explorers_picture_and_names_every_figure():
    """Unit case of FeedbackLayout (the page itself is measured in a browser in
    tests/browser/test_feedback_browser.py): the widget view goes, the PNG stays as an ``<img>``
    with alt text naming the figure and its cell, and the wrap styles join the inlined CSS."""
    import nbformat

    from reference_solution.course.feedback import WIDGET_VIEW, WRAP_CSS, FeedbackLayout

    cell = nbformat.v4.new_code_cell("explore()", outputs=[nbformat.v4.new_output(
        "execute_result", execution_count=1, data={WIDGET_VIEW: {"model_id": "m"}, "image/png": "iVBO\nRw0K",
                                                   "text/plain": "<View>"})])
    cell.metadata["nbgrader"] = {"grade_id": "explore_anomalies"}
    plain = nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output("display_data", data={
        "image/png": "AAAA", "text/html": "<b>own html</b>"})])
    nb, resources = FeedbackLayout().preprocess(nbformat.v4.new_notebook(cells=[cell, plain]),
                                                {"inlining": {"css": ["nbconvert's"]}})
    data = nb.cells[0].outputs[0]["data"]
    assert WIDGET_VIEW not in data and data["image/png"] == "iVBO\nRw0K"
    assert data["text/html"] == '<img src="data:image/png;base64,iVBORw0K" alt="figure 1 of explore_anomalies">'
    assert nb.cells[1].outputs[0]["data"]["text/html"] == "<b>own html</b>"  # an output's own HTML wins
    assert resources["inlining"]["css"] == ["nbconvert's", WRAP_CSS]


def test_feedback_pages_carry_the_layout(runs):
    page = runs["allowed"].feedback["alice"]
    assert "reference_solution.course.feedback.FeedbackLayout" in page
