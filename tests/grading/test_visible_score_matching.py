"""The visible tests of ``score_matching`` against the mutant catalogue, in process: what the
student sees before submitting.

A realistic bug of exercise X that the visible budget can show must fail a visible test of X (one
of the grade ids the mutant lists in ``expected_failing``, unless the mutant is in ``UNSEEN``:
only a hidden check can tell), with a message that says what is wrong, and no visible test may
blame a cell the bug is not in or does not reach (a failure outside ``expected_failing`` and
``may_fail``: under nbgrader an error in a test cell's visible part costs that cell's points).
The reference and the ``VALID`` alternatives pass every visible test. The sampling cell's
visible test judges the student's own samples with the hidden check's bars
(``coursekit.moons_quality``).
"""

from __future__ import annotations

import pytest
import torch
from mutants_score_matching import DEV, DSM, FWD, HYP, LANG, LOOP, MUTANTS, NEAR, SAMPLE, SCORE, VALID
from test_score_matching_checks import replacements_of
from visible_parts import judge, run_visible, visible_sources

from reference_solution.course.notebook_namespace import REPO, build_namespace
from reference_solution.coursekit.moons import moons_points
from reference_solution.coursekit.moons_quality import uniform_cloud

ASSIGNMENT = "score_matching"
CHEAP = (FWD, DSM, LANG, SAMPLE, DEV, HYP, SCORE, LOOP)
# Mutants that only a hidden check can tell, each with why the visible budget cannot show it.
UNSEEN: dict[str, str] = {}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def visible_failures(mutant) -> dict[str, str]:
    """``{grade_id: message}`` of the cheap visible tests that fail on ``mutant`` (None: the reference)."""
    cells, _ = visible_sources(ASSIGNMENT)
    torch.manual_seed(0)
    ns = build_namespace(ASSIGNMENT, replacements_of(mutant))
    exec(cells["test_helper_zero_score"], ns)  # noqa: S102 - the notebook's helper cell
    return {gid: message for gid in CHEAP if (message := run_visible(cells[gid], gid, ns))}


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name.replace(" ", "_"))
def test_visible_tests_catch_the_bug_and_blame_its_exercise(mutant):
    judge(mutant, visible_failures(mutant), set(CHEAP), UNSEEN)


@pytest.mark.parametrize("mutant", [None, *VALID], ids=lambda m: "reference" if m is None else m.name.replace(" ", "_"))
def test_right_answers_pass_every_visible_test(mutant, capsys):
    assert visible_failures(mutant) == {}


def test_the_sampling_visible_test_judges_the_samples_with_the_hidden_bars(capsys, monkeypatch, tmp_path):
    """The reference's own 5000 samples pass; a cloud over the moons' box and samples all on one
    moon fail, with the bar and the exercises they come from in the message."""
    monkeypatch.syspath_prepend(str(REPO / "release" / ASSIGNMENT))  # coursekit, as beside the notebook
    cells, _ = visible_sources(ASSIGNMENT)
    ns = build_namespace(ASSIGNMENT)
    ns.update(NUM_STEPS=1000, ETA=0.01)
    exec(  # noqa: S102 - the notebook's training and sampling cells, without the plots
        "train_model(matcher, train_loader, test_loader, epochs=EPOCHS, optimizer=optimizer, scheduler=scheduler,\n"
        "            device=torch.device('cpu'), progress=False)\n"
        "with torch.no_grad():\n"
        "    samples = matcher.sample(num_samples=5000, num_steps=NUM_STEPS, eta=ETA).cpu()\n", ns)
    exec(cells[NEAR], ns)  # noqa: S102
    assert "visible test passed" in capsys.readouterr().out
    points, labels = moons_points(10000, noise=0.1, seed=3)
    for bad, why in ((uniform_cloud(5000), "off the moons' shape"),
                     (torch.from_numpy(points[labels == 0][:5000]).float(), "lie on one of the moons")):
        ns["samples"] = bad
        with pytest.raises(AssertionError, match=why) as caught:
            exec(cells[NEAR], ns)  # noqa: S102
        assert "DenoisingScoreMatcher" in str(caught.value) and "NUM_STEPS" in str(caught.value)
