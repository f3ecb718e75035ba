"""Grading checks of the wgan_anomalies notebook against the reference and a mutant catalogue.

Every mutant is a substring edit of a solution cell of ``source/wgan_anomalies/wgan_anomalies.ipynb``
(``MUTANTS``, exported for the nbgrader harness). In-process, the solution cells are exec'd with
the edit applied and every cheap check must fail exactly for the grade ids the mutant lists
(``may_fail`` ids are allowed either way). ``VALID`` edits are alternatives that keep every mark.
The convergence check runs on the reference and on one broken trainer only (slow).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from reference_solution.grading import fresh
from reference_solution.submissions import Mutant

NOTEBOOK = Path(__file__).resolve().parents[2] / "source" / "wgan_anomalies" / "wgan_anomalies.ipynb"
DS_C, NET, GP_C, TRAIN, SAMP, RADII, CLF, TCLF, SCORE = (
    "ds_code", "networks_code", "gradient_penalty_code", "train_model_code", "samplers_code",
    "latent_radii_code", "classifier_code", "train_classifier_code", "scoring_code")




ITEMS, MMAP, BAD = ("ds_items_are_masked_two_channel_tensors", "ds_reads_files_memory_mapped",
                    "ds_rejects_missing_and_mismatched_files")
GEN, CRIT, GP = ("generator_maps_latents_to_unit_interval_images",
                 "critic_is_unbounded_without_batch_norm", "gradient_penalty_matches_a_known_critic")
SIGNS, NCRIT, MASK, SCHED = ("critic_and_generator_losses_have_the_right_signs",
                             "training_runs_n_critic_critic_steps_per_generator_step",
                             "training_masks_real_and_generated_samples",
                             "training_schedules_validates_and_checkpoints")
SPHERE, BALL, INOUT, CHI, REJ = ("sphere_sampler_is_uniform", "ball_sampler_follows_the_norm_law",
                                 "inner_and_outer_are_balanced", "chi_quantile_is_right",
                                 "gaussian_scheme_rejects_inner_with_48_49")
LOGIT, FROZEN, BAL, ANOM = ("classifier_outputs_one_logit_per_sample",
                            "classifier_training_keeps_the_generator_frozen",
                            "classifier_trains_on_balanced_masked_batches",
                            "anomalies_are_indices_above_the_threshold")
CPU_CONV = "training_converges_at_cpu_scale"

MUTANTS = [
    # In the notebook the student's DS also feeds the scoring cell, which then breaks too.
    Mutant("item shape (1, 2, H, W)", DS_C, "x = torch.from_numpy(x)\n", "x = torch.from_numpy(x)[None]\n", (ITEMS,),
           (ANOM,)),
    Mutant("whole-file np.load without mmap", DS_C, 'self.pv = np.load(pv_fname, mmap_mode="r")',
           "self.pv = np.load(pv_fname)", (MMAP,)),
    Mutant("channels swapped (gh first)", DS_C, "x[0] = self.pv[index]\n        x[1] = self.gh[index]",
           "x[0] = self.gh[index]\n        x[1] = self.pv[index]", (ITEMS,)),
    Mutant("no mask on real items", DS_C, "        x *= self.mask\n", "", (ITEMS,)),
    Mutant("generator without the output sigmoid", NET, "x = torch.sigmoid(self.to_image(x))",
           "x = self.to_image(x)", (GEN,)),
    Mutant("sigmoid on the critic", NET, "x = self.head(self.features(x).flatten(1))  # (N, 1), no activation",
           "x = torch.sigmoid(self.head(self.features(x).flatten(1)))", (CRIT,), (SIGNS, CPU_CONV)),
    Mutant("BatchNorm in the critic", NET,
           "layers += [nn.Conv2d(c_in, width(res), 4, stride=2, padding=1), nn.LeakyReLU(0.2)]",
           "layers += [nn.Conv2d(c_in, width(res), 4, stride=2, padding=1), nn.BatchNorm2d(width(res)), nn.LeakyReLU(0.2)]",
           (CRIT,)),
    Mutant("penalty without the square", GP_C, "((gradients.norm(2, dim=1) - 1) ** 2).mean()",
           "(gradients.norm(2, dim=1) - 1).abs().mean()", (GP,)),
    Mutant("penalty norm over the whole batch", GP_C,
           "gradients = gradients.reshape(gradients.shape[0], -1)  # (N, 2*H*W)",
           "gradients = gradients.reshape(1, -1)", (GP,)),
    Mutant("one alpha for the whole batch", GP_C, "alpha = torch.rand(real_samples.shape[0], ",
           "alpha = torch.rand(1, ", (GP,)),
    Mutant("penalty graph not kept", GP_C, "create_graph=True)[0]", "create_graph=False)[0]", (GP,), (SIGNS,)),
    Mutant("mask forgotten on fakes", TRAIN,
           "fake = masked(model_gen(torch.randn(real.shape[0], latent_dim, device=device)))\n                loss_dsc",
           "fake = model_gen(torch.randn(real.shape[0], latent_dim, device=device))\n                loss_dsc",
           (MASK,)),
    Mutant("wrong critic loss sign", TRAIN, "loss_dsc = (model_dsc(fake).mean() - model_dsc(real).mean()",
           "loss_dsc = (model_dsc(real).mean() - model_dsc(fake).mean()", (SIGNS,), (CPU_CONV,)),
    Mutant("wrong generator loss sign", TRAIN, "loss_gen = -model_dsc(fake).mean()",
           "loss_gen = model_dsc(fake).mean()", (SIGNS,), (CPU_CONV,)),
    Mutant("penalty subtracted", TRAIN, "+ lambda_gp * compute_gradient_penalty",
           "- lambda_gp * compute_gradient_penalty", (SIGNS,), (CPU_CONV,)),
    Mutant("n_critic ignored (generator every step)", TRAIN, "if critic_steps % n_critic == 0:", "if True:",
           (NCRIT,)),
    Mutant("schedulers never stepped", TRAIN, "        lr_scheduler_gen.step()\n        lr_scheduler_dsc.step()\n",
           "", (SCHED,)),
    Mutant("no checkpoint", TRAIN, "            torch.save(", "            (lambda *a, **k: None)(", (SCHED,)),
    Mutant("cube-normalised directions", SAMP, "d = np.random.standard_normal((nsamples, ndim))",
           "d = np.random.uniform(-1, 1, (nsamples, ndim))", (SPHERE, BALL), (INOUT,)),
    # train_classifier draws its latents with the student's sampler: its batches are unbalanced too.
    Mutant("U instead of U^(1/n)", SAMP, "b = s * c ** (1.0 / ndim) * radius", "b = s * c * radius",
           (BALL, INOUT, BAL)),
    Mutant("cube rejection instead of the ball law", SAMP,
           "s = SamplingUnitSphereUniform(ndim, nsamples)\n    c = np.random.uniform(0.0, 1.0, size=(nsamples, 1))\n"
           "    b = s * c ** (1.0 / ndim) * radius\n",
           "b = np.empty((0, ndim))\n    while len(b) < nsamples:\n"
           "        cand = np.random.uniform(-radius, radius, (4096, ndim))\n"
           "        b = np.concatenate([b, cand[np.linalg.norm(cand, axis=1) <= radius]])\n"
           "    b = b[:nsamples]\n", (BALL, INOUT, FROZEN, BAL)),  # never ends at n = 128: time limits
    Mutant("inner split with the outer radius", SAMP, "<= radius_inner", "<= radius_outer", (INOUT,)),
    Mutant("chi2 instead of chi", RADII, "chi_p98 = float(stats.chi.ppf(0.98, latent_dim))",
           "chi_p98 = float(stats.chi2.ppf(0.98, latent_dim))", (CHI,)),
    Mutant("R_outer = 2^(1/n) without q", RADII, "R_OUTER = chi_p98 * 2 ** (1 / latent_dim)",
           "R_OUTER = 2 ** (1 / latent_dim)", (CHI,)),
    Mutant("rejection probability 0.98", RADII, "P_REJECT_INNER = 48 / 49", "P_REJECT_INNER = 0.98", (REJ,)),
    Mutant("sigmoid in the classifier", CLF, "x = self.head(self.features(x).flatten(1))  # (N, 1) logits",
           "x = torch.sigmoid(self.head(self.features(x).flatten(1)))", (LOGIT,)),
    Mutant("classifier returns (N,) logits", CLF, "x = self.head(self.features(x).flatten(1))  # (N, 1) logits",
           "x = self.head(self.features(x).flatten(1)).squeeze(1)", (LOGIT,)),
    Mutant("generator left in train mode", TCLF, "    model_gen.eval()\n", "", (FROZEN,)),
    Mutant("generator updated during classifier training", TCLF,
           "optimizer = torch.optim.Adam(model_clf.parameters(), lr=lr)",
           "model_gen.train()\n    optimizer = torch.optim.Adam(list(model_clf.parameters()) + list(model_gen.parameters()), lr=lr)",
           (FROZEN,)),
    Mutant("unbalanced Gaussian latents", TCLF,
           "inner, outer = SampleInnerAndOuterExamples(latent_dim, r_inner, r_outer, batch_size)",
           "zz = np.random.standard_normal((batch_size, latent_dim)); k = np.linalg.norm(zz, axis=1) <= r_inner; "
           "inner, outer = zz[k], zz[~k]", (BAL,)),
    Mutant("no mask on generated classifier batches", TCLF, "        if mask_t is not None:\n            x = x * mask_t\n",
           "", (BAL,)),
    Mutant("shuffled scoring loader", SCORE, "DataLoader(ds_test, shuffle=False, batch_size=64)",
           "DataLoader(ds_test, shuffle=True, batch_size=64)", (ANOM,)),
    Mutant("threshold inverted", SCORE, "np.flatnonzero(probs > threshold)", "np.flatnonzero(probs < threshold)",
           (ANOM,)),
    Mutant("scores are logits, not probabilities", SCORE, "torch.sigmoid(clf(x.to(DEVICE)))", "clf(x.to(DEVICE))",
           (ANOM,)),
]

VALID = [
    Mutant("loop-free __getitem__ via np.stack", DS_C,
           "x = np.empty((2,) + self.mask.shape, dtype=np.float32)  # (2, H, W)\n        x[0] = self.pv[index]\n"
           "        x[1] = self.gh[index]\n        x *= self.mask\n",
           "x = (np.stack([self.pv[index], self.gh[index]]) * self.mask).astype(np.float32)\n", ()),
    Mutant("critic with LayerNorm-free ELU and a 1x1 head", NET, "nn.LeakyReLU(0.2)]\n            c_in = width(res)",
           "nn.ELU()]\n            c_in = width(res)", ()),
    Mutant("penalty with grad_outputs=torch.ones_like", GP_C,
           "gradients = torch.autograd.grad(outputs=d_interpolates.sum(), inputs=interpolates,",
           "gradients = torch.autograd.grad(outputs=d_interpolates, inputs=interpolates, "
           "grad_outputs=torch.ones_like(d_interpolates), retain_graph=True,", ()),
    Mutant("torch samplers", SAMP,
           "d = np.random.standard_normal((nsamples, ndim))\n    d = d / np.linalg.norm(d, axis=1, keepdims=True)",
           "d = torch.randn(nsamples, ndim, dtype=torch.float64)\n    d = (d / d.norm(dim=1, keepdim=True)).numpy()", ()),
    Mutant("ball radius via torch.rand", SAMP, "c = np.random.uniform(0.0, 1.0, size=(nsamples, 1))",
           "c = torch.rand(nsamples, 1, dtype=torch.float64).numpy()", ()),
    Mutant("generator step counted per epoch like the seed", TRAIN, "if critic_steps % n_critic == 0:",
           "if idx % n_critic == 0:", ()),
]


def _cells() -> dict[str, str]:
    nb = json.loads(NOTEBOOK.read_text())
    return {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in nb["cells"]
            if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("grade_id")}


def _solution(src: str) -> str:
    return re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", src + "\n", flags=re.M)


PRELUDE = """
import os, time
from pathlib import Path
from typing import Any
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from scipy import stats
from torch.utils.data import DataLoader, Dataset, random_split
from tqdm.auto import tqdm
DEVICE = torch.device("cpu"); ON_GPU = False
latent_dim = 128
"""


# Notebook order: a cell's functions look names of earlier cells up at call time, so an edited
# cell and every cell after it are re-exec'd; the cells before it are shared with the reference.
ORDER = (DS_C, NET, GP_C, TRAIN, SAMP, RADII, CLF, TCLF)
CELLS = _cells()


def _exec_cells(ns: dict, mutant: Mutant | None, start: int = 0) -> dict:
    for gid in ORDER[start:]:
        src = _solution(CELLS[gid])
        if mutant is not None and gid == mutant.cell_grade_id:
            assert mutant.old in src, f"{mutant.name}: {mutant.old!r} not in cell {gid}"
            src = src.replace(mutant.old, mutant.new, 1)
        exec(compile(src, f"<{gid}>", "exec"), ns)
    return ns


def build(mutant: Mutant | None, reference: dict | None = None) -> dict:
    """Namespace of the solution cells with ``mutant`` applied (re-using ``reference`` up to its cell)."""
    if reference is None or mutant is None or mutant.cell_grade_id not in ORDER:
        ns: dict = {"__name__": "notebook"}
        exec(PRELUDE, ns)
        return _exec_cells(ns, mutant)
    start = ORDER.index(mutant.cell_grade_id)
    ns = {k: v for k, v in reference.items() if k not in ("clf", "probs", "threshold", "idx_anomalies", "ds_test")}
    return _exec_cells(ns, mutant, start)


def _scoring(ns: dict, mutant: Mutant | None, files) -> None:
    ns["files"] = files
    torch.manual_seed(0)
    ns["clf"] = ns["Classifier"](size=16)
    src = _solution(CELLS[SCORE])
    if mutant is not None and mutant.cell_grade_id == SCORE:
        assert mutant.old in src, f"{mutant.name}: {mutant.old!r} not in cell {SCORE}"
        src = src.replace(mutant.old, mutant.new, 1)
    try:
        exec(compile(src, "<scoring>", "exec"), ns)
    except Exception:  # a broken DS or classifier breaks scoring: the scoring check then fails
        ns.update(probs=None, threshold=None, idx_anomalies=None, ds_test=None)


CHEAP = {
    ITEMS: lambda c, t, ns: c.ds_items_are_masked_two_channel_tensors(ns["DS"]),
    MMAP: lambda c, t, ns: c.ds_reads_files_memory_mapped(ns["DS"]),
    BAD: lambda c, t, ns: c.ds_rejects_missing_and_mismatched_files(ns["DS"]),
    GEN: lambda c, t, ns: c.generator_maps_latents_to_unit_interval_images(ns["Generator"]),
    CRIT: lambda c, t, ns: c.critic_is_unbounded_without_batch_norm(ns["Discriminator"]),
    GP: lambda c, t, ns: c.gradient_penalty_matches_a_known_critic(ns["compute_gradient_penalty"]),
    SIGNS: lambda c, t, ns: t.critic_and_generator_losses_have_the_right_signs(ns["train_model"]),
    NCRIT: lambda c, t, ns: t.training_runs_n_critic_critic_steps_per_generator_step(ns["train_model"]),
    MASK: lambda c, t, ns: t.training_masks_real_and_generated_samples(ns["train_model"]),
    SCHED: lambda c, t, ns: t.training_schedules_validates_and_checkpoints(ns["train_model"]),
    SPHERE: lambda c, t, ns: c.sphere_sampler_is_uniform(ns["SamplingUnitSphereUniform"]),
    BALL: lambda c, t, ns: c.ball_sampler_follows_the_norm_law(ns["SamplingBallUniform"]),
    INOUT: lambda c, t, ns: c.inner_and_outer_are_balanced(ns["SampleInnerAndOuterExamples"]),
    CHI: lambda c, t, ns: c.chi_quantile_is_right(ns["chi_p98"], ns["R_INNER"], ns["R_OUTER"], ns["latent_dim"]),
    REJ: lambda c, t, ns: c.gaussian_scheme_rejects_inner_with_48_49(ns["P_REJECT_INNER"]),
    LOGIT: lambda c, t, ns: c.classifier_outputs_one_logit_per_sample(ns["Classifier"]),
    FROZEN: lambda c, t, ns: t.classifier_training_keeps_the_generator_frozen(ns["train_classifier"]),
    BAL: lambda c, t, ns: t.classifier_trains_on_balanced_masked_batches(ns["train_classifier"]),
    ANOM: lambda c, t, ns: c.anomalies_are_indices_above_the_threshold(
        ns["probs"], ns["threshold"], ns["idx_anomalies"], ns["clf"], ns["ds_test"]),
}

# Which solution cells each check exercises (a mutant of another cell cannot change its result).
_CELL_CHECKS = {
    ITEMS: (DS_C,), MMAP: (DS_C,), BAD: (DS_C,), GEN: (NET,), CRIT: (NET,), GP: (GP_C,),
    SIGNS: (TRAIN, GP_C), NCRIT: (TRAIN, GP_C), MASK: (TRAIN, GP_C), SCHED: (TRAIN, GP_C),
    SPHERE: (SAMP,), BALL: (SAMP,), INOUT: (SAMP,), CHI: (RADII,), REJ: (RADII,), LOGIT: (CLF,),
    FROZEN: (TCLF, SAMP), BAL: (TCLF, SAMP), ANOM: (SCORE, CLF, DS_C),
}
# Cheap checks that run for every case, whatever cell it edits (they must keep passing).
SANITY = (GEN, GP, CHI, REJ, LOGIT)
# Time limits of the checks, lowered here so the mutants that never finish cost seconds.
SAMPLER_SECONDS, CLASSIFIER_SECONDS = 3.0, 6.0


def _selected(mutant: Mutant | None) -> list[str]:
    if mutant is None:
        return list(CHEAP)
    wanted = set(mutant.expected_failing) | set(mutant.may_fail) | set(SANITY)
    wanted |= {gid for gid, cells in _CELL_CHECKS.items() if mutant.cell_grade_id in cells}
    return [gid for gid in CHEAP if gid in wanted]


@pytest.fixture(scope="module")
def checks():
    c, t = fresh("wgan_checks"), fresh("wgan_training_checks")
    c.SAMPLER_SECONDS, t.CLASSIFIER_SECONDS = SAMPLER_SECONDS, CLASSIFIER_SECONDS
    return c, t


@pytest.fixture(scope="module")
def scoring_files(tmp_path_factory):
    from reference_solution.stratosphere import write_course_files
    return write_course_files(tmp_path_factory.mktemp("wgan") / "data", winters=1, size=16, seed=0,
                              progress=False)


@pytest.fixture(scope="module")
def reference_ns():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return build(None)
    finally:
        torch.set_num_threads(before)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _outcomes(mutant, checks, reference: dict, files) -> tuple[list[str], set[str]]:
    ns = build(mutant, reference)
    ran = _selected(mutant)
    if ANOM in ran:
        _scoring(ns, mutant, files)
    failed = set()
    for gid in ran:
        try:
            CHEAP[gid](*checks, ns)
        except AssertionError:
            failed.add(gid)
    return ran, failed


@pytest.mark.parametrize("mutant", [None] + MUTANTS + VALID,
                         ids=lambda m: "reference" if m is None else m.name.replace(" ", "_"))
def test_cheap_checks_fail_exactly_where_expected(mutant, checks, reference_ns, scoring_files):
    ran, failed = _outcomes(mutant, checks, reference_ns, scoring_files)
    must = set() if mutant is None else set(mutant.expected_failing) & set(CHEAP)
    allowed = must | (set() if mutant is None else set(mutant.may_fail))
    if mutant is not None and mutant.cell_grade_id in (DS_C, CLF):
        allowed |= {ANOM}  # scoring uses the student's DS and Classifier
    name = "reference" if mutant is None else mutant.name
    assert must <= set(ran), f"{name}: expected failures {sorted(must - set(ran))} were not run"
    assert must <= failed, f"{name}: not caught by {sorted(must - failed)}"
    assert failed <= allowed, f"{name}: wrongly failed {sorted(failed - allowed)}"


def test_catalogue_is_large_and_names_real_grade_ids():
    nb = json.loads(NOTEBOOK.read_text())
    graded = {c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"]
              if c["metadata"].get("nbgrader", {}).get("grade")}
    assert len(MUTANTS) >= 20 and len(VALID) >= 4
    for m in MUTANTS:
        assert set(m.expected_failing) <= graded, m.name
    assert set(CHEAP) | {CPU_CONV, "training_converges_at_full_size_on_gpu"} <= graded


def test_chi_constants_match_scipy():
    from scipy import stats
    for n, q in fresh("wgan_checks").CHI_P98.items():
        assert abs(q - stats.chi.ppf(0.98, n)) < 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("mutant", [None, MUTANTS[[m.name for m in MUTANTS].index("wrong generator loss sign")]],
                         ids=["reference", "generator_sign_flipped"])
def test_convergence_check(mutant):
    ns = build(mutant)
    run = lambda: fresh("wgan_training_checks").training_converges_at_cpu_scale(
        ns["Generator"], ns["Discriminator"], ns["train_model"])
    if mutant is None:
        run()
    else:
        with pytest.raises(AssertionError):
            run()
