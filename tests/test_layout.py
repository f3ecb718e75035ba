"""The package's shape: concerns in subpackages, no import cycle, modules readable in one
sitting, coursekit self-contained, and the repository clean under ruff."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "reference_solution"
SUBPACKAGES = ("coursekit", "wgan_anomalies", "score_matching", "grading", "course")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """Dotted name -> file of every importable module (probes are source text, not modules)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        if "probes" in rel.parts:
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Package modules ``name`` imports anywhere in its body (function-level imports included)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        # a module's own parent packages are initialised before it: not an edge
        found |= {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_the_tree_shows_the_architecture():
    assert sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()) == sorted(SUBPACKAGES)
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "cli.py", "metrics.py"], loose


def test_no_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_coursekit_imports_nothing_else_of_the_package():
    """What students receive must run without the instructor package."""
    graph = _graph()
    leaks = {name: sorted(t for t in targets if not t.startswith("reference_solution.coursekit"))
             for name, targets in graph.items() if name.startswith("reference_solution.coursekit")}
    assert not {k: v for k, v in leaks.items() if v}


def test_modules_are_readable_in_one_sitting():
    long = {str(p.relative_to(REPO)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_cycle_check_sees_a_cycle(tmp_path, monkeypatch):
    """The checks above would pass vacuously if the graph were empty: it is not, and a cycle
    written into a copy of the package is found."""
    graph = _graph()
    assert "reference_solution.coursekit.views" in graph["reference_solution.coursekit.explorers_data"]
    assert "reference_solution.coursekit.course_files" in graph["reference_solution.wgan_anomalies.dataset"]
    copy = tmp_path / "reference_solution"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "coursekit" / "views.py").write_text((copy / "coursekit" / "views.py").read_text()
                                                 + "\nfrom .widgets import explore_dataset\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", copy)
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    with pytest.raises(AssertionError, match="views"):
        test_no_import_cycle()


def test_ruff_finds_nothing():
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(REPO)],
                          cwd=REPO, capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
