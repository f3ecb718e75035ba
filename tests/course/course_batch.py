"""One graded batch per assignment, shared by every test that needs the real pipeline.

An instructor grades a whole class with one ``nbgrader autograde <a>`` run; so does this module:
a complete submission, a blank one, one whose kernel dies early, every hostile trick on a blank
notebook, a broken notebook file, the forger catalogue (stacked into a few blank notebooks), a
spread of catalogued mutants and valid alternatives, and a
complete submission at the end of every worker's share (nbgrader grades students in sorted id
order, so ``zz_*`` comes last). ``nbgrader generate_feedback`` runs on the result too. Grading
the batch once keeps the suite's cost to about one notebook run per student.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from reference_solution.course import release as course
from reference_solution.course.autograde import ScratchCourse, StudentResult, example_submissions
from reference_solution.course.feedback import ALLOW_FLAG
from reference_solution.course.notebook_namespace import solution_cells
from reference_solution.course.sandbox import availability
from reference_solution.course.submissions import apply_mutation, fill_release_with_solutions

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "grading"))
sys.path.insert(0, str(REPO / "tests" / "course"))
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "toy_course"))
import mutants_score_matching  # noqa: E402
import mutants_wgan  # noqa: E402
from forger_catalogue import notebooks as forger_notebooks  # noqa: E402
from hostile_catalogue import TRICKS  # noqa: E402

# A grader's shell with a non-interactive backend (as .ci/run exports): the jailed kernel must
# still keep the notebooks' figures.
os.environ["MPLBACKEND"] = "Agg"
CATALOGUES = {"score_matching": mutants_score_matching, "wgan_anomalies": mutants_wgan}
# How many of each catalogue go through nbgrader (every mutant also runs in process, fast).
PIPELINE_MUTANTS = {"score_matching": 2, "wgan_anomalies": 2}
PIPELINE_VALID = {"score_matching": 1, "wgan_anomalies": 1}
WORKERS = 2
# Every trick runs through nbgrader on the toy course and on score_matching. wgan_anomalies (the
# costliest notebook to grade) takes the first variant of every category plus the tricks aimed at
# its probes; HOSTILE_ALL_TRICKS=1 runs the whole catalogue there too (docs/SECURITY.md: what runs
# where). Its notebooks share the executor, the jail and the protocol with score_matching's.
PROBE_TRICKS = {"event_hook_forges_probe_results", "hook_prints_what_the_grader_sends",
                "kills_the_kernel_when_a_check_starts", "patches_numpy_and_torch_comparisons"}


# Hostile tricks and forgers are student code written to do harm: they are graded only inside the
# jail. Without bubblewrap the course grades unjailed ("auto"), and a trick would write into this
# checkout (seen: "# pwned" appended to nbgrader_config.py); the batch then holds only honest
# notebooks, and test_hostile and test_forgers skip with the reason.
JAILED, NO_JAIL_REASON = availability()


def trick_runs_here(assignment: str, trick) -> bool:
    if not JAILED:
        return False
    if assignment != "wgan_anomalies" or os.environ.get("HOSTILE_ALL_TRICKS") == "1":
        return True
    first_of_category = next(t for t in TRICKS if t.category == trick.category) is trick
    return first_of_category or trick.name in PROBE_TRICKS


def spread(items: list, n: int) -> list:
    """``n`` items spread evenly over a catalogue, so every part of the notebook is covered."""
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def with_trick(nb, code: str):
    nb = nbformat.from_dict(nb)
    nb.cells.insert(0, nbformat.v4.new_code_cell(code))
    return nb


def fingerprint(folder: Path) -> dict[str, str]:
    """Hashes of the course files a student must not change."""
    files = [folder / "nbgrader_config.py", *sorted((folder / "source").rglob("*")),
             *sorted((folder / "release").rglob("*"))]
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in files if p.is_file() and "__pycache__" not in p.parts}


@dataclass
class Batch:
    assignment: str
    results: dict[str, StudentResult]
    cases: dict[str, object]  # sid -> Mutant / Trick / description
    before: list[dict]
    after: list[dict]
    autograded: dict[str, str]  # sid -> text of the autograded notebook(s)
    feedback: dict[str, str]  # sid -> text of the feedback HTML
    courses: list[Path]


def submissions(root: Path, assignment: str, release_dir: Path, *, catalogue=None) -> tuple[dict, dict]:
    examples = example_submissions(root, assignment, release_dir)
    subs, cases = {}, {}
    subs["blank"] = examples["blank"]  # the complete submissions are the zz_ ones, graded last
    release = nbformat.read(release_dir / f"{assignment}.ipynb", 4)
    first = [c for c in release.cells if c.cell_type == "code"
             and c.metadata.get("nbgrader", {}).get("solution")][0].metadata["nbgrader"]["grade_id"]
    subs["dies_early"] = fill_release_with_solutions(root, assignment, {first: "import os\nos._exit(1)"},
                                                     release_dir=release_dir)
    for i, trick in enumerate(TRICKS):
        if not trick_runs_here(assignment, trick):
            continue
        sid = f"h{i:02d}_{trick.name}"[:60]
        subs[sid], cases[sid] = with_trick(examples["blank"], trick.code), trick
    subs["h99_broken_notebook_file"] = b'{"cells": [ this is not json'
    if catalogue is not None and JAILED:  # the forger catalogue, stacked: one forger per family in a notebook
        for i, book in enumerate(forger_notebooks(assignment)):
            nb = nbformat.from_dict(examples["blank"])
            fills = {g: src for forger in book for g, src in forger.fills.items()}
            for cell in nb.cells:
                if cell.metadata.get("nbgrader", {}).get("grade_id") in fills:
                    cell.source = fills[cell.metadata["nbgrader"]["grade_id"]]
            for forger in reversed(book):
                nb = with_trick(nb, forger.code)
            subs[f"f{i:02d}_forgers"], cases[f"f{i:02d}_forgers"] = nb, book
    if catalogue is not None:
        solutions = solution_cells(assignment, root)
        chosen = [(f"mutant{i:02d}", m) for i, m in enumerate(spread(catalogue.MUTANTS, PIPELINE_MUTANTS[assignment]))]
        chosen += [(f"valid{i:02d}", v) for i, v in enumerate(spread(catalogue.VALID, PIPELINE_VALID[assignment]))]
        for sid, case in chosen:
            code = apply_mutation(solutions[case.cell_grade_id], case.old, case.new)
            subs[sid] = fill_release_with_solutions(root, assignment, {case.cell_grade_id: code},
                                                    release_dir=release_dir)
            cases[sid] = case
    for i in range(WORKERS):  # graded last by every worker: nobody before may have hurt them
        subs[f"zz_complete_{i}"] = examples["complete"]
    return subs, cases


def grade_batch(root: Path, assignment: str, *, args: tuple = (), catalogue=None) -> Batch:
    with ScratchCourse(root, assignment, nbgrader_args=args, workers=WORKERS,
                       workdir=None) as scratch:
        subs, cases = submissions(root, assignment, scratch.release_dir, catalogue=catalogue)
        # the zz_ students must be the last of each worker's share: deal them out last
        order = sorted(subs, key=lambda s: s.startswith("zz_"))
        ordered = {sid: subs[sid] for sid in order}
        before = [fingerprint(c) for c in scratch.courses]
        results = scratch.grade(ordered)
        after = [fingerprint(c) for c in scratch.courses]
        for folder in scratch.courses:
            course.run_nbgrader(["generate_feedback", assignment, "--force", ALLOW_FLAG], folder,
                                course.nbgrader_env(root))
        autograded = {sid: "\n".join(p.read_text() for c in scratch.courses
                                     for p in (c / "autograded" / sid).rglob("*.ipynb"))
                      for sid in subs}
        feedback = {sid: "\n".join(p.read_text() for c in scratch.courses
                                   for p in (c / "feedback" / sid).rglob("*.html"))
                    for sid in subs}
        return Batch(assignment, results, cases, before, after, autograded, feedback,
                     list(scratch.courses))


@functools.cache
def real_batch(assignment: str) -> Batch:
    """The graded batch of a course assignment (once per test session)."""
    return grade_batch(REPO, assignment, args=("--Execute.timeout=120",),
                       catalogue=CATALOGUES.get(assignment))


@functools.cache
def toy_batch() -> Batch:
    return grade_batch(REPO / "tests" / "fixtures" / "toy_course", "toy", args=("--Execute.timeout=10",))
