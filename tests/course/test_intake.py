"""One bad notebook file cannot stop the class: tampered files are set aside, everyone else is graded.

One toy-course batch through plain ``nbgrader autograde toy`` (the course's own configuration,
``reference_solution.course.intake.IntakeExporter``): every way of breaking a notebook file we
found nbgrader 0.9 choking on (a duplicate grade id or an edited schema version used to abort the
whole run), a blank and an older-format submission that must still be graded, and complete
submissions sorted after all of them. Then ``--student`` on one tampered notebook, and feedback.
"""

from __future__ import annotations

import copy
import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from reference_solution.course import release as course
from reference_solution.course.autograde import ScratchCourse, StudentResult, example_submissions, format_report
from reference_solution.course.feedback import ALLOW_FLAG
from reference_solution.course.intake import LOG_LINE, CellSpec, inspect_notebook, read_submitted, rejections

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / "tests" / "fixtures" / "toy_course"
MAX_BYTES = 300_000  # the batch's --IntakeExporter.max_bytes (a toy notebook is about 10 kB)
TEST, ANSWER, SOLUTION = "square_returns_x_times_x", "why_square_is_positive", "square_solution"


def _cell(nb: dict, grade_id: str) -> dict:
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def _edit(nb: dict, fn) -> bytes:
    nb = copy.deepcopy(nb)
    fn(nb)
    return json.dumps(nb).encode()


def _set(grade_id: str, key: str, value):
    return lambda nb: _cell(nb, grade_id)["metadata"]["nbgrader"].__setitem__(key, value)


def _retype(grade_id: str, cell_type: str):
    def edit(nb):
        cell = _cell(nb, grade_id)
        cell["cell_type"] = cell_type
        cell.pop("outputs", None), cell.pop("execution_count", None)
        if cell_type == "code":
            cell.update(outputs=[], execution_count=None)
    return edit


def tampered(complete: dict) -> dict[str, tuple[bytes, str]]:
    """``{student id: (file, what its reason must say)}``, each a complete submission broken once."""
    cases = {
        "duplicate_grade_id": (_set("mean_solution", "grade_id", SOLUTION), f"grade id '{SOLUTION}' is on cells"),
        "nbformat_3": (lambda nb: nb.update(nbformat=3), "its nbformat is 3"),
        "nbformat_5": (lambda nb: nb.update(nbformat=5), "its nbformat is 5"),
        "nbformat_99": (lambda nb: nb.update(nbformat=99), "its nbformat is 99"),
        "nbformat_string": (lambda nb: nb.update(nbformat="4"), "its nbformat is '4'"),
        "minor_99": (lambda nb: nb.update(nbformat_minor=99), "its nbformat_minor is 99"),
        "minor_string": (lambda nb: nb.update(nbformat_minor="5"), "its nbformat_minor is '5'"),
        "test_cell_to_markdown": (_retype(TEST, "markdown"), "it is a markdown cell, the assignment's is a code"),
        "answer_cell_to_code": (_retype(ANSWER, "code"), "it is a code cell, the assignment's is a markdown"),
        "points_string": (_set(TEST, "points", "2"), "'2' is not of type 'number'"),
        "no_grade_id": (lambda nb: _cell(nb, TEST)["metadata"]["nbgrader"].pop("grade_id"),
                        "does not have a grade_id"),
        "unknown_grade_id": (_set(TEST, "grade_id", "my_own_test"), "the assignment has no cell with this grade id"),
        "test_cell_marked_solution": (_set(TEST, "solution", True), "marked grade=True, solution=True"),
        "schema_version_2": (_set(TEST, "schema_version", 2), "Outdated schema version: 2"),
        "schema_version_4": (_set(TEST, "schema_version", 4), "Schema version is too new: 4"),
        "schema_version_string": (_set(TEST, "schema_version", "3"), "schema_version is '3'"),
        "nbgrader_metadata_empty": (lambda nb: _cell(nb, TEST)["metadata"].update(nbgrader={}),
                                    "Outdated schema version: 0"),
        "nbgrader_metadata_list": (lambda nb: _cell(nb, TEST)["metadata"].update(nbgrader=[1]),
                                   "nbgrader metadata is a list"),
        "duplicate_cell_id": (lambda nb: nb["cells"][2].update(id=nb["cells"][1]["id"]), "cell id '"),
        "source_not_text": (lambda nb: _cell(nb, SOLUTION).update(source=42), "not a valid notebook at cells/1"),
        "no_cells": (lambda nb: nb.update(cells=[]), "it has no cells"),
        "cells_not_a_list": (lambda nb: nb.update(cells={}), "its 'cells' is an object, not a list"),
        "too_big": (lambda nb: _cell(nb, SOLUTION).update(outputs=[nbformat.v4.new_output(
            "stream", name="stdout", text="x" * MAX_BYTES)]), "the file is over"),
    }
    out = {name: (_edit(complete, fn), why) for name, (fn, why) in cases.items()}
    text = json.dumps(complete)
    out["not_json"] = (b'{"cells": [ this is not json', "the file is not JSON")
    out["nan_points"] = (text.replace('"points": 2', '"points": NaN', 1).encode(), "the file is not JSON (NaN")
    out["not_utf8"] = (text.encode("utf-16"), "not UTF-8")
    out["json_list"] = (b"[1, 2]", "the file is a list in JSON")
    return {f"a{i:02d}_{name}": case for i, (name, case) in enumerate(out.items())}


