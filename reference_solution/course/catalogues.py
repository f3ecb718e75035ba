"""The gettext catalogues of the language editions: reading and updating them, and the editions,
check descriptions and support-code texts they make.

``translations/<lang>/<assignment>.po`` holds a notebook's texts (``editions.units``),
``translations/<lang>/checks.po`` the hidden checks' one-line descriptions (the autograded
notebook and the feedback show them) and ``translations/<lang>/coursekit.po`` the support code's
own texts (``coursekit.language.tr``). ``python -m reference_solution translate <assignment>``
brings all three in line with the English sources; ``python -m reference_solution release``
builds the editions from them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

from .editions import LANGUAGES, Unit, build, edition_name, edition_of, notebook_units

__all__ = ["catalogue_path", "read_catalogue", "update_catalogue", "update_messages", "catalogues",
           "edition_notebook", "write_editions", "editions_out_of_sync", "CHECK_LABELS", "checks_path",
           "check_units", "check_docs", "support_path", "support_units", "support_texts",
           "language_module"]

ENGLISH_BEFORE = "The English text before it changed:"

# What the executor writes around a check's description, per language.
CHECK_LABELS = {"ru": {"failed": "Скрытая проверка не пройдена", "passed": "✓"}}


def catalogue_path(root: str | Path, assignment: str, language: str) -> Path:
    return Path(root) / "translations" / language / f"{assignment}.po"


def read_catalogue(path: str | Path):
    from babel.messages.pofile import read_po

    with open(path, "rb") as f:
        return read_po(f)


def update_catalogue(nb, path: str | Path, language: str) -> list[str]:
    """Bring the catalogue at ``path`` in line with the English notebook ``nb``: a new text gets an
    empty message; a changed text keeps its old translation, marked fuzzy, with the old English in
    translator comments; a text gone from the notebook is dropped. Returns the contexts to
    translate or revisit (remove the fuzzy flag once the translation is right)."""
    return update_messages(notebook_units(nb), path, language)


def _cell_of(context: str) -> str:
    return re.split(r'["#]', context, maxsplit=1)[0]


def update_messages(texts: list[Unit], path: str | Path, language: str) -> list[str]:
    """``update_catalogue`` for any ``(context, English text)`` units (e.g. the hidden checks')."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    path = Path(path)
    old = read_catalogue(path) if path.is_file() else Catalog(locale=language)
    by_context = {m.context: m for m in old if m.id}
    # A text that only moved (a new text before it in its cell renumbers the contexts) keeps its
    # translation: matched by its cell and its English text first.
    by_text = {(_cell_of(m.context), m.id): m for m in old if m.id and m.string and not m.fuzzy}
    # The old dates kept: rerunning on an unchanged notebook leaves the file byte for byte.
    new = Catalog(locale=language, project="generative-models course", charset="utf-8",
                  creation_date=old.creation_date, revision_date=old.revision_date)
    todo = []
    for unit in texts:
        before = by_context.get(unit.context)
        if before is None or before.id != unit.text:
            before = by_text.get((_cell_of(unit.context), unit.text), before)
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


def edition_check_texts(assignment: str, course_root: Path | None, package_root: Path) -> tuple[str, dict[str, str]]:
    """``(label of a failed check, {check: description})`` for grading ``assignment``: English
    (empty descriptions: each check's own) unless it is an edition. The translations are the
    course's, or the instructor package's checkout's when the course (a scratch copy) has none."""
    edition = edition_of(assignment)
    if edition is None:
        return "Hidden check failed", {}
    root = course_root if course_root is not None and (course_root / "translations").is_dir() else package_root
    return CHECK_LABELS.get(edition[1], {}).get("failed", "Hidden check failed"), check_docs(root, edition[1])


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


def support_path(root: str | Path, language: str) -> Path:
    return Path(root) / "translations" / language / "coursekit.po"


def support_units(modules: list[Path]) -> list[Unit]:
    """The English templates passed to ``tr(...)`` in the support modules (context: the module's
    name), literally or through a module-level string constant."""
    found: list[Unit] = []
    for path in modules:
        tree = ast.parse(path.read_text())
        constants = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                     and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                     for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tr" and node.args:
                arg = node.args[0]
                text = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else \
                    constants.get(arg.id) if isinstance(arg, ast.Name) else None
                if text is None:
                    raise ValueError(f"{path.name}: tr() needs a string literal or a module constant, "
                                     f"line {node.lineno}")
                found.append(Unit(path.stem, text))
    return list(dict.fromkeys(found))


def support_texts(root: str | Path, language: str) -> dict[str, str]:
    """``{English template: translation}`` of the current, non-fuzzy support-code messages."""
    path = support_path(root, language)
    if not path.is_file():
        return {}
    return {m.id: m.string for m in read_catalogue(path) if m.id and m.string and not m.fuzzy}


def language_module(original: str, language: str, texts: dict[str, str]) -> str:
    """The edition's ``coursekit/language.py``: the original with ``LANGUAGE`` and ``TEXTS`` set."""
    body = "".join(f"    {english!r}: {translated!r},\n" for english, translated in sorted(texts.items()))
    out = original.replace('LANGUAGE = "en"\n', f"LANGUAGE = {language!r}\n", 1)
    out = out.replace("TEXTS: dict[str, str] = {}  # English template -> translated template\n",
                      "TEXTS: dict[str, str] = {  # English template -> translated template\n" + body + "}\n", 1)
    if out == original and texts:
        raise ValueError("coursekit/language.py no longer has the LANGUAGE and TEXTS lines editions fill")
    return out
