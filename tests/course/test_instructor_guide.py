"""The README's instructor commands, word for word, in a scratch copy of the course.

The walk-through block of the README (between ``<!-- instructor-walkthrough -->`` markers) is run
line by line in a copy of the course's tracked files; between ``fetch_assignment`` and ``submit``
a student fills the fetched notebook with the reference solution. Then: the source validates,
the blank release fails every test with no stray "treating output as full credit" warning, the
student gets every autograded point, feedback hides the hidden region, both exports are written
(the per-grade-id one marks the written answers pending), and the formgrader answers where the
README says it does.
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from reference_solution.course.submissions import fill_release_with_solutions

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "score_matching"


def walkthrough() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- instructor-walkthrough -->\s*```bash\n(.*?)```", text, flags=re.S)
    assert block, "the README lost its instructor walk-through block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def tracked_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True,
                           check=True).stdout.split()
    for rel in files:
        if rel.startswith(("source/", "release/", "reference_solution/")) or rel == "nbgrader_config.py":
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, target)
    return dest


def run(line: str, cwd: Path, env: dict) -> str:
    done = subprocess.run(shlex.split(line.replace("python ", f"{sys.executable} ", 1)), cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1200)
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"`{line}` failed (exit {done.returncode}):\n{log[-4000:]}"
    return log


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tracked_copy(tmp_path_factory.mktemp("course") / "generative-models")
    student_home = tmp_path_factory.mktemp("student")
    # the venv's interpreter named by its path, the venv not activated: nothing of it on PATH
    env = dict(os.environ, PYTHONPATH=str(root), PATH="/usr/bin:/bin")
    logs = {}
    for line in walkthrough():
        where = root
        if "fetch_assignment" in line or "submit " in line:
            where = student_home
            line = line.replace("--Exchange.root=exchange", f"--Exchange.root={root / 'exchange'}")
        logs[line] = run(line, where, env)
        if "fetch_assignment" in line:  # the student's work
            fetched = student_home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
            nb = fill_release_with_solutions(root, ASSIGNMENT, release_dir=fetched.parent)
            nbformat.write(nb, fetched)
    return root, logs


def _log(logs: dict, words: str) -> str:
    return next(text for line, text in logs.items() if words in line)


def test_validate_passes_the_source_and_fails_the_blank_release(course):
    _, logs = course
    assert "Success! Your notebook passes all the tests." in _log(logs, "validate source/")
    inverted = _log(logs, "validate --invert")
    assert "Success! The notebook does not pass any test" in inverted, inverted[-3000:]
    assert "cannot be converted to a float" not in inverted  # no docstring echoed as a score


def test_the_student_gets_every_autograded_point_and_feedback_hides_the_hidden_region(course):
    root, _ = course
    rows = list(csv.DictReader(open(root / "grades_by_id.csv")))
    assert rows, "the per-grade-id export is empty"
    auto = [r for r in rows if r["status"] == "graded"]
    assert auto and all(r["score"] == r["max_score"] for r in auto), rows
    assert {r["status"] for r in rows} == {"graded", "pending"}  # the written answers wait for a grader
    totals = list(csv.DictReader(open(root / "grades.csv")))
    assert totals and totals[0]["assignment"] == ASSIGNMENT
    feedback = next((root / "feedback").rglob("*.html")).read_text()
    assert "BEGIN HIDDEN TESTS" not in feedback and 'check("' not in feedback
    assert "✓ samples_land_near_the_moons" in feedback
    # made before the hand grading, as the walk-through does: it says the total is not final
    assert "Provisional feedback: the total score is not final." in feedback


def test_nothing_is_left_in_the_assignment_folders(course):
    root, _ = course
    for folder in (root / "source" / ASSIGNMENT, root / "release" / ASSIGNMENT):
        left = [p.name for p in folder.iterdir() if p.name not in ("coursekit", f"{ASSIGNMENT}.ipynb")]
        assert not left, f"{folder} holds {left} after the walk-through"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_formgrader_answers_in_the_course_directory(course):
    root, _ = course
    port, token = _free_port(), "walkthrough"
    as_root = ["--allow-root"] if os.geteuid() == 0 else []  # as the README says for root
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={port}",
                               f"--IdentityProvider.token={token}", "--ServerApp.ip=127.0.0.1", *as_root],
                              cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=dict(os.environ, PYTHONPATH=str(root)))
    try:
        page, deadline = "", time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/formgrader?token={token}", timeout=5) as r:
                    page = r.read().decode()
                break
            except OSError:
                time.sleep(1)
        assert "Manage Assignments" in page or "formgrader" in page.lower(), page[:2000]
        # The README says the submission view loads MathJax from a CDN (offline: LaTeX source);
        # should nbgrader ship it locally one day, this fails and the README must say so.
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
            notebook_id = gradebook.find_assignment(ASSIGNMENT).submissions[0].notebooks[0].id
        url = f"http://127.0.0.1:{port}/formgrader/submissions/{notebook_id}/?token={token}"
        with urllib.request.urlopen(url, timeout=30) as r:
            view = r.read().decode()
        assert "implicit" in view.lower(), view[:2000]  # the submission's own text
        assert "cdnjs.cloudflare.com/ajax/libs/mathjax/2" in view, view[:3000]
    finally:
        server.terminate()
        server.wait(timeout=30)