@dataclass
class Batch:
    results: dict[str, StudentResult]
    cases: dict[str, tuple[bytes, str]]
    log: str  # nbgrader's whole log of the batch
    unchanged: dict[str, bool]  # student -> submitted file still byte for byte what was submitted
    single_log: str  # `nbgrader autograde toy --student <a tampered one>` afterwards
    single: StudentResult
    autograded: dict[str, str]
    feedback: dict[str, str]
    seconds: float


@functools.cache
def batch() -> Batch:
    started = time.monotonic()
    args = ("--Execute.timeout=10", f"--IntakeExporter.max_bytes={MAX_BYTES}")
    with ScratchCourse(TOY, "toy", nbgrader_args=args) as scratch:
        examples = example_submissions(TOY, "toy", scratch.release_dir)
        complete = json.loads(nbformat.writes(examples["complete"]))
        cases = tampered(complete)
        older = copy.deepcopy(complete)  # what an older Jupyter writes: nbformat 4.4, no cell ids
        older["nbformat_minor"] = 4
        for cell in older["cells"]:
            cell.pop("id", None)
        subs = {sid: raw for sid, (raw, _) in cases.items()}
        subs["m_blank"] = nbformat.writes(examples["blank"]).encode()
        subs["m_older_format"] = json.dumps(older).encode()
        subs["zz_complete_0"] = subs["zz_complete_1"] = json.dumps(complete).encode()
        results = scratch.grade(subs)
        folder, env = scratch.course_dir, course.nbgrader_env(TOY)
        sid = next(iter(cases))
        single_log = course.run_nbgrader(["autograde", "toy", "--student", sid, "--force", *args], folder, env)
        single = StudentResult(sid, "graded")
        scratch._read_grades(folder / "gradebook.db", sid, single)
        course.run_nbgrader(["generate_feedback", "toy", "--force", ALLOW_FLAG], folder, env)
        unchanged = {s: (folder / "submitted" / s / "toy" / "toy.ipynb").read_bytes() == raw for s, raw in subs.items()}
        texts = {kind: {s: "\n".join(p.read_text() for p in sorted((folder / kind / s).rglob("*"))
                                     if p.suffix in (".ipynb", ".html")) for s in subs}
                 for kind in ("autograded", "feedback")}
        return Batch(results, cases, scratch.logs[0], unchanged, single_log, single, texts["autograded"],
                     texts["feedback"], time.monotonic() - started)


def _report(b: Batch) -> str:
    return format_report(b.results)


def test_every_tampered_notebook_scores_0_with_its_reason():
    b = batch()
    problems = []
    for sid, (_, why) in b.cases.items():
        result = b.results[sid]
        if result.status != "rejected" or result.total != 0:
            problems.append(f"{sid}: {result.status}, {result.total}/{result.max_total}")
        if any(g.needs_manual_grade for g in result.grades.values()):
            problems.append(f"{sid}: a grade still waits for manual grading")
        if not any(why in m for m in result.messages):
            problems.append(f"{sid}: no {why!r} in {result.messages}")
    assert not problems, "\n".join(problems) + "\n" + _report(b)


