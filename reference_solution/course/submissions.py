"""Student submissions built from the course: the reference pasted into the release, mutants.

``fill_release_with_solutions`` takes the RELEASE notebook and pastes each solution cell's code
from the source, as a student would; mutants and alternative solutions replace some cells.
``apply_mutation`` raises when its target text is gone, so a catalogue of mutants cannot rot
silently. ``example_submissions`` gives the complete / partial / blank trio of the demo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = ["apply_mutation", "fill_release_with_solutions", "example_submissions"]


@dataclass(frozen=True)
class Mutant:
    """One catalogue entry: a realistic student bug (or, in a VALID list, a correct alternative)
    written as a substring edit of a reference solution cell."""

    name: str  # what the student got wrong (or did differently, for VALID)
    cell_grade_id: str  # the solution cell edited
    old: str  # substring of the reference solution cell
    new: str  # its replacement
    expected_failing: tuple[str, ...]  # grade ids of test cells that must score 0
    may_fail: tuple[str, ...] = field(default=())  # ids that may also fail (knock-on effects, training luck)


def apply_mutation(source_code: str, old: str, new: str) -> str:
    """``source_code`` with ``old`` replaced by ``new``; raises if ``old`` is absent (so a
    catalogue of mutants cannot silently stop mutating anything)."""
    if old not in source_code:
        raise ValueError(f"mutation target {old!r} not found in:\n{source_code}")
    return source_code.replace(old, new)


def _solution_body(source: str) -> str:
    """What a student types: the source cell with solution markers removed, hidden tests dropped."""
    out, hidden = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("### BEGIN HIDDEN TESTS"):
            hidden = True
        elif stripped.startswith("### END HIDDEN TESTS"):
            hidden = False
        elif not hidden and not stripped.startswith(("### BEGIN SOLUTION", "### END SOLUTION")):
            out.append(line)
    return "\n".join(out)


def fill_release_with_solutions(root: str | Path, assignment: str,
                                replacements: dict[str, str] | None = None, *,
                                notebook: str | None = None, only: set[str] | None = None,
                                release_dir: str | Path | None = None):
    """A student submission: the RELEASE notebook with each solution cell's code pasted from the
    source (markers removed), as a student would. ``replacements``: ``{grade_id: new source}``
    for some solution cells (mutants, alternative solutions). ``only``: fill just these cells
    (others stay blank). ``release_dir``: where the release is (default ``root/release/<a>``;
    a ``ScratchCourse.release_dir`` works too). Raises on an unknown grade id in ``replacements``."""
    root = Path(root)
    name = notebook or assignment
    release_dir = Path(release_dir) if release_dir else root / "release" / assignment
    release = nbformat.read(release_dir / f"{name}.ipynb", as_version=4)
    source = nbformat.read(root / "source" / assignment / f"{name}.ipynb", as_version=4)
    solutions = {c.metadata["nbgrader"]["grade_id"]: c for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    replacements = dict(replacements or {})
    unknown = set(replacements) - set(solutions)
    if unknown:
        raise KeyError(f"no solution cells {sorted(unknown)} in {assignment}/{name}.ipynb; "
                       f"solution cells: {sorted(solutions)}")
    for cell in release.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions and (only is None or grade_id in only or grade_id in replacements):
            body = replacements.get(grade_id, _solution_body(solutions[grade_id].source))
            cell.source = body if cell.cell_type == "code" else solutions[grade_id].source
    return release


def example_submissions(root: str | Path, assignment: str,
                        release_dir: str | Path | None = None) -> dict:
    """``complete`` (source with hidden tests removed), ``partial`` (first half of the solution
    cells filled), ``blank`` (the release) for the course at ``root``."""
    root = Path(root)
    release_dir = Path(release_dir) if release_dir else root / "release" / assignment
    release = release_dir / f"{assignment}.ipynb"
    if not release.is_file():
        raise FileNotFoundError(f"{release} is missing: run `python -m reference_solution release "
                                f"{assignment}`")
    source = nbformat.read(root / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    for cell in source.cells:
        if cell.cell_type == "code":
            cell.source = _solution_body(cell.source)
            cell.outputs = []
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nbformat.read(release, 4).cells
           if c.metadata.get("nbgrader", {}).get("solution")]
    partial = fill_release_with_solutions(root, assignment, only=set(ids[: len(ids) // 2]),
                                          release_dir=release_dir)
    return {"complete": source, "partial": partial, "blank": nbformat.read(release, as_version=4)}
