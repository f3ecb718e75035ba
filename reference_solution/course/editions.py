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
  ``print``, ``AssertionError``, ``ValueError`` and matplotlib's title and axis-label calls, and
  the keyword arguments in ``TEXT_KEYWORDS`` (legend and widget labels).
- the support code's own texts (``coursekit``: an explorer's labels, its hints), the templates
  passed to ``coursekit.language.tr``, in ``translations/<lang>/coursekit.po``; an edition's copy
  of ``coursekit/language.py`` carries them (``language_module``).
- the hidden checks' one-line descriptions, in ``translations/<lang>/checks.po``.

A translated literal must be a literal of the same kind with the same ``{...}`` fields, so the
code of both editions is the same code.

Cells, their order, ids, metadata (grade ids, points, locks) and every other character of the
code are copied unchanged; ``differences`` proves it for a built edition.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

import nbformat

__all__ = ["LANGUAGES", "Unit", "units", "notebook_units", "build", "missing", "differences",
           "check_translation", "edition_name", "edition_of"]

LANGUAGES = {"ru": "Русский"}  # edition suffix -> language name
TEXT_KEYWORDS = {"title", "xlabel", "ylabel", "label", "labels", "desc", "description", "text"}
TEXT_CALLS = {"print", "AssertionError", "ValueError",  # and matplotlib's titles and axis labels:
              "title", "suptitle", "xlabel", "ylabel", "set_title", "set_xlabel", "set_ylabel"}


@dataclass(frozen=True)
class Unit:
    context: str  # where: "<cell id>", "<cell id>#<k>" (a comment), '<cell id>"<k>' (a literal)
    text: str  # the English text (a literal: its Python source, quotes and prefix included)
    start: int = 0  # offset of the text in the cell's source (0 for a markdown cell)
    end: int = 0  # offset just after it


def edition_name(assignment: str, language: str) -> str:
    return f"{assignment}_{language}"


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


def _translations(catalogue) -> dict[tuple[str, str], str]:
    return {(m.context, m.id): m.string for m in catalogue if m.id and m.string and not m.fuzzy}


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


def edition_of(assignment: str) -> tuple[str, str] | None:
    """``(English assignment, language)`` for an edition's name (``score_matching_ru``), else None."""
    base, _, language = assignment.rpartition("_")
    return (base, language) if base and language in LANGUAGES else None


