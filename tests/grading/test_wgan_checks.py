"""Hidden checks of ``wgan_anomalies`` against the reference and the mutant catalogue, in process.

Every mutant (``mutants_wgan.MUTANTS``) is a substring edit of a solution cell; its namespace is
built by ``notebook_namespace.build_namespace`` and each check runs through the same
challenge -> probe -> verdict path as in grading (``protocol.run_in_process``, fixed seeds). A
mutant must fail exactly its grade ids (``may_fail`` ids either way); ``VALID`` alternatives keep
every check. The convergence checks run on the reference and one broken trainer (slow).
"""

from __future__ import annotations

import pytest
from mutants_wgan import (
    ANOM,
    BAD,
    BAL,
    BALL,
    CHI,
    CLF,
    CPU_CONV,
    CRIT,
    DS_C,
    FROZEN,
    FULL,
    GEN,
    GP,
    GP_C,
    INOUT,
    ITEMS,
    LOGIT,
    MASK,
    MMAP,
    MUTANTS,
    NCRIT,
    NET,
    OPT,
    OPT_C,
    RADII,
    REJ,
    SAMP,
    SCHED,
    SCORE,
    SIGNS,
    SPHERE,
    TCLF,
    TRAIN,
    VALID,
)

from reference_solution.course.notebook_namespace import build_namespace, solution_cells, submitted_context
from reference_solution.course.submissions import apply_mutation
from reference_solution.grading.protocol import registry, run_in_process

ASSIGNMENT = "wgan_anomalies"
CHEAP = (ITEMS, MMAP, BAD, GEN, CRIT, OPT, GP, SIGNS, NCRIT, MASK, SCHED,
         SPHERE, BALL, INOUT, CHI, REJ, LOGIT, FROZEN, BAL, ANOM)
# Which solution cells each check exercises (a mutant of another cell cannot change its result).
CELL_CHECKS = {
    ITEMS: (DS_C,), MMAP: (DS_C,), BAD: (DS_C,), GEN: (NET,), CRIT: (NET,),
    OPT: (NET, OPT_C), GP: (GP_C,),
    SIGNS: (TRAIN, GP_C), NCRIT: (TRAIN, GP_C), MASK: (TRAIN, GP_C), SCHED: (TRAIN, GP_C),
    SPHERE: (SAMP,), BALL: (SAMP,), INOUT: (SAMP,), CHI: (RADII,), REJ: (RADII,), LOGIT: (CLF,),
    FROZEN: (TCLF,), BAL: (TCLF,), ANOM: (SCORE,),
}
SANITY = (GEN, GP, CHI, REJ, LOGIT)  # cheap checks run for every case: they must keep passing
SECONDS = 6.0  # probe time limit here: mutants that never finish cost seconds, not minutes
SEED = 20261201

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def selected(mutant) -> list[str]:
    if mutant is None:
        return list(CHEAP)
    wanted = set(mutant.expected_failing) | set(mutant.may_fail) | set(SANITY)
    wanted |= {g for g, cells in CELL_CHECKS.items() if mutant.cell_grade_id in cells}
    return [g for g in CHEAP if g in wanted]


def replacements_of(mutant) -> dict[str, str]:
    replacements = {}
    if mutant is not None:
        source = solution_cells(ASSIGNMENT)[mutant.cell_grade_id]
        replacements[mutant.cell_grade_id] = apply_mutation(source, mutant.old, mutant.new)
    return replacements


def namespace(mutant) -> dict:
    return build_namespace(ASSIGNMENT, replacements_of(mutant), scoring=ANOM in selected(mutant))


def failures(mutant, seed: int = SEED) -> tuple[list[str], set[str]]:
    ns, ran, failed = namespace(mutant), selected(mutant), set()
    context = submitted_context(ASSIGNMENT, replacements_of(mutant))  # settings read from the cells, as under nbgrader
    for name in ran:
        try:
            run_in_process(name, ns, seed=seed, seconds=SECONDS, context=context)
        except AssertionError:
            failed.add(name)
    return ran, failed


@pytest.mark.parametrize("mutant", [None] + MUTANTS + VALID,
                         ids=lambda m: "reference" if m is None else m.name.replace(" ", "_"))
def test_checks_fail_exactly_where_expected(mutant):
    ran, failed = failures(mutant)
    must = set() if mutant is None else set(mutant.expected_failing) & set(CHEAP)
    allowed = must | (set() if mutant is None else set(mutant.may_fail))
    name = "reference" if mutant is None else mutant.name
    assert must <= set(ran), f"{name}: expected failures {sorted(must - set(ran))} were not run"
    assert must <= failed, f"{name}: not caught by {sorted(must - failed)}"
    assert failed <= allowed, f"{name}: wrongly failed {sorted(failed - allowed)}"


def test_catalogue_is_large_and_names_real_grade_ids():
    import nbformat

    from reference_solution.course.notebook_namespace import REPO

    nb = nbformat.read(REPO / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    graded = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    assert len(MUTANTS) >= 25 and len(VALID) >= 5
    for m in MUTANTS:
        assert set(m.expected_failing) <= graded, m.name
    assert set(CHEAP) | {CPU_CONV, FULL} == graded
    assert graded <= set(registry())


@pytest.mark.slow
@pytest.mark.parametrize("mutant", [None, *(next(m for m in MUTANTS if m.name == n) for n in (
    "wrong generator loss sign", "wrong critic loss sign", "penalty subtracted"))],
    ids=["reference", "generator_sign_flipped", "critic_sign_flipped", "penalty_subtracted"])
def test_cpu_convergence_check(mutant):
    ns = namespace(mutant)
    if mutant is None:
        run_in_process(CPU_CONV, ns, seed=SEED)
    else:
        with pytest.raises(AssertionError):
            run_in_process(CPU_CONV, ns, seed=SEED)


def test_penalty_critics_draw_only_activations_the_kernel_builds():
    from reference_solution.grading import wgan_networks

    assert set(wgan_networks.ACTIVATIONS) == set(wgan_networks._activations())
