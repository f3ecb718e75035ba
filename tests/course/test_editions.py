"""Language editions: the Russian notebook is the English one with its texts translated, nothing
else; the catalogue cannot fall behind the English text unnoticed; nbgrader takes the edition."""

from __future__ import annotations

import ast
import shutil
import string
from pathlib import Path

import nbformat
import pytest

from reference_solution.course import catalogues, editions
from reference_solution.course import release as course

REPO = Path(__file__).resolve().parents[2]
EDITIONS = catalogues.catalogues(REPO)


def english(assignment: str):
    return nbformat.read(REPO / "source" / assignment / f"{assignment}.ipynb", as_version=4)


def committed(assignment: str, language: str):
    name = editions.edition_name(assignment, language)
    return nbformat.read(REPO / "source" / name / f"{name}.ipynb", as_version=4)


def test_the_russian_edition_of_assignment_2_exists():
    assert ("score_matching", "ru") in EDITIONS
    assert "score_matching_ru" in course.assignments(REPO)
    assert "score_matching_ru" not in course.assignments(REPO, editions=False)


@pytest.mark.parametrize("assignment, language", EDITIONS)
def test_every_english_text_has_a_current_translation(assignment, language):
    """Fails when an English text changed and its translation was not revisited."""
    catalogue = catalogues.read_catalogue(catalogues.catalogue_path(REPO, assignment, language))
    problems = editions.missing(english(assignment), catalogue)
    assert not problems, (f"translations/{language}/{assignment}.po is behind the English notebook: "
                          f"run `python -m reference_solution translate {assignment} --language {language}`, "
                          "translate the fuzzy and empty messages, then `python -m reference_solution release`:\n  "
                          + "\n  ".join(problems))


@pytest.mark.parametrize("language", sorted({lang for _, lang in EDITIONS}))
def test_every_hidden_check_of_an_edition_has_a_current_description(language):
    """The feedback names each check with its one-line description: in the edition's language."""
    units = catalogues.check_units(REPO, language)
    docs = catalogues.check_docs(REPO, language)
    stale = [u.context for u in units if u.context not in docs]
    assert units and not stale, (f"translations/{language}/checks.po lacks current translations of {stale}: "
                                 "run `python -m reference_solution translate <assignment>` and translate them")


def test_committed_editions_are_fresh_builds():
    problems = catalogues.editions_out_of_sync(REPO)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("assignment, language", EDITIONS)
def test_editions_differ_in_their_texts_only(assignment, language):
    """Same cells, ids, grade ids, points, locks and code; only the texts are translated."""
    ours, theirs = english(assignment), committed(assignment, language)
    assert editions.differences(ours, theirs) == []
    assert theirs.metadata["language_edition"] == language
    translated = sum(a.source != b.source for a, b in zip(ours.cells, theirs.cells))
    assert translated >= 0.9 * sum(bool(editions.units(c)) for c in ours.cells)
    for cell in theirs.cells:
        if cell.cell_type == "code":
            ast.parse(editions._parsable(cell.source))  # the edition's code still parses


def test_the_russian_texts_are_russian_and_keep_the_maths():
    ours, theirs = english("score_matching"), committed("score_matching", "ru")
    for a, b in zip(ours.cells, theirs.cells):
        if a.cell_type != "markdown" or not a.source.strip():
            continue
        letters = [ch for ch in b.source if ch.isalpha()]
        cyrillic = sum("\u0400" <= ch <= "\u04ff" for ch in letters)
        assert cyrillic > 0.3 * len(letters), f"cell {a.id} does not read as Russian"
        assert a.source.count("$") == b.source.count("$"), f"cell {a.id}: the formulas differ"
    text = "\n".join(c.source for c in theirs.cells)
    for term in ("score-функци", "дивергенци", "динамик", "Ланжевен", "марковск"):
        assert term in text, f"the seed's term {term!r} is missing"


def test_a_changed_english_text_is_caught_and_kept_for_the_translator(tmp_path):
    nb = english("score_matching")
    path = tmp_path / "score_matching.po"
    shutil.copy(catalogues.catalogue_path(REPO, "score_matching", "ru"), path)
    markdown = next(c for c in nb.cells if c.cell_type == "markdown")
    code, literal = next((c, u) for c in nb.cells if c.cell_type == "code" for u in editions.units(c)
                         if '"' in u.context and " should " in u.text)
    markdown.source += "\n\nA new English sentence."
    code.source = code.source.replace(literal.text, literal.text.replace(" should ", " must ", 1), 1)
    problems = editions.missing(nb, catalogues.read_catalogue(path))
    assert {p.split(":")[0] for p in problems} == {markdown.id, literal.context}
    with pytest.raises(ValueError, match="behind the English"):
        editions.build(nb, catalogues.read_catalogue(path), "ru")
    todo = catalogues.update_catalogue(nb, path, "ru")
    assert set(todo) == {markdown.id, literal.context}
    kept = {m.context: m for m in catalogues.read_catalogue(path) if m.id}
    assert kept[markdown.id].fuzzy and kept[markdown.id].string  # the old translation, to revisit
    assert catalogues.ENGLISH_BEFORE in kept[markdown.id].user_comments  # beside the old English
    assert any("This assignment has three parts" in line for line in kept[markdown.id].user_comments)


