"""The autograder, hardened: nbgrader's ``autograde``, one isolated subprocess per student.

nbgrader runs student code in a kernel with no sandbox. ``ScratchCourse`` wraps it:

- a scratch copy of the course (``nbgrader_config.py`` + ``source/<assignment>``) with its own
  gradebook, generated once and reused by every ``grade`` call; each student is graded against
  a private copy of that gradebook, so a crash cannot corrupt anyone else's grades;
- before autograding, the student's folder gets the *release's* support files back (edited or
  deleted ones are replaced and reported) and unexpected files are removed (a student's
  ``numpy.py`` or ``toy_grading.py`` would shadow the real module), so grading never trusts
  student-supplied support code;
- ``nbgrader autograde <a> --student <id>`` runs in its own process session with a wall-clock
  limit and a memory rlimit inherited by the kernel; inside it ``sandbox.GuardedExecute`` turns
  a timeout into a failed cell, kernel death into failed later cells, and caps output;
- test cells edited by the student are restored from the gradebook by nbgrader (reported); a
  deleted test cell is not put back (``OverwriteCells.add_missing_cells = False``): it scores 0,
  nbgrader marks it "needs manual grade", and the report names it;
- a static scan of the student's non-test code cells flags tampering (``sandbox.SUSPICIOUS``,
  monkeypatching imported modules). Policy: a flagged submission is still graded normally and
  gets status ``flagged`` with the reasons; it is not zeroed automatically: the instructor reads
  the notebook and decides.

Rules for check writers (``reference_solution/grading``), because the checks run in the same
kernel as student code:

- load checks with ``grading.fresh(name)``, never ``import``: a patched module is not reused;
- compare plain ``float``/``bool``/``int`` values built from the student's results
  (``float(x)``, ``x.item()``, ``torch.equal`` on tensors you checked with ``type(t) is
  torch.Tensor``), never ``student_obj == expected``: an object whose ``__eq__`` always says yes
  would pass;
- a test cell must not end in an expression (nbgrader reads a number shown by the last line as
  partial credit) and must write nothing to stderr (nbgrader then scores it 0).

Limits not covered: a kernel running as root can raise its own rlimits; obfuscated tampering
(``getattr(__import__(...))`` built from strings) may escape the static scan. Run grading as an
unprivileged user in a container for real classes.
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

from . import course
from .submissions import (apply_mutation, example_submissions,  # noqa: F401  (re-exported)
                          fill_release_with_solutions)
from .sandbox import REPORT_DIR_ENV, imported_names, kill_tree, limit_memory, scan_code

__all__ = ["ScratchCourse", "StudentResult", "GradeResult", "format_report", "demo",
           "fill_release_with_solutions", "apply_mutation", "example_submissions"]

DEFAULT_MEMORY_LIMIT = 8 * 2**30  # bytes of data memory per student (nbgrader + kernel)
DEFAULT_STUDENT_TIME_LIMIT = 1800.0  # seconds of wall clock per student, all cells together
STATUSES = ("graded", "flagged", "timed out", "kernel died", "crashed")  # worst last


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
    seconds: float = 0.0
    cells: list[dict] = field(default_factory=list)  # per code cell: seconds, outcome
    log: str = ""  # tail of nbgrader's log

    @property
    def scores(self) -> dict[str, float]:
        return {g: r.score for g, r in self.grades.items()}

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
    ``cell_timeout``: seconds per cell (None: ``nbgrader_config.py``'s). ``memory_limit``:
    bytes (None: no limit; needed with CUDA). ``student_time_limit``: wall-clock seconds per
    student. ``workers``: students graded at once. ``nbgrader_args``: extra options for
    ``nbgrader autograde`` (e.g. ``--GuardedExecute.unresponsive_grace=3``).
    """

    def __init__(self, root: str | Path, assignment: str, *, cell_timeout: int | None = None,
                 memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
                 student_time_limit: float = DEFAULT_STUDENT_TIME_LIMIT, workers: int = 2,
                 nbgrader_args: tuple[str, ...] = (), workdir: str | Path | None = None):
        self.root, self.assignment = Path(root).resolve(), assignment
        self.cell_timeout, self.memory_limit = cell_timeout, memory_limit
        self.student_time_limit, self.workers = student_time_limit, workers
        self.nbgrader_args = tuple(nbgrader_args)
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="autograde-")
        self.workdir = Path(workdir or self._tmp.name)
        self.course_dir = self.workdir / "course"
        self.release_dir = course.generate_in_scratch(self.root, assignment, self.course_dir)
        self.notebooks = sorted(p.stem for p in self.release_dir.glob("*.ipynb"))
        self.support_files = {p.relative_to(self.release_dir): p.read_bytes()
                              for p in self.release_dir.rglob("*")
                              if p.is_file() and p.suffix != ".ipynb"}
        self.release_test_cells = {nb: _grade_cells(nbformat.read(self.release_dir / f"{nb}.ipynb", 4))
                                   for nb in self.notebooks}

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- one call grades a batch ----------------------------------------------------------------

    def grade(self, submissions: dict, edits: dict[str, dict[str, bytes | None]] | None = None
              ) -> dict[str, StudentResult]:
        """Autograde ``{student_id: notebook}`` (a path, a notebook node, or for assignments with
        several notebooks ``{notebook_name: path_or_node}``). ``edits``: ``{student_id:
        {relative path: new bytes, or None to delete}}`` applied to the student's folder after
        the release's support files are placed (a student editing or deleting a helper)."""
        edits = edits or {}
        prepared = {sid: self._prepare(sid, nb, edits.get(sid, {})) for sid, nb in submissions.items()}
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            futures = {sid: pool.submit(self._autograde, sid, pre) for sid, pre in prepared.items()}
            return {sid: fut.result() for sid, fut in futures.items()}

    def _student_dirs(self, sid: str) -> tuple[Path, Path, Path]:
        return (self.course_dir / "submitted" / sid / self.assignment,
                self.course_dir / "autograded" / sid / self.assignment,
                self.workdir / "students" / sid)

    def _prepare(self, sid: str, submission, edits: dict[str, bytes | None]) -> StudentResult:
        if not sid or "/" in sid or sid.startswith("."):
            raise ValueError(f"student id {sid!r} must be a plain folder name")
        submitted, autograded, private = self._student_dirs(sid)
        for folder in (submitted.parent, autograded.parent, private):
            shutil.rmtree(folder, ignore_errors=True)
        submitted.mkdir(parents=True)
        private.mkdir(parents=True)
        if not isinstance(submission, dict) or "cells" in submission:
            submission = {self.notebooks[0]: submission}
        for name, nb in submission.items():
            node = nbformat.read(nb, as_version=4) if isinstance(nb, (str, Path)) else nb
            nbformat.write(node, submitted / f"{name}.ipynb")
        for rel, content in self.support_files.items():
            (submitted / rel).parent.mkdir(parents=True, exist_ok=True)
            (submitted / rel).write_bytes(content)
        for rel, content in edits.items():
            path = submitted / rel
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
        result = StudentResult(sid, "graded")
        result.messages += self.restore_support(submitted)
        for name in self.notebooks:
            path = submitted / f"{name}.ipynb"
            if path.is_file():
                self._inspect(nbformat.read(path, as_version=4), name, result)
            else:
                result.messages.append(f"{name}.ipynb was not submitted: 0 points for it")
        if result.flags:
            result.status = "flagged"
        return result

    def restore_support(self, submitted: Path) -> list[str]:
        """Put the release's support files back in a student's folder; remove unexpected files."""
        messages = []
        for rel, content in self.support_files.items():
            path = submitted / rel
            if not path.is_file():
                messages.append(f"support file {rel} was deleted: restored from the release")
            elif path.read_bytes() != content:
                messages.append(f"support file {rel} was edited: replaced by the release version")
            else:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        expected = set(self.support_files) | {Path(f"{nb}.ipynb") for nb in self.notebooks}
        for path in sorted(submitted.rglob("*"), reverse=True):
            rel = path.relative_to(submitted)
            if path.is_file() and rel not in expected:
                messages.append(f"unexpected file {rel} removed before grading")
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        return messages

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
                and not (c.metadata.get("nbgrader", {}).get("grade")
                         and not c.metadata.get("nbgrader", {}).get("solution"))]
        imported = set().union(*(imported_names(c.source) for c in code)) if code else set()
        for cell in code:
            label = cell.metadata.get("nbgrader", {}).get("grade_id") or cell.get("id") or "?"
            result.flags += [f"{name}: cell {label}: {r}" for r in scan_code(cell.source, imported)]

    # -- the per-student subprocess ---------------------------------------------------------------

    def _autograde(self, sid: str, result: StudentResult) -> StudentResult:
        submitted, autograded, private = self._student_dirs(sid)
        db = private / "gradebook.db"
        shutil.copy2(self.course_dir / "gradebook.db", db)
        args = [sys.executable, "-m", "nbgrader", "autograde", self.assignment, "--student", sid,
                "--force", f"--CourseDirectory.db_url=sqlite:///{db}"]
        if self.cell_timeout is not None:
            args.append(f"--Execute.timeout={int(self.cell_timeout)}")
        args += self.nbgrader_args
        env = course.nbgrader_env(self.root, **{REPORT_DIR_ENV: str(private / "cells")})
        started = time.monotonic()
        with open(private / "nbgrader.log", "w+") as log:
            proc = subprocess.Popen(args, cwd=self.course_dir, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=limit_memory(self.memory_limit))
            try:
                proc.wait(timeout=self.student_time_limit)
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid)
                proc.wait()
                result.status = _worst(result.status, "timed out")
                result.messages.append(f"grading stopped after {self.student_time_limit:.0f} s "
                                       "(wall-clock limit per student): no scores recorded")
            log.seek(0)
            result.log = log.read()[-6000:]
        result.seconds = round(time.monotonic() - started, 2)
        self._read_cells(private / "cells", result)
        ok = proc.returncode == 0 and all((autograded / f"{n}.ipynb").is_file()
                                          for n in self.notebooks if (submitted / f"{n}.ipynb").is_file())
        if proc.returncode != 0 and result.status != "timed out":
            result.status = _worst(result.status, "crashed")
            result.messages.append(f"nbgrader autograde failed (exit {proc.returncode}); "
                                   "see .log: " + _last_error(result.log))
        self._read_grades(db, sid, result)
        if not ok:
            for g in result.grades.values():
                g.score = 0.0
        return result

    def _read_cells(self, folder: Path, result: StudentResult) -> None:
        for path in sorted(folder.glob("*.json")):
            record = json.loads(path.read_text())
            result.cells += [dict(c, notebook=record["notebook"]) for c in record["cells"]]
            if record.get("kernel_died"):
                result.status = _worst(result.status, "kernel died")
                result.messages.append(f"{record['notebook']}: {record['kernel_died']}; "
                                       "no points for that cell or any after it")
            for c in record["cells"]:
                where = f"{record['notebook']}: cell {c['index']} ({c['grade_id'] or 'no grade id'})"
                if c["outcome"] == "timeout":
                    result.status = _worst(result.status, "timed out")
                    result.messages.append(f"{where} ran past the per-cell time limit and was "
                                           "interrupted: it earns nothing")
                elif c["outcome"] == "memory":
                    result.messages.append(f"{where} ran out of memory (limit "
                                           f"{(self.memory_limit or 0) / 2**30:.1f} GiB)")
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
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            out[meta.get("grade_id")] = cell.source
    return out


def _last_error(log: str) -> str:
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


def demo(assignment: str, root: str | Path | None = None, *, cell_timeout: int | None = None
         ) -> str:
    """Autograde complete / partial / blank example submissions in a scratch course and return
    the report table (``python -m reference_solution autograde-demo [ASSIGNMENT]``)."""
    root = Path(root) if root else course.PACKAGE_DIR.parent
    with ScratchCourse(root, assignment, cell_timeout=cell_timeout) as scratch:
        results = scratch.grade(example_submissions(root, assignment, scratch.release_dir))
    return format_report(results)