def test_everybody_else_is_graded_complete_ones_after_the_tampered_ones_in_full():
    b = batch()
    for sid in ("zz_complete_0", "zz_complete_1", "m_older_format"):
        result = b.results[sid]
        auto = [g for g in result.grades.values() if not g.needs_manual_grade]
        assert result.status == "graded" and len(auto) == 3, _report(b)
        assert all(g.score == g.max_score for g in auto), _report(b)
    blank = b.results["m_blank"]  # a blank notebook is graded (0), never set aside
    assert blank.status == "graded" and blank.total == 0 and not blank.messages, _report(b)


def test_the_reasons_reach_nbgrader_log_and_the_autograded_notebook_and_feedback():
    b = batch()
    found = rejections(b.log)
    for sid, (_, why) in b.cases.items():
        assert why in found.get((sid, "toy"), ""), (sid, sorted(found))
        assert "This notebook was not graded" in b.autograded[sid] and why.split("'")[0] in b.autograded[sid]
        assert "This notebook was not graded" in b.feedback[sid], sid
    assert "the submitted file is kept unchanged" in b.log
    assert "This notebook was not graded" not in b.autograded["zz_complete_0"]


def test_submitted_files_are_never_changed_and_student_option_still_works():
    b = batch()
    assert all(b.unchanged.values()), [s for s, same in b.unchanged.items() if not same]
    sid, (_, why) = next(iter(b.cases.items()))
    assert why in rejections(b.single_log)[(sid, "toy")]
    assert b.single.total == 0 and b.single.max_total == 6


def test_batch_stays_fast():
    # the tampered notebooks start no kernel: four kernels for the whole batch
    assert batch().seconds < 240, batch().seconds


# -- the checks themselves, without nbgrader ------------------------------------------------------

def _specs(path: Path) -> dict[str, CellSpec]:
    """The cells of a source notebook, as the gradebook records them."""
    nb = nbformat.read(path, 4)
    return {c.metadata.nbgrader.grade_id: CellSpec(c.cell_type, bool(c.metadata.nbgrader.get("grade")),
                                                   bool(c.metadata.nbgrader.get("solution")))
            for c in nb.cells if "nbgrader" in c.metadata}


@pytest.mark.parametrize("assignment", course.assignments(REPO))
def test_released_and_solved_notebooks_of_every_assignment_are_accepted(assignment):
    # (the toy's blank and complete notebooks are graded in the batch above). Each against the
    # cells of the notebook nbgrader generated it from, as its gradebook would record them.
    release = REPO / "release" / assignment / f"{assignment}.ipynb"
    source = REPO / "source" / assignment / f"{assignment}.ipynb"
    complete = example_submissions(REPO, assignment, release.parent)["complete"]
    assert inspect_notebook(release.read_bytes(), _specs(release)) == []
    assert inspect_notebook(nbformat.writes(complete).encode(), _specs(source)) == []


def test_a_link_a_folder_and_an_oversized_file_are_not_read(tmp_path):
    other = tmp_path / "other.ipynb"
    other.write_text("{}")
    (tmp_path / "link.ipynb").symlink_to(other)
    (tmp_path / "folder.ipynb").mkdir()
    assert read_submitted(tmp_path / "link.ipynb", 100) == (b"", ["it is a symbolic link"])
    assert read_submitted(tmp_path / "folder.ipynb", 100) == (b"", ["it is not a regular file"])
    assert read_submitted(other, 1)[1][0].startswith("the file is over")
    assert read_submitted(other, 100) == (b"{}", [])


def test_the_log_line_is_read_back_whatever_the_student_id():
    for sid in ("plain", "it's", 'say "hi"'):
        line = "[AutogradeApp | ERROR] " + LOG_LINE.format(student=sid, notebook="toy", why="a; b")
        assert rejections(f"x\n{line}\ny") == {(sid, "toy"): "a; b"}


def test_deeply_nested_json_is_refused_not_crashed():
    assert inspect_notebook(b"[" * 100_000 + b"]" * 100_000)[0].startswith("the file is not JSON")
