"""Grading checks of the score_matching notebook against the reference and a mutant catalogue.

Every mutant is a substring edit of a solution cell of ``source/score_matching/score_matching.ipynb``
(``MUTANTS``, exported for the nbgrader harness). In-process, the cells are exec'd with the edit
applied and each cheap check must fail exactly for the grade ids the mutant lists (``may_fail``
ids are allowed either way). ``VALID`` edits are alternatives that must keep every mark.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reference_solution.grading import fresh
from reference_solution.submissions import Mutant

NOTEBOOK = Path(__file__).resolve().parents[2] / "source" / "score_matching" / "score_matching.ipynb"
CLASS, HYPER, NET, TRAIN = ("denoising_score_matcher_code", "hyperparameters", "score_network",
                            "train_model_code")




FWD, DSM, LANG, SAMPLE, DEV = ("forward_returns_per_element_dsm_error",
                               "dsm_error_matches_the_closed_form",
                               "langevin_step_matches_the_update_rule",
                               "sample_returns_detached_samples",
                               "matcher_runs_on_the_models_device")
HYP, SCORE, LOOP, NEAR = ("hyperparameters_within_the_seed_bounds",
                          "score_network_maps_points_to_scores",
                          "training_loop_updates_the_model", "samples_land_near_the_moons")

MUTANTS = [
    Mutant("noise not scaled by sigma", CLASS, "noisy_x = x + self.sigma * eps",
           "noisy_x = x + eps", (DSM,), (NEAR,)),
    Mutant("target +eps/sigma sign flipped", CLASS, "(s + eps / self.sigma) ** 2",
           "(s - eps / self.sigma) ** 2", (DSM, NEAR)),
    Mutant("target eps instead of eps/sigma", CLASS, "(s + eps / self.sigma) ** 2",
           "(s + eps) ** 2", (FWD, DSM), (NEAR,)),
    Mutant("loss averaged instead of per element", CLASS, "loss = (s + eps / self.sigma) ** 2",
           "loss = ((s + eps / self.sigma) ** 2).mean()", (FWD, DSM)),
    Mutant("noise shared across the batch", CLASS, "eps = torch.randn_like(x)\n        noisy_x",
           "eps = torch.randn_like(x[0])\n        noisy_x", (FWD,), (DSM, NEAR)),
    Mutant("eta instead of eta/2 in the drift", CLASS, "x = x + eta / 2 * self.score_model(x)",
           "x = x + eta * self.score_model(x)", (LANG,), (NEAR,)),
    Mutant("eta instead of sqrt(eta) for the noise", CLASS, "math.sqrt(eta) * eps", "eta * eps",
           (LANG, SAMPLE), (NEAR,)),
    Mutant("Langevin without noise", CLASS, " + math.sqrt(eta) * eps", "", (LANG, SAMPLE), (NEAR,)),
    Mutant("Langevin noise drawn once", CLASS,
           "for _ in range(num_steps):\n            eps = torch.randn_like(x)\n",
           "eps = torch.randn_like(x)\n        for _ in range(num_steps):\n", (LANG, SAMPLE), (NEAR,)),
    Mutant("noise on the CPU", CLASS, "eps = torch.randn_like(x)\n        noisy_x",
           "eps = torch.randn(x.shape)\n        noisy_x", (DEV,)),
    Mutant("sample keeps gradients", CLASS, "with torch.no_grad():", "if True:", (SAMPLE,)),
    Mutant("sample ignores num_steps and eta", CLASS,
           "self.langevin_dynamics(x0, num_steps=num_steps, eta=eta)",
           "self.langevin_dynamics(x0, num_steps=100, eta=0.01)", (SAMPLE,), (NEAR,)),
    Mutant("forward returns an always-equal object", CLASS, "        return loss\n",
           "        class _Yes:\n            def __eq__(self, other):\n                return True\n"
           "        return _Yes()\n", (FWD, DSM, DEV, LOOP, NEAR)),
    Mutant("EPOCHS at the bound", HYPER, "EPOCHS = 60", "EPOCHS = 50", (HYP,)),
    Mutant("SIGMA too large", HYPER, "SIGMA = 0.2", "SIGMA = 1.0", (HYP,), (NEAR,)),
    Mutant("LR at the bound", HYPER, "LR = 5e-3", "LR = 1e-3", (HYP,)),
    Mutant("score network outputs one number", NET, "nn.Linear(HIDDEN_SIZE, 2),",
           "nn.Linear(HIDDEN_SIZE, 1),", (SCORE, NEAR)),
    Mutant("scheduler never stepped", TRAIN, "            scheduler.step()\n", "            pass\n",
           (LOOP,)),
    Mutant("optimizer never stepped", TRAIN, "            optimizer.step()\n", "", (LOOP, NEAR)),
]

VALID = [
    Mutant("noise via torch.randn with device", CLASS, "eps = torch.randn_like(x)\n        noisy_x",
           "eps = torch.randn(x.shape, device=x.device, dtype=x.dtype)\n        noisy_x", ()),
    Mutant("loss via F.mse_loss", CLASS, "loss = (s + eps / self.sigma) ** 2",
           "loss = F.mse_loss(s, -eps / self.sigma, reduction='none')", ()),
    Mutant("Gaussian start", CLASS, "x0 = 2. * torch.rand(num_samples, *self.input_shape) - 1.",
           "x0 = torch.randn(num_samples, *self.input_shape)", ()),
    Mutant("while loop with eta ** 0.5", CLASS,
           "for _ in range(num_steps):\n            eps = torch.randn_like(x)\n"
           "            x = x + eta / 2 * self.score_model(x) + math.sqrt(eta) * eps\n",
           "step = 0\n        while step < num_steps:\n"
           "            x = x + 0.5 * eta * self.score_model(x) + eta ** 0.5 * torch.randn_like(x)\n"
           "            step += 1\n", ()),
    Mutant("Softplus network, two hidden layers", NET,
           "    nn.Linear(HIDDEN_SIZE, HIDDEN_SIZE), nn.SiLU(),\n    nn.Linear(HIDDEN_SIZE, HIDDEN_SIZE), nn.SiLU(),\n",
           "    nn.Linear(HIDDEN_SIZE, HIDDEN_SIZE), nn.Softplus(),\n", ()),
]


def _cells() -> dict[str, str]:
    nb = json.loads(NOTEBOOK.read_text())
    out = {}
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if cell["cell_type"] == "code" and gid:
            out[gid] = "".join(cell["source"])
    return out


def _solution(src: str) -> str:
    return re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", src + "\n", flags=re.M)


def build(mutant: Mutant | None) -> dict:
    """Exec the setup, matcher, hyperparameter, network and training-loop cells (one edited)."""
    cells = _cells()
    ns: dict = {"__name__": "notebook"}
    for gid in ("setup", CLASS, HYPER, "loaders", NET, "build_matcher", TRAIN):
        src = _solution(cells[gid]) if gid in (CLASS, HYPER, NET, TRAIN) else cells[gid]
        if mutant is not None and gid == mutant.cell_grade_id:
            assert mutant.old in src, f"{mutant.name}: {mutant.old!r} not in cell {gid}"
            src = src.replace(mutant.old, mutant.new, 1)
        if gid == "loaders":
            src = ("from reference_solution.score_matching import generate_moons_data\n"
                   "train_data, _, test_data, _ = generate_moons_data(5000)\n") + src
        exec(compile(src, f"<{gid}>", "exec"), ns)
    return ns


CHEAP = {
    FWD: lambda c, ns: c.forward_returns_per_element_error(ns["DenoisingScoreMatcher"]),
    DSM: lambda c, ns: c.dsm_error_matches_closed_form(ns["DenoisingScoreMatcher"]),
    LANG: lambda c, ns: c.langevin_step_matches_the_update_rule(ns["DenoisingScoreMatcher"]),
    SAMPLE: lambda c, ns: c.sample_returns_detached_samples(ns["DenoisingScoreMatcher"]),
    DEV: lambda c, ns: c.runs_on_the_models_device(ns["DenoisingScoreMatcher"]),
    HYP: lambda c, ns: c.hyperparameters_within_bounds(**{k: ns[k] for k in (
        "BATCH_SIZE", "EPOCHS", "LR", "HIDDEN_SIZE", "SIGMA")}),
    SCORE: lambda c, ns: c.score_network_maps_points_to_scores(ns["score_model"]),
    LOOP: lambda c, ns: c.training_loop_updates_the_model(ns["train_model"], ns["DenoisingScoreMatcher"]),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _outcomes(mutant):
    checks, ns = fresh("score_matching_checks"), build(mutant)
    failed = set()
    for gid, run in CHEAP.items():
        try:
            run(checks, ns)
        except AssertionError:
            failed.add(gid)
    return failed


@pytest.mark.parametrize("mutant", MUTANTS + VALID, ids=lambda m: m.name.replace(" ", "_"))
def test_cheap_checks_fail_exactly_where_expected(mutant):
    failed = _outcomes(mutant)
    must = set(mutant.expected_failing) & set(CHEAP)
    allowed = must | set(mutant.may_fail)
    assert must <= failed, f"{mutant.name}: not caught by {sorted(must - failed)}"
    assert failed <= allowed, f"{mutant.name}: wrongly failed {sorted(failed - allowed)}"


def test_reference_passes_every_check_including_convergence():
    assert _outcomes(None) == set()
    ns = build(None)
    ns["train_model"](ns["matcher"], ns["train_loader"], ns["test_loader"], epochs=ns["EPOCHS"],
                      optimizer=ns["optimizer"], scheduler=ns["scheduler"], progress=False)
    fresh("score_matching_checks").samples_land_near_the_moons(ns["matcher"], 1000, 0.01)


def test_untrained_matcher_and_bad_hyperparameter_types_fail():
    checks, ns = fresh("score_matching_checks"), build(None)
    with pytest.raises(AssertionError):
        checks.samples_land_near_the_moons(ns["matcher"], 1000, 0.01)
    with pytest.raises(AssertionError):
        checks.hyperparameters_within_bounds(256, True, 5e-3, 128, 0.2)
    with pytest.raises(AssertionError):
        checks.hyperparameters_within_bounds(256, 60, "0.01", 128, 0.2)


def test_threshold_matches_the_reference_module():
    from reference_solution.score_matching import MOONS_DISTANCE_THRESHOLD
    assert fresh("score_matching_checks").MOONS_DISTANCE_THRESHOLD == MOONS_DISTANCE_THRESHOLD