@pytest.mark.parametrize("bad, why", [
    ('"безобидный текст {x}"', "fields"),  # an f-string's field lost its f
    ("print('взлом')", "literal"),  # code smuggled in as a translation
    ('f"{__import__(\'os\').getcwd()}"', "fields"),  # a field the English does not have
])
def test_a_translation_that_would_change_the_code_is_refused(bad, why):
    unit = editions.Unit('abc"1', 'f"value {x}"')
    assert why in (editions.check_translation(unit, bad) or "")
    assert editions.check_translation(unit, 'f"значение {x}"') is None
    comment = editions.Unit("abc#1", "# a comment")
    assert editions.check_translation(comment, "# комментарий\nimport os") is not None


def test_markers_and_pragmas_are_not_translated():
    cell = nbformat.v4.new_code_cell('### BEGIN SOLUTION\nx = 1  # noqa: F401\n### END SOLUTION\n# keep me\n', id="c1")
    assert [u.text for u in editions.units(cell)] == ["# keep me"]


def test_the_editions_release_is_generated_and_validated_by_nbgrader():
    """nbgrader generated release/score_matching_ru from the edition: same grade cells and points."""
    ours = nbformat.read(REPO / "release" / "score_matching" / "score_matching.ipynb", 4)
    theirs = nbformat.read(REPO / "release" / "score_matching_ru" / "score_matching_ru.ipynb", 4)

    def grades(nb):
        return [(c.metadata["nbgrader"].get("grade_id"), c.metadata["nbgrader"].get("points"))
                for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]

    assert grades(ours) == grades(theirs) and grades(ours)
    assert "YOUR ANSWER HERE" in "".join(c.source for c in theirs.cells)  # answers cleared, as in English


@pytest.mark.slow
def test_the_russian_edition_is_graded_by_the_same_checks_with_feedback_in_russian():
    """Plain `nbgrader autograde score_matching_ru` in a scratch course: the complete submission earns
    every autograded point and the blank one none, as in English; the feedback is in Russian."""
    from reference_solution.course.autograde import ScratchCourse, example_submissions
    from reference_solution.course.feedback import ALLOW_FLAG

    name = "score_matching_ru"
    with ScratchCourse(REPO, name, nbgrader_args=("--Execute.timeout=120",)) as scratch:
        subs = example_submissions(REPO, name, scratch.release_dir)
        results = scratch.grade({"blank": subs["blank"], "complete": subs["complete"]})
        course.run_nbgrader(["generate_feedback", name, "--force", ALLOW_FLAG], scratch.course_dir,
                            course.nbgrader_env(REPO))
        feedback = (scratch.course_dir / "feedback" / "complete" / name / f"{name}.html").read_text()
        blank_feedback = (scratch.course_dir / "feedback" / "blank" / name / f"{name}.html").read_text()
    complete, blank = results["complete"], results["blank"]
    auto = [g for g, r in complete.grades.items() if not r.needs_manual_grade]
    assert auto and all(complete.grades[g].score == complete.grades[g].max_score for g in auto), complete.messages
    assert blank.total == 0
    release = nbformat.read(REPO / "release" / "score_matching" / "score_matching.ipynb", 4)
    english_ids = {c.metadata["nbgrader"]["grade_id"] for c in release.cells
                   if c.metadata.get("nbgrader", {}).get("grade")}
    assert set(complete.grades) == english_ids  # the same grade ids (and, above, the same points)
    docs = catalogues.check_docs(REPO, "ru")
    for russian in ("Задача 3. Зашумлённый метод оценивания score-функции", "видимый тест пройден",
                    f"✓ samples_land_near_the_moons: {docs['samples_land_near_the_moons']}"):
        assert russian in feedback
    assert "Скрытая проверка не пройдена: samples_land_near_the_moons" in blank_feedback
    assert docs["forward_returns_per_element_dsm_error"] in blank_feedback


def format_fields(template: str) -> list[str]:
    return sorted(field for _, field, _, _ in string.Formatter().parse(template) if field)


@pytest.mark.parametrize("language", sorted({lang for _, lang in EDITIONS}))
def test_every_support_text_of_an_edition_has_a_current_translation(language):
    """The explorers' labels and hints (coursekit's tr(...) templates) come in the edition's language."""
    units = course.edition_support_units(REPO, language)
    texts = catalogues.support_texts(REPO, language)
    stale = [u.text for u in units if u.text not in texts]
    assert units and not stale, (f"translations/{language}/coursekit.po lacks {stale}: run "
                                 "`python -m reference_solution translate <assignment>` and translate them")
    for english, translated in texts.items():  # the same {fields}, or tr() would raise in the notebook
        assert format_fields(english) == format_fields(translated), english


def test_the_editions_support_package_speaks_russian(tmp_path):
    """The Langevin explorer of the Russian release labels its figure and controls in Russian."""
    import importlib
    import sys

    shutil.copytree(REPO / "release" / "score_matching_ru" / "coursekit", tmp_path / "coursekit")
    sys.path.insert(0, str(tmp_path))
    try:
        for name in [m for m in sys.modules if m == "coursekit" or m.startswith("coursekit.")]:
            del sys.modules[name]
        language = importlib.import_module("coursekit.language")
        assert language.LANGUAGE == "ru"
        assert language.tr("Langevin step {step} of {steps}, eta = {eta:.4f}", step=3, steps=10, eta=0.01) == \
            "Шаг Ланжевена 3 из 10, eta = 0.0100"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "coursekit" or m.startswith("coursekit.")]:
            del sys.modules[name]
