"""The course's generated files: releases, support code included, in sync with their sources, no leaks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from reference_solution.course import release as course

REPO = Path(__file__).resolve().parents[2]
TOY = Path(__file__).resolve().parents[1] / "fixtures" / "toy_course"
ASSIGNMENTS = course.assignments(REPO)


def test_both_assignments_are_in_the_course():
    assert course.assignments(REPO, editions=False) == ["score_matching", "wgan_anomalies"]
    assert ASSIGNMENTS == ["score_matching", "score_matching_ru", "wgan_anomalies"]  # with the Russian edition
    assert set(ASSIGNMENTS) <= set(course.SUPPORT_MODULES)


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


def test_release_support_package_matches_its_originals():
    """The coursekit/ committed in release/ is the generated copy of reference_solution/coursekit/."""
    problems = course.support_out_of_sync(REPO)
    assert not problems, "\n".join(problems) + "\nrun `python -m reference_solution release`"


def test_support_package_is_not_committed_under_source():
    """One source of support code: source/ holds notebooks only (sync-support copies are ignored)."""
    out = subprocess.run(["git", "ls-files", "source"], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    assert [f for f in out.stdout.splitlines() if "/coursekit/" in f] == []
    ignored = subprocess.run(["git", "check-ignore", "-q", "source/score_matching/coursekit/views.py"],
                             cwd=REPO)
    assert ignored.returncode == 0, "source/*/coursekit/ must be git-ignored"


def test_support_modules_import_only_siblings():
    """A support module copied into coursekit/ must not reach solution modules."""
    for names in course.SUPPORT_MODULES.values():
        for name in names:
            path = course.SUPPORT_DIR / f"{name}.py"
            assert path.is_file(), path
            text = path.read_text()
            assert "reference_solution" not in text.replace("reference_solution/", ""), path
            for line in text.splitlines():
                if line.startswith("from .") and " import " in line:
                    sibling = line.split()[1].lstrip(".").split(".")[0]
                    assert line.startswith("from .") and not line.startswith("from .."), f"{path}: {line}"
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


def test_support_is_written_with_headers_and_drift_is_reported(tmp_path):
    (tmp_path / "source" / "score_matching").mkdir(parents=True)
    written = course.sync_support(tmp_path, log=lambda *_: None)
    package = tmp_path / "source" / "score_matching" / "coursekit"
    assert package / "__init__.py" in written
    names = course.SUPPORT_MODULES["score_matching"]
    for name in names:
        text = (package / f"{name}.py").read_text()
        assert text.startswith(f"# GENERATED from reference_solution/coursekit/{name}.py by "
                               "`python -m reference_solution release`; edit the original")
    assert course.sync_support(tmp_path, log=lambda *_: None) == []  # idempotent

    # the committed copy that counts is the release's
    (tmp_path / "source" / "score_matching" / "score_matching.ipynb").write_text("{}")
    release = tmp_path / "release" / "score_matching"
    course.write_support(release, "score_matching")
    assert course.support_out_of_sync(tmp_path) == []
    (release / "coursekit" / f"{names[0]}.py").write_text("# edited by hand\n")
    (release / "coursekit" / "stale.py").write_text("")
    problems = course.support_out_of_sync(tmp_path)
    assert any("stale.py is not a support module" in p for p in problems)
    assert any("differs from its original" in p for p in problems)
    course.write_support(release, "score_matching")
    assert course.support_out_of_sync(tmp_path) == [] and not (release / "coursekit" / "stale.py").exists()


def test_nbgrader_finds_the_interpreters_scripts_without_an_activated_venv(monkeypatch):
    """A venv's python, its venv not activated: nbgrader's `alembic` must still be found (issue 20)."""
    import shutil
    import sys

    from reference_solution.course.release import nbgrader_env

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    env = nbgrader_env(REPO)
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert shutil.which("alembic", path=env["PATH"]) == str(Path(sys.executable).parent / "alembic")


@pytest.mark.parametrize("assignment", ["score_matching"])
def test_settings_cells_are_introduced_by_text_naming_each_setting(assignment):
    """A cell of settings (names assigned numbers, nothing else) follows markdown that names each
    one in backticks: the student is told what to set (issue 20)."""
    import ast

    nb = nbformat.read(str(REPO / "release" / assignment / f"{assignment}.ipynb"), as_version=4)
    source = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source
              for c in nbformat.read(str(REPO / "source" / assignment / f"{assignment}.ipynb"), as_version=4).cells}
    checked = 0
    for i, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not cell.metadata.get("nbgrader", {}).get("solution") or cell.cell_type != "code":
            continue
        tree = ast.parse(source[grade_id])
        numeric = (ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop)
        if not tree.body or not all(isinstance(s, (ast.Assign, ast.AnnAssign)) and s.value is not None
                                    and all(isinstance(n, numeric) for n in ast.walk(s.value)) for s in tree.body):
            continue
        names = {t.id for s in tree.body for t in (s.targets if isinstance(s, ast.Assign) else [s.target])
                 if isinstance(t, ast.Name)}
        text = next(c.source for c in reversed(nb.cells[:i]) if c.cell_type == "markdown")
        missing = sorted(n for n in names if f"`{n}`" not in text)
        assert not missing, f"the text before {grade_id!r} does not name {missing}"
        checked += 1
    assert checked >= 2
