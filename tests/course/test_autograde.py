"""The autograder on the toy course: honest work scores, broken and hostile notebooks earn nothing
they did not earn honestly, and the rest of the batch is still graded.

One scratch course for the module; every case is one student of a single batch (one plain
``nbgrader autograde`` run), so the whole file costs about one kernel start per student. The
catalogue of tricks aimed at the grading machinery itself is in ``test_hostile.py``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from reference_solution.course import release as course_module
from reference_solution.course.autograde import (
    ScratchCourse,
    apply_mutation,
    example_submissions,
    fill_release_with_solutions,
    format_report,
)
from reference_solution.course.tamper_scan import scan_code

TOY = Path(__file__).resolve().parents[1] / "fixtures" / "toy_course"
SQUARE, MEAN, COUNT, WRITTEN = ("square_returns_x_times_x", "mean_is_the_average",
                                "count_words_splits_on_whitespace", "why_square_is_positive")
FULL = {SQUARE: 2.0, MEAN: 1.0, COUNT: 2.0, WRITTEN: 0.0}  # the written answer is graded by hand

GOOD = {
    "square_solution": "def square(x):\n    return x * x",
    "mean_solution": "def mean(xs):\n    return sum(xs) / len(xs)",
    "count_solution": "def count_words(text):\n    return len(text.split())",
}


# acknowledge_timeout below the cell timeout, so that both the deaf kernel (stopped within 3 s)
# and the endless loop (started, so left to its 5 s timeout) exercise the acknowledgement rule
TOY_ARGS = ("--Execute.timeout=5", "--GradingExecute.unresponsive_grace=3",
            "--GradingExecute.acknowledge_timeout=3",
            f"--GradingExecute.memory_limit={2**30}")


@pytest.fixture(scope="module")
def scratch():
    with ScratchCourse(TOY, "toy", nbgrader_args=TOY_ARGS, workers=2) as course:
        yield course


def autograded_path(scratch, sid: str):
    """Where a student's autograded notebook is (students are shared out among the workers)."""
    paths = [c / "autograded" / sid / "toy" / "toy.ipynb" for c in scratch.courses]
    return next(p for p in paths if p.is_file())


def submission(scratch, **cells):
    """The release with the good solutions, some cells replaced (keyword = solution grade id)."""
    return fill_release_with_solutions(TOY, "toy", {**GOOD, **cells}, release_dir=scratch.release_dir)


def without_test_cell(nb, grade_id):
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def with_test_cell_source(nb, grade_id, source):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
    return nb


HOSTILE = {
    # name: (cells, edits, expected scores, expected status, words in the messages)
    "infinite_loop": ({"mean_solution": "def mean(xs):\n    while True:\n        pass"}, None,
                      {SQUARE: 2, MEAN: 0, COUNT: 2}, "timed out", ["time limit"]),
    # ipykernel resets SIGINT before each cell, so the loop must sit in the cell that ignores it
    "ignores_interrupt": ({"mean_solution": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                            "while True:\n    pass"}, None,
                          {SQUARE: 2, MEAN: 0, COUNT: 0}, "kernel died", ["ignored the interrupt"]),
    # the cell that breaks the kernel's message parsing runs; the next is never started
    "deaf_kernel": ({"mean_solution": "get_ipython().kernel.session.unpack = lambda *a, **k: {}\n"
                                      "def mean(xs):\n    return sum(xs) / len(xs)"}, None,
                    {SQUARE: 2, MEAN: 0, COUNT: 0}, "kernel died", ["did not start the cell"]),
    "os_exit": ({"mean_solution": "import os\nos._exit(0)"}, None,
                {SQUARE: 2, MEAN: 0, COUNT: 0}, "kernel died", ["kernel died"]),
    "segfault": ({"count_solution": "import ctypes\nctypes.string_at(0)"}, None,
                 {SQUARE: 2, MEAN: 1, COUNT: 0}, "kernel died", ["kernel died"]),
    "memory_bomb": ({"mean_solution": "def mean(xs):\n    hoard = []\n    while True:\n"
                                      "        hoard.append(bytearray(64 * 2**20))"}, None,
                    {SQUARE: 2, MEAN: 0}, None, ["out of memory"]),
    "huge_output": ({"square_solution": "for i in range(20_000):\n    print('spam ' * 40)\n"
                                        "def square(x):\n    return x * x"}, None,
                    {SQUARE: 2, MEAN: 1, COUNT: 2}, "graded", ["truncated"]),
    "patched_helpers": ({"square_solution": "import warnings\nimport coursekit.toyhelp as th\n"
                                            "th.assert_equal = lambda *a, **k: None\n"
                                            "warnings.warn = lambda *a, **k: None\n"
                                            "def square(x):\n    return x + x"}, None,
                        {SQUARE: 0, MEAN: 1, COUNT: 2}, "flagged", []),
    "eq_always_true": ({"square_solution": "class Yes:\n    def __eq__(self, other):\n        return True\n"
                                           "def square(x):\n    return Yes()"}, None,
                       {SQUARE: 0, MEAN: 1, COUNT: 2}, "graded", []),
    # the kernel gets the release's support files, whatever the student shipped or deleted
    "sabotaged_helper": ({}, {"coursekit/toyhelp.py": b"def assert_equal(got, expected):\n"
                                                      b"    raise AssertionError('sabotaged')\n"},
                         {SQUARE: 2, MEAN: 1, COUNT: 2}, "graded", []),
    "deleted_helper": ({}, {"coursekit/toyhelp.py": None},
                       {SQUARE: 2, MEAN: 1, COUNT: 2}, "graded", []),
    "shadowing_files": ({"square_solution": "def square(x):\n    return 0",
                         "mean_solution": "def mean(xs):\n    return 0",
                         "count_solution": "def count_words(text):\n    return 0"},
                        {"toy_checks.py": b"CHECKS = []\n", "coursekit/toyhelp.py": b"def assert_equal(*a):\n    pass\n",  # noqa: E501
                         "reference_solution/grading/__init__.py": b"def check(name):\n    pass\n"},
                        {SQUARE: 0, MEAN: 0, COUNT: 0}, "graded", []),
}


