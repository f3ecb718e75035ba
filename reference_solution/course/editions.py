"""Language editions of an assignment: one English source notebook, a gettext catalogue per language.

Only ``source/<assignment>/<assignment>.ipynb`` is ever edited. The Russian edition
``source/<assignment>_ru/<assignment>_ru.ipynb`` is generated from it and from
``translations/ru/<assignment>.po`` (gettext, read and written with Babel), so the two cannot
drift: every translatable text of the English notebook is a catalogue message whose ``msgctxt``
says where it is and whose ``msgid`` is the English text itself. When the English text changes,
its message no longer matches and the edition refuses to build (``missing``); a translator sees
the old translation marked fuzzy beside the new English (``update_catalogue``) and revisits it.

What is translated, per cell (``units``):

- a markdown cell: its whole text (context ``<cell id>``);
- a code cell: its comments (``<cell id>#<k>``) and the string literals a reader sees, each as its
  Python source (``<cell id>"<k>``): a docstring, the message of an ``assert``, the arguments of
  ``print``, ``AssertionError`` and ``ValueError``, and the keyword arguments in ``TEXT_KEYWORDS``
  (figure titles, axis and widget labels). A translated literal must be a literal of the same
  kind with the same ``{...}`` fields, so the code of both editions is the same code.

Cells, their order, ids, metadata (grade ids, points, locks) and every other character of the
code are copied unchanged; ``differences`` proves it for a built edition.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = ["LANGUAGES", "Unit", "units", "build", "missing", "differences", "edition_name",
           "read_catalogue", "update_catalogue", "catalogue_path"]

LANGUAGES = {"ru": "Русский"}  # edition suffix -> language name
TEXT_KEYWORDS = {"title", "xlabel", "ylabel", "label", "labels", "desc", "description", "text"}
TEXT_CALLS = {"print", "AssertionError", "ValueError"}
ENGLISH_BEFORE = "The English text before it changed:"


@dataclass(frozen=True)
class Unit:
    context: str  # where: "<cell id>", "<cell id>#<k>" (a comment), '<cell id>"<k>' (a literal)
    text: str  # the English text (a literal: its Python source, quotes and prefix included)
    start: int = 0  # offset of the text in the cell's source (0 for a markdown cell)
    end: int = 0  # offset just after it


def edition_name(assignment: str, language: str) -> str:
    return f"{assignment}_{language}"


def catalogue_path(root: str | Path, assignment: str, language: str) -> Path:
    return Path(root) / "translations" / language / f"{assignment}.po"


# ---- what is translatable ---------------------------------------------------------------------

def _parsable(source: str) -> str:
    """The cell's source with IPython magics (``%...``, ``!...``) blanked to same-length comments."""
    return "\n".join(("#" + line[1:]) if line.lstrip()[:1] in ("%", "!") else line
                     for line in source.split("\n"))


def _offsets(source: str) -> list[int]:
    starts, total = [], 0
    for line in source.split("\n"):
        starts.append(total)
        total += len(line) + 1
    return starts


def _text_nodes(tree: ast.AST) -> list[ast.expr]:
    found: list[ast.expr] = []

    def literal(node):
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            found.append(node)

    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.msg is not None:
            literal(node.msg)
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in TEXT_CALLS:
                for arg in node.args:
                    literal(arg)
            for kw in node.keywords:
                if kw.arg in TEXT_KEYWORDS:
                    literal(kw.value)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            literal(node.value)  # a docstring, e.g. a test cell's one-line description
    return found


def units(cell) -> list[Unit]:
    """The translatable texts of one cell, in order of appearance."""
    source, cid = cell.source, cell.get("id")
    if not cid:
        raise ValueError("a cell without an id cannot be translated: run `python -m nbformat` to add ids")
    if cell.cell_type == "markdown":
        return [Unit(cid, source, 0, len(source))] if source.strip() else []
    if cell.cell_type != "code":
        return []
    text = _parsable(source)
    starts = _offsets(source)
    found: list[Unit] = []
    try:
        tree = ast.parse(text)
    except SyntaxError:
        tree = None
    spans = []
    if tree is not None:
        lines = text.split("\n")

        def at(line: int, byte_col: int) -> int:  # ast counts UTF-8 bytes, str slicing characters
            return starts[line - 1] + len(lines[line - 1].encode()[:byte_col].decode())

        for node in _text_nodes(tree):
            spans.append((at(node.lineno, node.col_offset), at(node.end_lineno, node.end_col_offset), '"'))
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        tokens = []  # code that does not tokenise: its comments stay as they are
    for tok in tokens:
        if tok.type == tokenize.COMMENT and source[starts[tok.start[0] - 1] + tok.start[1]] == "#":
            a = starts[tok.start[0] - 1] + tok.start[1]
            body = tok.string
            if re.match(r"#+ *(BEGIN|END) (SOLUTION|HIDDEN TESTS)", body) or re.match(r"# *noqa", body):
                continue  # nbgrader's markers and linters' pragmas are code
            spans.append((a, a + len(body), "#"))
    counters = {'"': 0, "#": 0}
    for a, b, kind in sorted(set(spans)):
        counters[kind] += 1
        found.append(Unit(f"{cid}{kind}{counters[kind]}", source[a:b], a, b))
    return found


