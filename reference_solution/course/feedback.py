"""Feedback that never passes an incomplete total off as final.

``nbgrader autograde`` gives every answer that is graded by hand 0 points until a grader scores
it in the formgrader. Feedback made in between shows "Score: 0.0 / 1.0" on each such answer and
a total short of the truth, with nothing that says so. ``PendingManualGrades``, the first step
of ``c.GenerateFeedback.preprocessors``, asks the gradebook which grades of the notebook still
wait for a grader (``needs_manual_grade`` and no ``manual_score``: the rule of
``grade_export.GradeIdExport``'s ``pending``) and, if there are any, logs a warning naming the
student, the notebook and the grade ids, then

- by default refuses: nbgrader reports that student's notebook as failed (no feedback file
  for it; everybody else's feedback is still written, and the command exits non-zero);
- with ``--PendingManualGrades.allow_pending=True`` (or ``c.PendingManualGrades.allow_pending =
  True``) writes the feedback with a banner at the top: how many answers and points wait for
  grading by hand, what they count for now, and that the total is not final.

Why refuse by default: feedback goes to students (``nbgrader release_feedback``), and a total
that is short by the written answers reads as a grade. Forgetting the hand grading is the
instructor's slip, and the cheapest place to catch it is before anything leaves the course. A
banner would not be silent, but the slip would still reach every student. Automation that
wants feedback on the autograded part only (the test harness, a practice round) opts in with
one flag, and its students see the banner.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from nbconvert.exporters.exporter import ResourcesDict
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook
from traitlets import Bool

__all__ = ["PendingManualGrades", "PendingManualGradesError", "PendingGrade", "pending_grades", "banner", "ALLOW_FLAG",
           "FeedbackLayout", "WRAP_CSS"]

ALLOW_FLAG = "--PendingManualGrades.allow_pending=True"


class PendingManualGradesError(RuntimeError):
    """Feedback refused: some grades of the notebook still wait for a grader."""


@dataclass(frozen=True)
class PendingGrade:
    grade_id: str
    max_score: float  # the points it is worth
    score: float  # what it counts for now (the autograder's score, usually 0)


def pending_grades(db_url: str, assignment: str, notebook: str, student: str) -> list[PendingGrade]:
    """The grades of one submitted notebook that need a manual grade nobody gave yet."""
    with Gradebook(db_url) as gradebook:
        submitted = gradebook.find_submission_notebook(notebook, assignment, student)
        return [PendingGrade(g.name, float(g.max_score), float(g.score or 0.0))
                for g in submitted.grades if g.needs_manual_grade and g.manual_score is None]


def _points(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def banner(pending: list[PendingGrade]) -> str:
    """The markdown put at the top of feedback made while ``pending`` wait for a grader."""
    n = len(pending)
    answers = f"{n} answer" + ("" if n == 1 else "s")
    links = ", ".join(f"[{p.grade_id}](#{p.grade_id})" for p in pending)  # the template's anchors
    worth = _points(sum(p.max_score for p in pending))
    now = _points(sum(p.score for p in pending))
    return (f"> **Provisional feedback: the total score is not final.** {answers} worth {worth} "
            f"({links}) {'has' if n == 1 else 'have'} not been graded by hand yet. Until then "
            f"{'it counts' if n == 1 else 'they count'} {now}, so the total above is incomplete; "
            f"it will change once {'it is' if n == 1 else 'they are'} graded.")


# nbconvert's Preprocessor, not nbgrader's NbGraderPreprocessor: that one redeclares
# ``display_data_priority`` unconfigurable, and nbgrader then warns on every run that the option
# is "not recognized" (as it does for ClearHiddenTests). What NbGraderPreprocessor does that is
# needed, ``enabled`` on by default, is declared here: nbgrader registers its preprocessors
# without enabling them, and nbconvert would skip this one silently.
class PendingManualGrades(Preprocessor):
    """Refuse feedback while manual grades are pending, or (if allowed) mark it provisional."""

    enabled = Bool(True, help="Whether nbgrader runs this check (keep it on)").tag(config=True)

    allow_pending = Bool(False, help=(
        "Write feedback even while some answers still wait for grading by hand; it then opens "
        "with a banner saying the total is not final. Off: such a notebook fails.")).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        student, notebook = info["student"], info["notebook"]
        pending = pending_grades(info["db_url"], info["assignment"], notebook, student)
        order = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
        pending.sort(key=lambda p: order.index(p.grade_id) if p.grade_id in order else len(order))
        if not pending:
            return nb, resources
        what = (f"student {student!r}, notebook {notebook!r}: {len(pending)} grade(s) worth "
                f"{_points(sum(p.max_score for p in pending))} still need grading by hand "
                f"({', '.join(p.grade_id for p in pending)})")
        if not self.allow_pending:
            self.log.warning("Feedback refused for %s", what)
            raise PendingManualGradesError(
                f"no feedback for {what}: its total would not be final. Grade them in the formgrader "
                f"first, or pass {ALLOW_FLAG} for feedback marked provisional.")
        self.log.warning("Provisional feedback (banner at the top) for %s", what)
        # first cell: the feedback template shows the notebook's total just above it
        nb.cells.insert(0, new_markdown_cell(banner(pending), metadata={"pending_manual_grades": True}))
        return nb, resources


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# Messages of failed checks (and every other text output) wrap at the box edge instead of being
# cut there: the figures that say what was wrong sit at the end of long lines.
WRAP_CSS = """/* reference_solution.course.feedback.FeedbackLayout */
div.output_area pre, div.output_subarea pre, .jp-OutputArea-output pre {
  white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word;
}"""


class FeedbackLayout(Preprocessor):
    """Feedback a student can read whole: text outputs wrap, an explorer shows its picture, every
    figure has alternative text.

    - ``WRAP_CSS`` goes into the page's inlined styles (after ``CSSHTMLHeaderPreprocessor``, which
      makes that list);
    - an output holding a widget view and a PNG (the course's explorers: see
      ``coursekit.views``) keeps only the PNG: without the widget's state nbconvert draws an
      empty "Out[n]:" for the view;
    - a PNG becomes an ``<img>`` with an ``alt`` naming the figure and its cell (nbconvert writes
      none, and a screen reader then says nothing).
    """

    enabled = Bool(True, help="Whether nbgrader runs this step (keep it on)").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        resources.setdefault("inlining", {}).setdefault("css", []).append(WRAP_CSS)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            name = cell.metadata.get("nbgrader", {}).get("grade_id") or f"code cell {index + 1}"
            figures = 0
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if "image/png" not in data:
                    continue
                data.pop(WIDGET_VIEW, None)
                if "text/html" in data:
                    continue
                figures += 1
                png = "".join(str(data["image/png"]).split())
                alt = html.escape(f"figure {figures} of {name}", quote=True)
                data["text/html"] = f'<img src="data:image/png;base64,{png}" alt="{alt}">'
        return nb, resources
