"""Hidden checks of ``score_matching`` against the reference and the mutant catalogue, in process.

Every mutant (``mutants_score_matching.MUTANTS``) is a substring edit of a solution cell; each
check runs through the challenge -> probe -> verdict path of grading (``run_in_process``, fixed
seeds) and must fail exactly for the grade ids the mutant lists (``may_fail`` either way).
``VALID`` edits are alternatives that must keep every mark.
"""

from __future__ import annotations

import pytest
from mutants_score_matching import DEV, DSM, FWD, HYP, LANG, LOOP, MUTANTS, NEAR, SAMPLE, SCORE, VALID

from reference_solution.course.notebook_namespace import build_namespace, solution_cells, submitted_context
from reference_solution.course.submissions import apply_mutation
from reference_solution.grading.protocol import run_in_process

ASSIGNMENT = "score_matching"
CHEAP = (FWD, DSM, LANG, SAMPLE, DEV, HYP, SCORE, LOOP)
SEED = 20261201

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def replacements_of(mutant) -> dict[str, str]:
    replacements = {}
    if mutant is not None:
        source = solution_cells(ASSIGNMENT)[mutant.cell_grade_id]
        replacements[mutant.cell_grade_id] = apply_mutation(source, mutant.old, mutant.new)
    return replacements


def namespace(mutant) -> dict:
    return build_namespace(ASSIGNMENT, replacements_of(mutant))


def failures(mutant, seed: int = SEED) -> set[str]:
    ns, failed = namespace(mutant), set()
    context = submitted_context(ASSIGNMENT, replacements_of(mutant))  # settings read from the cells, as under nbgrader
    for name in CHEAP:
        try:
            run_in_process(name, ns, seed=seed, seconds=30, context=context)
        except AssertionError:
            failed.add(name)
    return failed


@pytest.mark.parametrize("mutant", MUTANTS + VALID, ids=lambda m: m.name.replace(" ", "_"))
def test_checks_fail_exactly_where_expected(mutant):
    failed = failures(mutant)
    must = set(mutant.expected_failing) & set(CHEAP)
    allowed = must | set(mutant.may_fail)
    assert must <= failed, f"{mutant.name}: not caught by {sorted(must - failed)}"
    assert failed <= allowed, f"{mutant.name}: wrongly failed {sorted(failed - allowed)}"


def test_reference_passes_every_check_including_the_moons():
    assert failures(None) == set()
    ns = namespace(None)
    ns.update(NUM_STEPS=1000, ETA=0.01)
    run_in_process(NEAR, ns, seed=SEED)


def test_too_few_langevin_steps_and_bad_hyperparameter_types_fail():
    """The moons check trains its own network with the notebook's loop and samples it with the
    notebook's NUM_STEPS and ETA: three steps from U[-1, 1]^2 do not reach the moons."""
    ns = namespace(None)
    ns.update(NUM_STEPS=3, ETA=0.01)
    with pytest.raises(AssertionError, match="moons"):
        run_in_process(NEAR, ns, seed=SEED)
    for name, value in (("EPOCHS", True), ("LR", "0.01"), ("HIDDEN_SIZE", 64.0)):
        bad = dict(ns, **{name: value})
        with pytest.raises(AssertionError):
            run_in_process(HYP, bad, seed=SEED)