@pytest.fixture(scope="module")
def graded(scratch):
    examples = example_submissions(TOY, "toy", scratch.release_dir)
    subs = {"reference": examples["complete"], "blank": examples["blank"], "partial": examples["partial"],
            "filled_release": submission(scratch)}
    edits = {}
    for name, (cells, edit, *_rest) in HOSTILE.items():
        subs[name] = submission(scratch, **cells)
        if edit:
            edits[name] = edit
    wrong = {"square_solution": "def square(x):\n    return x + x"}
    subs["edited_test"] = with_test_cell_source(submission(scratch, **wrong), SQUARE, "pass")
    subs["deleted_test"] = without_test_cell(submission(scratch), COUNT)
    results = scratch.grade(subs, edits=edits)
    print(format_report(results))
    return results


def test_reference_gets_full_marks_and_blank_gets_zero(graded):
    for who in ("reference", "filled_release"):
        assert graded[who].scores == FULL, format_report(graded)
        assert graded[who].status == "graded"
        assert graded[who].grades[WRITTEN].needs_manual_grade
    assert graded["blank"].total == 0
    assert all(not g.needs_manual_grade for g in graded["blank"].grades.values())
    assert graded["partial"].scores[SQUARE] == 2 and graded["partial"].scores[COUNT] == 0


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_notebook_earns_only_what_it_earned(graded, name):
    _cells, _edits, expected, status, words = HOSTILE[name]
    result = graded[name]
    report = format_report({name: result}) + "\n" + result.log[-2000:]
    for grade_id, points in expected.items():
        assert result.scores[grade_id] == points, report
    if status is not None:
        assert result.status == status, report
    text = "\n".join(result.messages)
    for word in words:
        assert word in text, report


def test_rest_of_the_batch_is_graded_after_catastrophes(graded):
    # students graded after the kernel deaths and timeouts still get their full marks
    assert graded["huge_output"].scores == FULL
    assert graded["deleted_helper"].scores == FULL


def test_memory_bomb_is_reported_and_contained(graded):
    result = graded["memory_bomb"]
    assert result.status in ("graded", "kernel died"), format_report({"m": result})
    assert result.scores[MEAN] == 0


def test_huge_output_does_not_bloat_the_autograded_notebook(scratch, graded):
    path = autograded_path(scratch, "huge_output")
    assert path.stat().st_size < 300_000
    assert "truncated" in path.read_text()


def test_tampering_is_flagged_not_zeroed(graded):
    result = graded["patched_helpers"]
    flags = "\n".join(result.flags)
    assert "th.assert_equal" in flags and "warnings.warn" in flags
    assert result.scores[MEAN] == 1  # the honest parts keep their points
    assert graded["ignores_interrupt"].flags and graded["os_exit"].flags and graded["segfault"].flags
    assert not graded["reference"].flags and not graded["eq_always_true"].flags


def test_edited_test_cell_is_restored_by_nbgrader(scratch, graded):
    result = graded["edited_test"]
    # the wrong square would have earned 2 points if the `pass` the student left had run
    assert result.scores[SQUARE] == 0 and result.scores[MEAN] == 1
    assert any("test cell square_returns_x_times_x was edited" in m for m in result.messages)
    autograded = nbformat.read(autograded_path(scratch, "edited_test"), 4)
    restored = [c.source for c in autograded.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == SQUARE][0]
    assert 'check("square_returns_x_times_x")' in restored  # the hidden test is back


def test_deleted_test_cell_earns_zero_and_is_reported(scratch, graded):
    result = graded["deleted_test"]
    assert result.scores[COUNT] == 0 and result.grades[COUNT].needs_manual_grade
    assert result.scores[SQUARE] == 2 and result.scores[MEAN] == 1
    assert any("count_words_splits_on_whitespace was deleted" in m for m in result.messages)
    autograded = nbformat.read(autograded_path(scratch, "deleted_test"), 4)
    assert COUNT not in [c.metadata.get("nbgrader", {}).get("grade_id") for c in autograded.cells]


