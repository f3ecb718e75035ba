"""The course's generated files: support code and releases in sync with their sources, no leaks.

The repository checks are parametrised over every ``source/<a>/<a>.ipynb`` that exists, so they
start covering an assignment as soon as its notebook lands.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from reference_solution import course

REPO = Path(__file__).resolve().parents[1]
TOY = Path(__file__).parent / "fixtures" / "toy_course"
ASSIGNMENTS = course.assignments(REPO)


def _need_release(assignment: str) -> None:
    if not (REPO / "release" / assignment).is_dir():
        pytest.fail(f"release/{assignment} is missing: run "
                    f"`python -m reference_solution release {assignment}` and commit it")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_in_sync_with_source(assignment):
    _need_release(assignment)
    problems = course.release_out_of_sync(REPO, assignment)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_leaks_no_solution_or_hidden_test(assignment):
    _need_release(assignment)
    leaks = course.release_leaks(REPO, assignment)
    assert not leaks, "\n".join(leaks)


def test_support_files_are_in_sync():
    problems = course.support_out_of_sync(REPO)
    assert not problems, "\n".join(problems) + "\nrun `python -m reference_solution sync-support`"


def test_support_modules_import_only_siblings():
    """A support module copied into coursekit/ must not reach solution modules."""
    for names in course.SUPPORT_MODULES.values():
        for name in names:
            path = course.PACKAGE_DIR / f"{name}.py"
            if path.is_file():
                text = path.read_text()
                assert "reference_solution" not in text.replace("reference_solution/", ""), path
                for line in text.splitlines():
                    if line.startswith("from .") and " import " in line:
                        sibling = line.split()[1].lstrip(".").split(".")[0]
                        assert sibling in names or sibling == "", f"{path}: {line}"


# --- the machinery on a copy of the toy course -------------------------------------------------

@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy") / "course"
    shutil.copytree(TOY, root)
    course.generate_release(root, "toy")
    return root


def test_generated_release_is_in_sync_and_clean(toy_root):
    release = toy_root / "release" / "toy"
    assert (release / "toy.ipynb").is_file() and (release / "coursekit" / "toyhelp.py").is_file()
    assert not (toy_root / "gradebook.db").exists()  # generation ran in a scratch course
    assert course.release_out_of_sync(toy_root, "toy") == []
    assert course.release_leaks(toy_root, "toy") == []
    text = (release / "toy.ipynb").read_text()
    assert "YOUR CODE HERE" in text and "NotImplementedError" in text and "x * x" not in text


def test_out_of_sync_release_and_leaks_are_reported(toy_root, tmp_path):
    root = tmp_path / "course"
    shutil.copytree(toy_root, root)
    src = root / "source" / "toy" / "toy.ipynb"
    nb = nbformat.read(src, 4)
    nb.cells[0].source += "\n\nA new sentence."
    nbformat.write(nb, src)
    (root / "release" / "toy" / "coursekit" / "extra.py").write_text("x = 1\n")
    problems = course.release_out_of_sync(root, "toy")
    assert any("cell 0" in p and "source" in p for p in problems), problems
    assert any("extra.py should not be there" in p for p in problems), problems
    assert all("python -m reference_solution release toy" in p for p in problems)

    rel = root / "release" / "toy" / "toy.ipynb"
    leaked = nbformat.read(rel, 4)
    leaked.cells[1].source += "\n    words_found = text.split()"  # a line of a solution
    leaked.cells[2].source += "\n### BEGIN HIDDEN TESTS"
    nbformat.write(leaked, rel)
    leaks = course.release_leaks(root, "toy")
    assert any("words_found = text.split()" in x for x in leaks), leaks
    assert any("BEGIN HIDDEN TESTS" in x for x in leaks), leaks


def test_missing_release_names_the_command(tmp_path):
    shutil.copytree(TOY / "source", tmp_path / "source")
    problems = course.release_out_of_sync(tmp_path, "toy")
    assert problems == ["release/toy is missing: run `python -m reference_solution release toy`"]


def test_sync_support_writes_headers_and_reports_drift(tmp_path):
    (tmp_path / "source" / "score_matching").mkdir(parents=True)
    written = course.sync_support(tmp_path, log=lambda *_: None)
    package = tmp_path / "source" / "score_matching" / "coursekit"
    assert package / "__init__.py" in written
    existing = [n for n in course.SUPPORT_MODULES["score_matching"]
                if (course.PACKAGE_DIR / f"{n}.py").is_file()]
    for name in existing:
        text = (package / f"{name}.py").read_text()
        assert text.startswith(f"# GENERATED from reference_solution/{name}.py by "
                               "`python -m reference_solution sync-support`; edit the original")
    assert course.support_out_of_sync(tmp_path) == []
    assert course.sync_support(tmp_path, log=lambda *_: None) == []  # idempotent
    if existing:
        (package / f"{existing[0]}.py").write_text("# edited by hand\n")
    (package / "stale.py").write_text("")
    problems = course.support_out_of_sync(tmp_path)
    assert any("stale.py is not a support module" in p for p in problems)
    assert not existing or any("differs from its original" in p for p in problems)
    course.sync_support(tmp_path, log=lambda *_: None)
    assert course.support_out_of_sync(tmp_path) == [] and not (package / "stale.py").exists()
