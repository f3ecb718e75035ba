"""Submitted notebooks are checked before nbgrader reads them: one bad file cannot stop the class.

nbgrader 0.9 reads a submitted notebook with nbformat, repairs what it can (``DeduplicateIds``,
``OverwriteCells``) and then validates the cells' nbgrader metadata (``CheckCellMetadata``). A
cell whose ``schema_version`` is edited, or the empty metadata ``DeduplicateIds`` leaves on a
duplicate grade id, raises ``SchemaTooOldError`` / ``SchemaTooNewError`` there, and
``BaseConverter.convert_notebooks`` answers those by aborting the whole ``nbgrader autograde``
run: no student sorted after that one is graded. Anything else it cannot read fails that
student with a traceback, no grade and a failed exit status for the batch.

``IntakeExporter`` is the exporter nbgrader's ``Autograde`` reads notebooks with
(``c.Autograde.exporter_class`` in ``nbgrader_config.py``). Before nbgrader parses a submitted
notebook, :func:`inspect_notebook` checks what nbgrader, nbconvert and the grading rely on. A
notebook that fails is set aside: every grade of it is 0 in the gradebook (what nbgrader gives a
notebook that was not submitted), its autograded notebook is one markdown cell saying why, no
kernel starts for it, and nbgrader's log names the student, the reasons and the submitted file,
which is never changed. Everybody else is graded as before.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import os
import re
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from traitlets import Integer

__all__ = ["CellSpec", "IntakeExporter", "inspect_notebook", "read_submitted", "rejections"]

MINOR = nbformat.v4.nbformat_minor  # the newest nbformat 4 minor version this grader reads
LOG_LINE = "intake: student {student!r} notebook {notebook!r} set aside, 0 points: {why}"
_LOG_RE = re.compile(r"intake: student (?P<s>'[^'\n]*'|\"[^\"\n]*\") notebook (?P<n>'[^'\n]*'|\"[^\"\n]*\") "
                     r"set aside, 0 points: (?P<why>.*)$", re.MULTILINE)


@dataclass(frozen=True)
class CellSpec:
    """What the assignment (nbgrader's gradebook) says one nbgrader cell is."""

    cell_type: str  # "code" or "markdown"
    grade: bool  # graded (a test cell, or a written answer)
    solution: bool  # the student writes it


def _short(text: object, limit: int = 160) -> str:
    """One line of at most ``limit`` characters: reasons quote what the student wrote."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", type(None): "missing or null"}
    return names.get(type(value), f"a JSON {type(value).__name__}")


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN and Infinity; JSON does not


@cache
def _metadata_validator():
    from nbgrader.nbgraderformat import MetadataValidator

    return MetadataValidator()


def inspect_notebook(raw: bytes, cells: Mapping[str, CellSpec] | None = None) -> list[str]:
    """Why nbgrader must not grade this file (``[]``: it may). ``cells``: the assignment's
    nbgrader cells by grade id (from the gradebook); ``None`` skips the comparison with them."""
    try:
        nb = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        return ["the file is not UTF-8 text"]
    except (ValueError, RecursionError) as exc:
        return [f"the file is not JSON ({_short(exc)})"]
    if not isinstance(nb, dict):
        return [f"the file is {_kind(nb)} in JSON, not a notebook"]
    major, minor = nb.get("nbformat"), nb.get("nbformat_minor")
    problems = []
    if type(major) is not int or major != 4:
        problems.append(f"its nbformat is {_short(repr(major))}, the course's notebooks are nbformat 4")
    if type(minor) is not int or not 0 <= minor <= MINOR:
        problems.append(f"its nbformat_minor is {_short(repr(minor))}, expected 0 to {MINOR}")
    raw_cells = nb.get("cells")
    if not isinstance(raw_cells, list):
        problems.append(f"its 'cells' is {_kind(raw_cells)}, not a list")
    elif not raw_cells:
        problems.append("it has no cells")
    elif not all(isinstance(c, dict) for c in raw_cells):
        problems.append("a cell is not a JSON object")
    if problems:
        return problems  # what follows reads the cells of an nbformat 4 notebook
    problems += _duplicates([c.get("id") for c in raw_cells], "cell id")
    problems += _structure(nb)
    if problems:
        return problems
    return _nbgrader_cells(raw_cells, cells)


def _duplicates(values: list, what: str) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for index, value in enumerate(values):
        if not isinstance(value, str):
            continue
        if value in seen:
            out.append(f"{what} {_short(repr(value))} is on cells {seen[value]} and {index}")
        seen.setdefault(value, index)
    return out


def _structure(nb: dict) -> list[str]:
    """nbformat's schema, as nbconvert checks it after nbgrader's first preprocessor (outputs are
    cleared then, and cell ids a notebook lacks are added, so neither counts here)."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, nb = nbformat.validator.normalize(nb)
            nbformat.validate(nb, relax_add_props=True)
    except Exception as exc:  # noqa: BLE001 - jsonschema errors and whatever a broken tree raises
        where = "/".join(str(p) for p in getattr(exc, "absolute_path", []) or [])
        message = getattr(exc, "message", None) or str(exc)
        return [f"it is not a valid notebook{f' at {where}' if where else ''}: {_short(message)}"]
    return []


def _nbgrader_cells(raw_cells: list[dict], cells: Mapping[str, CellSpec] | None) -> list[str]:
    """The cells' nbgrader metadata against the assignment, then as ``CheckCellMetadata``
    validates it: the first problem of each cell, then grade ids used twice."""
    problems, ids = [], []
    for index, raw in enumerate(raw_cells):
        meta = raw.get("metadata", {}).get("nbgrader")
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        ids.append(grade_id)
        if "nbgrader" in raw.get("metadata", {}):
            label = f"cell {index}" + (f" ({_short(repr(grade_id), 60)})" if isinstance(grade_id, str) else "")
            why = _cell_problem(raw, meta, cells)
            if why:
                problems.append(f"{label}: {why}")
    return problems + _duplicates(ids, "grade id")


def _cell_problem(raw: dict, meta: object, cells: Mapping[str, CellSpec] | None) -> str | None:
    if not isinstance(meta, dict):
        return f"its nbgrader metadata is {_kind(meta)}, not an object"
    spec = cells.get(meta.get("grade_id")) if cells is not None and isinstance(meta.get("grade_id"), str) else None
    if spec is not None and raw.get("cell_type") != spec.cell_type:
        return f"it is a {raw.get('cell_type')} cell, the assignment's is a {spec.cell_type} cell"
    if "schema_version" in meta and type(meta["schema_version"]) is not int:
        return f"its nbgrader schema_version is {_short(repr(meta['schema_version']))}, expected 3"
    try:
        _metadata_validator().validate_cell(nbformat.from_dict(raw))
    except Exception as exc:  # noqa: BLE001 - SchemaTooOld/New, jsonschema errors, bad types
        message = str(getattr(exc, "message", exc))
        source = raw.get("source")
        for quoted in {str(source), "".join(source) if isinstance(source, list) else str(source)}:
            message = message.replace(": " + quoted, "")  # some messages quote the whole cell
        return f"nbgrader rejects its metadata ({_short(message)})"
    if cells is None or not (meta["grade"] or meta["solution"] or meta["locked"]):
        return None  # nbgrader ignores a cell with none of the three
    if spec is None:
        return "the assignment has no cell with this grade id"
    if (bool(meta["grade"]), bool(meta["solution"])) != (spec.grade, spec.solution):
        return (f"marked grade={meta['grade']}, solution={meta['solution']}; the assignment's is "
                f"grade={spec.grade}, solution={spec.solution}")
    return None


def read_submitted(path: Path, max_bytes: int) -> tuple[bytes, list[str]]:
    """The bytes of a submitted notebook, or why it cannot be read. A link is refused: nbgrader
    would grade whatever file it points to (another student's notebook, a file of the grader)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        why = "it is a symbolic link" if path.is_symlink() else f"it cannot be read ({exc.strerror})"
        return b"", [why]
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder, a pipe, a device
            return b"", ["it is not a regular file"]
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(raw) > max_bytes:
        return b"", [f"the file is over {max_bytes / 2**20:.3g} MiB (outputs are not graded: clear them)"]
    return raw, []


def rejections(log: str) -> dict[tuple[str, str], str]:
    """``{(student, notebook): reasons}`` of the notebooks an nbgrader log says were set aside."""
    return {(ast.literal_eval(m["s"]), ast.literal_eval(m["n"])): m["why"] for m in _LOG_RE.finditer(log)}


class IntakeExporter(NotebookExporter):
    """nbconvert's notebook exporter that checks a submitted notebook before nbgrader reads it and
    grades an explanation (0 points, no kernel) in place of one it must not read."""

    max_bytes = Integer(100 * 2**20, help="Largest submitted notebook file accepted, in bytes.").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._set_aside: dict[tuple, str] = {}  # (student, assignment, notebook) -> substitute

    def from_filename(self, filename, resources=None, **kw):
        info = (resources or {}).get("nbgrader", {})
        key = (info.get("student"), info.get("assignment"), info.get("notebook"))
        resources = self._init_resources(resources)
        resources["metadata"].update(name=Path(filename).stem, path=str(Path(filename).parent))
        if key in self._set_aside:  # the autograde pass of a notebook set aside: nothing to run
            return self._set_aside.pop(key), resources
        if not self._is_submitted(filename, info):
            return super().from_filename(filename, resources, **kw)
        raw, problems = read_submitted(Path(filename), self.max_bytes)
        problems = problems or inspect_notebook(raw, self._assignment_cells(info))
        if not problems:
            return super().from_filename(filename, resources, **kw)
        self._set_aside[key] = self._reject(Path(filename), raw, info, problems)
        return self._set_aside[key], resources

    def _is_submitted(self, filename: str, info: dict) -> bool:
        """Whether ``filename`` is a student's submitted file (nbgrader's first pass), not its own
        sanitized copy in autograded/ (the second)."""
        coursedir = getattr(self.parent, "coursedir", None)
        if coursedir is None or not info:
            return True
        folder = coursedir.format_path(coursedir.submitted_directory, info["student"], info["assignment"])
        return os.path.abspath(os.path.dirname(filename)) == os.path.abspath(folder)

    def _assignment_cells(self, info: dict) -> dict[str, CellSpec] | None:
        from nbgrader.api import Gradebook

        try:
            with Gradebook(info["db_url"]) as gb:
                notebook = gb.find_notebook(info["notebook"], info["assignment"])
                graded = {c.name for c in notebook.grade_cells}
                solutions = {c.name for c in notebook.solution_cells}
                return {c.name: CellSpec(c.cell_type, c.name in graded, c.name in solutions)
                        for c in notebook.source_cells}
        except Exception as exc:  # noqa: BLE001 - nbgrader itself reports a notebook it does not know
            self.log.warning("intake: cannot read the assignment's cells from the gradebook (%s)", exc)
            return None

    def _reject(self, path: Path, raw: bytes, info: dict, problems: list[str]) -> str:
        """Log why, score every grade of the notebook 0, return the notebook graded instead."""
        student, notebook = info.get("student", "?"), info.get("notebook", path.stem)
        why = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8 else "")
        self.log.error(LOG_LINE.format(student=student, notebook=notebook, why=why))
        kept = f"{path} ({len(raw)} bytes read, sha256 {hashlib.sha256(raw).hexdigest()})"
        self.log.error("intake: the submitted file is kept unchanged: %s; its autograded notebook is "
                       "a note saying why, and no kernel runs for it", kept)
        if info.get("db_url"):
            _zero_grades(info["db_url"], student, info["assignment"], notebook)
        fence = "\n".join(f"- {p}" for p in problems).replace("`", "'")
        note = (f"# This notebook was not graded\n\nThe autograder cannot grade `{notebook}.ipynb` as "
                f"submitted, so it scores 0:\n\n```\n{fence}\n```\n\nThe file you submitted is kept "
                "unchanged for your instructor. Start again from the released notebook (paste your "
                "answers into it) and submit that.")
        return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(note)]))


def _zero_grades(db_url: str, student: str, assignment: str, notebook: str) -> None:
    """0 for every grade of a notebook set aside, as nbgrader scores one that was not submitted;
    a manual score an instructor gave earlier is kept and flagged for review."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        submitted = gb.find_submission_notebook(notebook, assignment, student)
        for grade in submitted.grades:
            grade.auto_score = 0
            grade.needs_manual_grade = grade.manual_score is not None
        gb.db.commit()
