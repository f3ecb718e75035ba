"""Autograding a batch the way an instructor does, in a scratch copy of the course, with a report.

``ScratchCourse`` copies ``nbgrader_config.py`` and ``source/<assignment>`` of a course into a
temporary folder, runs ``nbgrader generate_assignment`` there once, and grades batches of
submissions with plain ``nbgrader autograde <assignment>``: every protection lives in the
course's own configuration (``reference_solution.course.executor.GradingExecute``), none in this
harness. It only places the submissions, reads the scores back from the gradebook, and adds
what an instructor would want to read beside them: per-cell outcomes recorded by the executor,
and the static tamper scan (``tamper_scan``, a report, never a verdict).

Tests, ``bench/bench_autograde.py`` and ``python -m reference_solution autograde-demo`` use it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import release as course
from .guarded_execute import REPORT_DIR_ENV
from .intake import rejections
from .submissions import apply_mutation, example_submissions, fill_release_with_solutions  # noqa: F401  (re-exported)
from .tamper_scan import imported_names, scan_code

__all__ = ["ScratchCourse", "StudentResult", "GradeResult", "format_report", "demo",
           "fill_release_with_solutions", "apply_mutation", "example_submissions"]

# worst last; "rejected": a notebook set aside before grading (intake.py), 0 points and the reason
STATUSES = ("graded", "flagged", "timed out", "kernel died", "rejected", "crashed")
BATCH_TIME_LIMIT = 4 * 3600.0  # seconds for one nbgrader process (the executor bounds each notebook)


@dataclass
class GradeResult:
    grade_id: str
    notebook: str
    score: float  # what counts (manual score if one was given, else the autograder's, else 0)
    max_score: float
    needs_manual_grade: bool


@dataclass
class StudentResult:
    student: str
    status: str  # one of STATUSES
    grades: dict[str, GradeResult] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # tamper-scan findings
    seconds: float = 0.0  # wall clock of this student's notebooks inside nbgrader
    cells: list[dict] = field(default_factory=list)  # per code cell and check: seconds, outcome
    log: str = ""  # tail of nbgrader's log for the batch

    @property
    def scores(self) -> dict[str, float]:
        return {g: r.score for g, r in self.grades.items()}

    def why(self, grade_id: str) -> str:
        """The error its test cell ended with (``ename: evalue``), or "" (passed or not run)."""
        return next((c["error"] for c in self.cells if c.get("grade_id") == grade_id and c.get("error")), "")

    @property
    def total(self) -> float:
        return sum(r.score for r in self.grades.values())

    @property
    def max_total(self) -> float:
        return sum(r.max_score for r in self.grades.values())


def _worst(a: str, b: str) -> str:
    return max(a, b, key=STATUSES.index)


class ScratchCourse:
    """A throw-away copy of a course that autogrades submissions of one assignment.

    ``root``: the course directory (repository root, or ``tests/fixtures/toy_course``).
    ``nbgrader_args``: extra options for ``nbgrader autograde`` (e.g. ``--Execute.timeout=5``).
    ``workers``: nbgrader processes at once, each on its own copy of the course and a share
    of the students (1: one plain batch, exactly as an instructor runs it).
    """

    def __init__(self, root: str | Path, assignment: str, *, nbgrader_args: tuple[str, ...] = (),
                 workers: int = 1, workdir: str | Path | None = None):
        self.root, self.assignment = Path(root).resolve(), assignment
        self.nbgrader_args = tuple(nbgrader_args)
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="autograde-")
        self.workdir = Path(workdir or self._tmp.name)
        self.courses = []
        self.logs: list[str] = []  # nbgrader's whole log of every autograde run, in order
        for i in range(max(1, workers)):
            folder = self.workdir / f"course{i}"
            release = course.generate_in_scratch(self.root, assignment, folder)
            self.courses.append(folder)
        self.course_dir = self.courses[0]
        self.release_dir = self.course_dir / "release" / assignment
        self.notebooks = sorted(p.stem for p in release.glob("*.ipynb"))
        self.release_test_cells = {nb: _grade_cells(nbformat.read(self.release_dir / f"{nb}.ipynb", 4))
                                   for nb in self.notebooks}

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def grade(self, submissions: dict, edits: dict[str, dict[str, bytes | None]] | None = None
              ) -> dict[str, StudentResult]:
        """Autograde ``{student_id: notebook}`` (a path, a notebook node, or for assignments with
        several notebooks ``{notebook_name: path_or_node}``) in one ``nbgrader autograde`` run per
        worker, in the order given. ``edits``: ``{student_id: {relative path: bytes, or None to
        delete}}`` written into the student's submitted folder (a student shipping or deleting files)."""
        edits = edits or {}
        results = {}
        shares: list[list[str]] = [[] for _ in self.courses]
        for i, sid in enumerate(submissions):
            shares[i % len(self.courses)].append(sid)
        for folder, share in zip(self.courses, shares):
            for sid in share:
                results[sid] = self._place(folder, sid, submissions[sid], edits.get(sid, {}))
        with ThreadPoolExecutor(max_workers=len(self.courses)) as pool:
            list(pool.map(lambda job: self._autograde(*job, results), zip(self.courses, shares)))
        return {sid: results[sid] for sid in submissions}

    def _place(self, folder: Path, sid: str, submission, edits: dict) -> StudentResult:
        if not sid or "/" in sid or sid.startswith("."):
            raise ValueError(f"student id {sid!r} must be a plain folder name")
        submitted = folder / "submitted" / sid / self.assignment
        for old in (submitted.parent, folder / "autograded" / sid):
            shutil.rmtree(old, ignore_errors=True)
        submitted.mkdir(parents=True)
        if not isinstance(submission, dict) or "cells" in submission:
            submission = {self.notebooks[0]: submission}
        result = StudentResult(sid, "graded")
        for name, nb in submission.items():
            path = submitted / f"{name}.ipynb"
            if isinstance(nb, bytes):  # a broken file, as uploaded
                path.write_bytes(nb)
                continue
            node = nbformat.read(nb, as_version=4) if isinstance(nb, (str, Path)) else nb
            nbformat.write(node, path)
            self._inspect(node, name, result)
        for rel, content in edits.items():
            path = submitted / rel
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
        for name in self.notebooks:
            if not (submitted / f"{name}.ipynb").is_file():
                result.messages.append(f"{name}.ipynb was not submitted: 0 points for it")
        if result.flags:
            result.status = "flagged"
        return result

    def _inspect(self, nb, name: str, result: StudentResult) -> None:
        """Report edited/deleted test cells and scan the student's own code cells."""
        submitted_tests = _grade_cells(nb)
        for grade_id, source in self.release_test_cells[name].items():
            if grade_id not in submitted_tests:
                result.messages.append(f"{name}: test cell {grade_id} was deleted (or its nbgrader "
                                       "metadata removed): 0 points, flagged for manual grading")
            elif submitted_tests[grade_id] != source:
                result.messages.append(f"{name}: test cell {grade_id} was edited: nbgrader "
                                       "restores the original before running it")
        code = [c for c in nb.cells if c.cell_type == "code"
                and not (_meta(c).get("grade") and not _meta(c).get("solution"))]
        imported = set().union(*(imported_names(c.source) for c in code)) if code else set()
        for cell in code:
            label = _meta(cell).get("grade_id") or cell.get("id") or "?"
            result.flags += [f"{name}: cell {label}: {r}" for r in scan_code(cell.source, imported)]

    def _autograde(self, folder: Path, share: list[str], results: dict) -> None:
        if not share:
            return
        records = folder / "cell-records"
        shutil.rmtree(records, ignore_errors=True)
        args = [sys.executable, "-m", "nbgrader", "autograde", self.assignment, "--force",
                *self.nbgrader_args]
        # students graded by an earlier call in this folder are not graded again
        earlier = sorted(p.name for p in (folder / "submitted").iterdir() if p.name not in share)
        if earlier:
            args.append("--CourseDirectory.student_id_exclude=" + ",".join(earlier))
        env = course.nbgrader_env(self.root, **{REPORT_DIR_ENV: str(records)})
        started = time.monotonic()
        proc = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True,
                              timeout=BATCH_TIME_LIMIT)
        log = proc.stdout + proc.stderr
        self.logs.append(log)
        set_aside = rejections(log)
        for sid in share:
            result = results[sid]
            result.log = log[-8000:]
            self._read_cells(records / sid, result)
            for (student, notebook), why in set_aside.items():
                if student == sid:
                    result.status = _worst(result.status, "rejected")
                    result.messages.append(f"{notebook}.ipynb was set aside, not graded (0 points): {why}")
            if f"for student '{sid}'" in log or f"assignment: {folder}/submitted/{sid}/" in log:
                result.status = _worst(result.status, "crashed")
                result.messages.append("nbgrader could not grade this submission: " + _last_error(log, sid))
            self._read_grades(folder / "gradebook.db", sid, result)
        if proc.returncode != 0 and not any(results[s].status == "crashed" for s in share):
            raise RuntimeError(f"nbgrader autograde failed (exit {proc.returncode}) after "
                               f"{time.monotonic() - started:.0f} s:\n{log[-4000:]}")

    def _read_cells(self, folder: Path, result: StudentResult) -> None:
        for path in sorted(folder.glob("*.json")):
            record = json.loads(path.read_text())
            result.cells += [dict(c, notebook=record["notebook"]) for c in record["cells"]]
            result.seconds += float(record.get("seconds", 0.0))
            if record.get("kernel_died"):
                result.status = _worst(result.status, "kernel died")
                result.messages.append(f"{record['notebook']}: {record['kernel_died']}; "
                                       "no points for that cell or any after it")
            for c in record["cells"]:
                where = f"{record['notebook']}: cell {c['index']} ({c['grade_id'] or 'no grade id'})"
                if c.get("outcome") == "timeout":
                    result.status = _worst(result.status, "timed out")
                    result.messages.append(f"{where} ran past the per-cell time limit and was "
                                           "interrupted: it earns nothing")
                elif c.get("outcome") == "memory":
                    result.messages.append(f"{where} ran out of memory")
                if c.get("truncated"):
                    result.messages.append(f"{where} printed too much: output truncated")

    def _read_grades(self, db: Path, sid: str, result: StudentResult) -> None:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(f"sqlite:///{db}") as gb:
            try:
                submission = gb.find_submission(self.assignment, sid)
            except MissingEntry:
                submission = None
            assignment = gb.find_assignment(self.assignment)
            for notebook in assignment.notebooks:
                for cell in notebook.grade_cells:
                    result.grades[cell.name] = GradeResult(cell.name, notebook.name, 0.0,
                                                           float(cell.max_score), False)
            if submission is None:
                return
            for nb in submission.notebooks:
                for grade in nb.grades:
                    result.grades[grade.name] = GradeResult(
                        grade.name, nb.name, float(grade.score or 0.0), float(grade.max_score),
                        bool(grade.needs_manual_grade))