def test_report_table_lists_every_grade_and_student(graded):
    table = format_report({k: graded[k] for k in ("reference", "blank")})
    assert SQUARE in table and "reference" in table and "blank" in table and "5/6" in table


def test_report_says_why_a_check_failed(graded):
    """A lost point comes with the error its test cell ended with; a passed cell has none."""
    assert graded["reference"].why(SQUARE) == ""
    assert graded["blank"].why(SQUARE).startswith("NotImplementedError"), graded["blank"].cells


def test_notebook_time_limit_stops_a_student(scratch, graded):
    nb = submission(scratch, mean_solution="import time\ntime.sleep(3)\nwhile True:\n    pass")
    saved = scratch.nbgrader_args
    scratch.nbgrader_args = saved + ("--GradingExecute.notebook_time_limit=4",)
    try:
        result = scratch.grade({"slow": nb})["slow"]
    finally:
        scratch.nbgrader_args = saved
    assert result.total == 0 or result.scores[SQUARE] == 2, format_report({"slow": result})
    assert result.scores[MEAN] == 0 and result.scores[COUNT] == 0
    assert any("time limit" in m for m in result.messages), format_report({"slow": result})


# --- no nbgrader needed ------------------------------------------------------------------------

def test_apply_mutation_raises_when_the_target_is_gone():
    assert apply_mutation("return x * x", "x * x", "x + x") == "return x + x"
    with pytest.raises(ValueError, match="not found"):
        apply_mutation("return x * x", "x ** 2", "x")


def test_fill_release_rejects_unknown_cells(scratch):
    with pytest.raises(KeyError, match="no solution cells"):
        fill_release_with_solutions(TOY, "toy", {"nope": "x"}, release_dir=scratch.release_dir)
    nb = fill_release_with_solutions(TOY, "toy", release_dir=scratch.release_dir)
    text = "\n".join(c.source for c in nb.cells)
    assert "return x * x" in text and "BEGIN SOLUTION" not in text and "NotImplementedError" not in text


@pytest.mark.parametrize("code, word", [
    ("import reference_solution.score_matching as s", "reference_solution"),
    ("import sys\nsys.modules['x'] = None", "sys.modules"),
    ("import builtins\nbuiltins.abs = lambda x: 0", "builtins"),
    ("__builtins__.len = None", "__builtins__"),
    ("import os\nos._exit(0)", "os._exit"),
    ("get_ipython().input_transformers_cleanup.append(lambda l: [])", "get_ipython"),
    ("import numpy as np\nnp.allclose = lambda *a, **k: True", "np.allclose"),
    ("import plotting\nsetattr(plotting, 'show', None)", "setattr"),
])
def test_scan_flags_tampering(code, word):
    assert any(word in reason for reason in scan_code(code)), scan_code(code)


@pytest.mark.parametrize("code", [
    "import torch\ntorch.backends.cudnn.benchmark = True\nx = torch.zeros(3)",
    "signal_power = 3\n# reference_solution in a comment is fine",
    "def f(model):\n    model.weight = None\n    return model",
])
def test_scan_passes_ordinary_code(code):
    assert scan_code(code) == []


# --- the real assignments (slow: they train small models) ----------------------------------------

REPO = Path(__file__).resolve().parents[2]
REAL = course_module.assignments(REPO, editions=False)


def _test_cells(nb) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("grade")]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", REAL)
def test_real_assignment_reference_full_blank_zero_and_early_death(assignment):
    from course_batch import real_batch

    batch = real_batch(assignment)
    results = batch.results
    release = nbformat.read(REPO / "release" / assignment / f"{assignment}.ipynb", 4)
    tests = _test_cells(release)
    report = format_report({k: results[k] for k in ("zz_complete_0", "blank", "dies_early")})
    complete, blank, dies = results["zz_complete_0"], results["blank"], results["dies_early"]
    assert complete.status == "graded", report
    for grade_id in tests:
        assert complete.grades[grade_id].score == complete.grades[grade_id].max_score, (
            f"{report}\nzz_complete_0 lost {grade_id}: {complete.why(grade_id)}")
    assert blank.total == 0, report
    assert dies.status == "kernel died" and dies.flags, report
    assert sum(dies.scores[g] for g in tests) == 0, report  # died before the first test cell
    # figures are kept whatever backend the grader's shell sets (.ci/run exports MPLBACKEND=Agg)
    assert '"image/png"' in batch.autograded["zz_complete_0"], "the autograded notebook kept no figure"
    # every visible test fails on blank work in the student's kernel too (not only the hidden checks)
    blank_nb = nbformat.reads(batch.autograded["blank"], 4)
    for cell in blank_nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in tests:
            kernel_errors = [o for o in cell.outputs if o.get("output_type") == "error"
                             and not (o.get("traceback") or [""])[0].startswith("Hidden check failed")]
            assert kernel_errors, f"the visible test of {cell.metadata.nbgrader.grade_id} passes on blank work"
