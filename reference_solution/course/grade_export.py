"""``nbgrader export`` with one row per student and grade id, pending manual grades marked.

nbgrader's default exporter writes one total per student and assignment, so a total that still
waits for hand grading looks final. This plugin (nbgrader's ``ExportPlugin`` API) writes every
grade cell instead::

    nbgrader export --exporter=reference_solution.course.grade_export.GradeIdExport --to grades_by_id.csv

Columns: assignment, notebook, grade_id, student_id, status (``graded``, ``pending`` for a cell
that needs a manual grade nobody gave yet, ``missing`` when the student submitted nothing),
auto_score, manual_score, score (what counts), max_score.
"""

from __future__ import annotations

import csv

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

__all__ = ["GradeIdExport", "COLUMNS"]

COLUMNS = ("assignment", "notebook", "grade_id", "student_id", "status", "auto_score",
           "manual_score", "score", "max_score")


def _number(value) -> str:
    return "" if value is None else f"{float(value):g}"


class GradeIdExport(ExportPlugin):
    """One CSV row per student and grade cell; pending manual grades say so."""

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or "grades_by_id.csv"
        students = [str(s) for s in self.student]
        assignments = [str(a) for a in self.assignment]
        self.log.info("Exporting one row per grade id to %s", dest)
        with open(dest, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(COLUMNS)
            for assignment in gradebook.assignments:
                if assignments and assignment.name not in assignments:
                    continue
                for student in gradebook.students:
                    if students and student.id not in students:
                        continue
                    self._rows(out, gradebook, assignment, student.id)

    @staticmethod
    def _rows(out, gradebook: Gradebook, assignment, student_id: str) -> None:
        try:
            submission = gradebook.find_submission(assignment.name, student_id)
        except MissingEntry:
            for notebook in assignment.notebooks:
                for cell in notebook.grade_cells:
                    out.writerow([assignment.name, notebook.name, cell.name, student_id, "missing",
                                  "", "", "0", _number(cell.max_score)])
            return
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                pending = grade.needs_manual_grade and grade.manual_score is None
                out.writerow([assignment.name, notebook.name, grade.name, student_id,
                              "pending" if pending else "graded", _number(grade.auto_score),
                              _number(grade.manual_score), _number(grade.score),
                              _number(grade.max_score)])