def _grade_cells(nb) -> dict[str, str]:
    """``{grade_id: source}`` of the autograded test cells (grade, not solution)."""
    out = {}
    for cell in nb.cells:
        meta = _meta(cell)
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            out[meta.get("grade_id")] = cell.source
    return out


def _meta(cell) -> dict:
    """A cell's nbgrader metadata; ``{}`` when a student garbled it (the intake sets such a
    notebook aside, and this report must still be written)."""
    meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
    return meta if isinstance(meta, dict) else {}


def _last_error(log: str, sid: str) -> str:
    lines = [line for line in log.splitlines() if "Error" in line or "error" in line]
    return lines[-1][:300] if lines else log[-300:]


def format_report(results: dict[str, StudentResult]) -> str:
    """A table of scores per grade id (rows) per student (columns), then statuses and messages."""
    if not results:
        return "(no submissions)"
    students = list(results)
    grade_ids = list(dict.fromkeys(g for r in results.values() for g in r.grades))
    width = max([len(g) for g in grade_ids] + [10])
    colw = max([len(s) for s in students] + [9])
    lines = [f"{'grade id':<{width}}  " + "  ".join(f"{s:>{colw}}" for s in students)]
    for g in grade_ids:
        cells = []
        for s in students:
            r = results[s].grades.get(g)
            text = "-" if r is None else f"{r.score:g}/{r.max_score:g}" + ("*" if r.needs_manual_grade else "")
            cells.append(f"{text:>{colw}}")
        lines.append(f"{g:<{width}}  " + "  ".join(cells))
    lines.append(f"{'total':<{width}}  " + "  ".join(
        f"{f'{results[s].total:g}/{results[s].max_total:g}':>{colw}}" for s in students))
    lines.append(f"{'status':<{width}}  " + "  ".join(f"{results[s].status:>{colw}}" for s in students))
    lines.append(f"{'seconds':<{width}}  " + "  ".join(f"{results[s].seconds:>{colw}.1f}" for s in students))
    lines.append("(* needs manual grading)")
    for s in students:
        for m in results[s].messages + [f"FLAG {f}" for f in results[s].flags]:
            lines.append(f"{s}: {m}")
    return "\n".join(lines)


def demo(assignment: str, root: str | Path | None = None) -> str:
    """Autograde complete / partial / blank example submissions in a scratch course and return
    the report table (``python -m reference_solution autograde-demo [ASSIGNMENT]``)."""
    root = Path(root) if root else course.PACKAGE_DIR.parent
    with ScratchCourse(root, assignment) as scratch:
        results = scratch.grade(example_submissions(root, assignment, scratch.release_dir))
    return format_report(results)
