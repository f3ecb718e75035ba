"""The visible tests of ``wgan_anomalies`` against the mutant catalogue, in process: what the
student sees before submitting (the rules of ``test_visible_score_matching``).

The notebook's cells run as under grading (32 px, 128 latents, the grading data); the Part 3
radii cell and its visible tests also run at the CPU run's 8 latents, where a quantile hard-coded
for 128 shows. The training-convergence tests read the notebook's own training run and are left
to the course batches.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mutants_wgan import (
    ANOM,
    CHI,
    CPU_CONV,
    FULL,
    MUTANTS,
    REJ,
    VALID,
)
from visible_parts import judge, run_visible, visible_sources

from reference_solution.course.notebook_namespace import build_namespace, solution_cells
from reference_solution.course.submissions import apply_mutation

ASSIGNMENT = "wgan_anomalies"
# The scoring cell runs the student's classifier: when it crashes, the scoring test's visible part
# fails too (listed in the catalogue's may_fail) and must say why.
DEPENDS_ON = {ANOM: "did not run to its end"}
# Mutants that only a hidden check can tell, each with why the visible budget cannot show it.
UNSEEN = {
    "cube rejection instead of the ball law": "right in the visible tests' 2-D case; at n = 128 it never ends, "
                                              "which the hidden test's time limit catches",
    "rejection probability hard-coded 48/49": "right for the notebook's QUANTILE; only running the cell again "
                                              "with another QUANTILE (the hidden test) tells",
}
RADII_TESTS = (CHI, REJ)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def visible_failures(mutant) -> dict[str, str]:
    """``{grade_id: message}`` of the visible tests that fail on ``mutant`` (None: the reference)."""
    cells, tests = visible_sources(ASSIGNMENT)
    tests = [t for t in tests if t not in (CPU_CONV, FULL)]
    replacements = {}
    if mutant is not None:
        source = solution_cells(ASSIGNMENT)[mutant.cell_grade_id]
        replacements[mutant.cell_grade_id] = apply_mutation(source, mutant.old, mutant.new)
    torch.manual_seed(0)
    np.random.seed(0)
    ns = build_namespace(ASSIGNMENT, replacements)  # its scoring cell leaves the grading data in files
    ns.update(SIZE=32, mask=torch.from_numpy(np.load(ns["files"].mask)).float())
    exec(cells["visible_test_helpers"], ns)  # noqa: S102
    failed = {g: m for g in tests if (m := run_visible(cells[g], g, ns))}
    radii = replacements.get("latent_radii_code", solution_cells(ASSIGNMENT)["latent_radii_code"])
    small = dict(ns, latent_dim=8)  # the CPU run's latent size
    exec(radii, small)  # noqa: S102
    for g in RADII_TESTS:
        if g not in failed and (m := run_visible(cells[g], g, small)):
            failed[g] = f"(latent_dim = 8) {m}"
    return failed


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name.replace(" ", "_"))
def test_visible_tests_catch_the_bug_and_blame_its_exercise(mutant):
    ran = set(visible_sources(ASSIGNMENT)[1]) - {CPU_CONV, FULL}
    judge(mutant, visible_failures(mutant), ran, UNSEEN, DEPENDS_ON)


def test_unseen_mutants_are_in_the_catalogue():
    assert set(UNSEEN) <= {m.name for m in MUTANTS}


@pytest.mark.parametrize("mutant", [None, *VALID], ids=lambda m: "reference" if m is None else m.name.replace(" ", "_"))
def test_right_answers_pass_every_visible_test(mutant):
    assert visible_failures(mutant) == {}