def notebook_units(nb) -> list[Unit]:
    return [u for cell in nb.cells for u in units(cell)]


# ---- catalogues -------------------------------------------------------------------------------

def read_catalogue(path: str | Path):
    from babel.messages.pofile import read_po

    with open(path, "rb") as f:
        return read_po(f)


def _translations(catalogue) -> dict[tuple[str, str], str]:
    return {(m.context, m.id): m.string for m in catalogue if m.id and m.string and not m.fuzzy}


def update_catalogue(nb, path: str | Path, language: str) -> list[str]:
    """Bring the catalogue at ``path`` in line with the English notebook ``nb``: a new text gets an
    empty message; a changed text keeps its old translation, marked fuzzy, with the old English in
    translator comments; a text gone from the notebook is dropped. Returns the contexts to
    translate or revisit (remove the fuzzy flag once the translation is right)."""
    return update_messages(notebook_units(nb), path, language)


def update_messages(texts: list[Unit], path: str | Path, language: str) -> list[str]:
    """``update_catalogue`` for any ``(context, English text)`` units (e.g. the hidden checks')."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    path = Path(path)
    old = read_catalogue(path) if path.is_file() else Catalog(locale=language)
    by_context = {m.context: m for m in old if m.id}
    # The old dates kept: rerunning on an unchanged notebook leaves the file byte for byte.
    new = Catalog(locale=language, project="generative-models course", charset="utf-8",
                  creation_date=old.creation_date, revision_date=old.revision_date)
    todo = []
    for unit in texts:
        before = by_context.get(unit.context)
        if before is not None and before.id == unit.text and before.string:
            new.add(unit.text, before.string, context=unit.context, flags=before.flags,
                    user_comments=before.user_comments if before.fuzzy else ())
            if before.fuzzy:
                todo.append(unit.context)
        elif before is not None and before.string:
            # Babel writes a multi-line previous msgid it cannot read back: the old English goes
            # into translator comments instead, beside the old translation marked fuzzy.
            was = [ENGLISH_BEFORE] + ["| " + line for line in before.id.split("\n")]
            new.add(unit.text, before.string, context=unit.context, flags={"fuzzy"}, user_comments=was)
            todo.append(unit.context)
        else:
            new.add(unit.text, "", context=unit.context)
            todo.append(unit.context)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        write_po(f, new, width=100, sort_output=False)
    return todo


# ---- the hidden checks' texts (shown in the autograded notebook and the feedback) ----------------

# What the executor writes around a check's description, per language.
CHECK_LABELS = {"ru": {"failed": "Скрытая проверка не пройдена", "passed": "✓"}}


def checks_path(root: str | Path, language: str) -> Path:
    return Path(root) / "translations" / language / "checks.po"


def check_units(root: str | Path, language: str) -> list[Unit]:
    """The one-line description of every hidden check named in the course's editions in ``language``."""
    from ..grading.protocol import registry

    checks, names = registry(), []
    for assignment, lang in catalogues(root):
        if lang != language:
            continue
        nb = nbformat.read(Path(root) / "source" / assignment / f"{assignment}.ipynb", as_version=4)
        for cell in nb.cells:
            names += re.findall(r"""\bcheck\(\s*["']([\w]+)["']""", cell.source)
    return [Unit(name, checks[name].doc) for name in dict.fromkeys(names) if name in checks]


def check_docs(root: str | Path, language: str) -> dict[str, str]:
    """``{check name: description in language}`` for the checks whose English description is the
    one translated (a changed description falls back to English until it is revisited)."""
    path = checks_path(root, language)
    if not path.is_file():
        return {}
    from ..grading.protocol import registry

    docs = {name: check.doc for name, check in registry().items()}
    return {m.context: m.string for m in read_catalogue(path)
            if m.id and m.string and not m.fuzzy and docs.get(m.context) == m.id}


# ---- building and checking an edition ---------------------------------------------------------

def _fields(literal_source: str) -> list[str] | None:
    """``ast.dump`` of the ``{...}`` fields of a literal (``[]`` for a plain string), None if the
    source is not one string literal."""
    try:
        node = ast.parse("(" + literal_source.strip() + "\n)", mode="eval").body  # pieces may span lines
    except SyntaxError:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return []
    if isinstance(node, ast.JoinedStr):
        return sorted(ast.dump(v.value) for v in node.values if isinstance(v, ast.FormattedValue))
    return None


def check_translation(unit: Unit, translated: str) -> str | None:
    """Why ``translated`` cannot replace ``unit`` in code (None when it can)."""
    kind = unit.context[len(unit.context.rstrip("0123456789")) - 1]
    if kind == "#":
        if not translated.startswith("#") or "\n" in translated:
            return "a comment must stay one line starting with #"
    elif kind == '"':
        want, got = _fields(unit.text), _fields(translated)
        if got is None:
            return "not a single string literal"
        if got != want:
            return "its {...} fields differ from the English literal's"
    return None


def missing(nb, catalogue) -> list[str]:
    """Contexts of the English notebook's texts that have no usable translation (new or changed
    English text, fuzzy, or a translation that would change the code), each with the reason."""
    have = _translations(catalogue)
    problems = []
    for unit in notebook_units(nb):
        got = have.get((unit.context, unit.text))
        if got is None:
            problems.append(f"{unit.context}: no translation of the current English text")
        elif (why := check_translation(unit, got)) is not None:
            problems.append(f"{unit.context}: {why}")
    return problems


def build(nb, catalogue, language: str):
    """The edition of the English notebook ``nb`` in ``language`` (a new notebook node)."""
    problems = missing(nb, catalogue)
    if problems:
        raise ValueError(f"the {LANGUAGES.get(language, language)} catalogue is behind the English "
                         f"notebook ({len(problems)} texts):\n  " + "\n  ".join(problems[:20]))
    have = _translations(catalogue)
    out = nbformat.reads(nbformat.writes(nb), as_version=4)  # a copy
    for cell in out.cells:
        pieces, last = [], 0
        for unit in units(cell):
            pieces += [cell.source[last:unit.start], have[(unit.context, unit.text)]]
            last = unit.end
        cell.source = "".join(pieces) + cell.source[last:]
    out.metadata["language_edition"] = language
    return out


def _skeleton(cell) -> str:
    """The cell's source with every translatable text replaced by its context: equal for a cell
    and its translation when nothing but the texts differ."""
    pieces, last = [], 0
    for unit in units(cell):
        pieces += [cell.source[last:unit.start], f"\x00{unit.context}\x00"]
        last = unit.end
    return "".join(pieces) + cell.source[last:]


def differences(english, edition) -> list[str]:
    """What differs between two editions beyond their texts: cells, ids, types, metadata, code."""
    out = []
    if len(english.cells) != len(edition.cells):
        return [f"{len(english.cells)} cells against {len(edition.cells)}"]
    for a, b in zip(english.cells, edition.cells):
        where = a.get("id")
        if (a.cell_type, a.get("id")) != (b.cell_type, b.get("id")):
            out.append(f"cell {where}: type or id differs")
        elif a.metadata != b.metadata:
            out.append(f"cell {where}: metadata differs (grade id, points or locks)")
        elif a.cell_type == "code":
            ua, ub = units(a), units(b)
            if [u.context for u in ua] != [u.context for u in ub] or _skeleton(a) != _skeleton(b):
                out.append(f"cell {where}: code differs beyond its texts")
            else:
                out += [f"{u.context}: {why}" for u, v in zip(ua, ub)
                        if (why := check_translation(u, v.text)) is not None]
    return out


# ---- the editions of a course -----------------------------------------------------------------

def edition_of(assignment: str) -> tuple[str, str] | None:
    """``(English assignment, language)`` for an edition's name (``score_matching_ru``), else None."""
    base, _, language = assignment.rpartition("_")
    return (base, language) if base and language in LANGUAGES else None


def catalogues(root: str | Path) -> list[tuple[str, str]]:
    """``(assignment, language)`` of every catalogue ``translations/<language>/<assignment>.po``
    whose English notebook exists."""
    root = Path(root)
    return sorted((po.stem, po.parent.name) for po in (root / "translations").glob("*/*.po")
                  if po.parent.name in LANGUAGES and (root / "source" / po.stem / f"{po.stem}.ipynb").is_file())


def edition_notebook(root: str | Path, assignment: str, language: str):
    """The edition built from the course's English notebook and catalogue (a notebook node)."""
    root = Path(root)
    english = nbformat.read(root / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    return build(english, read_catalogue(catalogue_path(root, assignment, language)), language)


def write_editions(root: str | Path) -> list[Path]:
    """Write ``source/<a>_<lang>/<a>_<lang>.ipynb`` for every catalogue; return the paths written."""
    root, written = Path(root), []
    for assignment, language in catalogues(root):
        name = edition_name(assignment, language)
        path = root / "source" / name / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(edition_notebook(root, assignment, language), path)
        written.append(path)
    return written


def editions_out_of_sync(root: str | Path) -> list[str]:
    """What differs between each committed edition and a fresh build ([] when in sync)."""
    root, problems = Path(root), []
    for assignment, language in catalogues(root):
        name = edition_name(assignment, language)
        path = root / "source" / name / f"{name}.ipynb"
        fix = "run `python -m reference_solution release`"
        try:
            fresh = edition_notebook(root, assignment, language)
        except ValueError as exc:
            problems.append(f"{name}: {exc} (translate with `python -m reference_solution translate "
                            f"{assignment} --language {language}`, then {fix})")
            continue
        if not path.is_file():
            problems.append(f"source/{name}/{name}.ipynb is missing: {fix}")
        elif nbformat.writes(nbformat.read(path, as_version=4)) != nbformat.writes(fresh):
            problems.append(f"source/{name}/{name}.ipynb differs from a fresh build: {fix}")
    return problems
