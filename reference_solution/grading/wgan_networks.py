"""Hidden checks of Part 2 of ``wgan_anomalies``: generator, critic, optimizers, gradient penalty."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from . import expect
from .protocol import Check, Context
from .statistics import P_MIN, ks_uniform_pvalue


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(1 << 62))


def generator_challenge(rng: np.random.Generator, folder: Path) -> dict:
    cases = []
    for n_inputs, size, batches in ((16, 32, (2, 5)), (128, 16, (2, 5)), (128, 256, (2,))):
        cases.append({"n_inputs": n_inputs, "size": size, "extremes": size != 256,
                      "z": [rng.standard_normal((b, n_inputs)).astype(np.float32) for b in batches],
                      "one": rng.standard_normal((1, n_inputs)).astype(np.float32),
                      "big": (3 * rng.standard_normal((8, n_inputs))).astype(np.float32)})
    return {"seed": _seed(rng), "cases": cases}


def generator_maps_latents_to_unit_interval_images(challenge: dict, result: dict) -> None:
    """The generator maps (N, n_inputs) latents to (N, 2, size, size) float32 images in [0, 1]."""
    for case, run in zip(challenge["cases"], result["runs"]):
        n_inputs, size = case["n_inputs"], case["size"]
        outs = list(run["outputs"])
        for z, kind, out in zip(case["z"], run["kinds"], outs):
            assert kind == "tensor", f"the generator should return a tensor, got {kind}"
            want = (len(z), 2, size, size)
            assert out.shape == want, (f"Generator(n_inputs={n_inputs}, size={size}) on z of shape "
                                       f"{tuple(z.shape)} should return {want}, got {tuple(out.shape)}")
            assert out.dtype == np.float32, f"the generator returned {out.dtype}, expected float32"
            assert float(np.abs(out[0] - out[1]).max()) > 0, "different latents should give different images"
        if case["extremes"]:
            assert run["one"].shape == (1, 2, size, size), "a batch of one latent should work in eval mode"
            outs += [run["one"], run["big"]]
        for out in outs:
            lo, hi = float(np.min(out)), float(np.max(out))
            assert math.isfinite(lo) and math.isfinite(hi) and lo >= 0.0 and hi <= 1.0, (
                f"generated values should lie in [0, 1] like the data (found [{lo:.3g}, {hi:.3g}]; "
                "also with large weights): think about the output activation")


def _scores_challenge(rng: np.random.Generator, cases: list[dict]) -> dict:
    for case in cases:
        case["x"] = rng.random((case["n"], 2, case["size"], case["size"]), dtype=np.float32)
    return {"seed": _seed(rng), "cases": cases}


def critic_challenge(rng: np.random.Generator, folder: Path) -> dict:
    return _scores_challenge(rng, [{"size": s, "n": 6, "modes": ["train"], "batches": [1, 3, 6]}
                                   for s in (32, 16)])


def _check_scores(challenge: dict, result: dict, what: str) -> None:
    for case, run in zip(challenge["cases"], result["runs"]):
        size = case["size"]
        for got in run["batches"]:
            b = None
            assert got["kind"] == "tensor", f"the {what} should return a tensor, got {got['kind']}"
            out = got["out"]
            b = out.shape[0] if out.ndim else None
            assert out.ndim == 2 and out.shape[1] == 1 and b in case["batches"], (
                f"the {what} on a batch of shape (b, 2, {size}, {size}) should return (b, 1), "
                f"got {tuple(out.shape)}")
            assert out.dtype == np.float32, f"the {what} returned {out.dtype}, expected float32"
            assert got["graph"], f"the {what}'s output should depend on its parameters"
        big = np.asarray(run["big"], dtype=np.float64)
        assert np.isfinite(big).all() and float(np.abs(big).max()) > 1.0, (
            f"the {what}'s output should be unbounded (with large weights it should leave [-1, 1]): "
            "no sigmoid or tanh at the output")


def critic_is_unbounded_without_batch_norm(challenge: dict, result: dict) -> None:
    """The critic returns one unbounded score per sample (N, 1), with no batch normalisation."""
    for run in result["runs"]:
        assert not run["batch_norm"], f"the critic should not use batch normalisation (found {run['batch_norm'][0]})"
    _check_scores(challenge, result, "critic")
    for run in result["runs"]:
        whole = np.asarray(run["whole"], dtype=np.float64).reshape(-1)
        single = np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1) for s in run["single"]])
        assert whole.shape == single.shape and float(np.abs(whole - single).max()) <= 1e-4 * (1 + float(np.abs(whole).max())), (  # noqa: E501
            "each sample's score should not depend on the other samples of the batch (no batch "
            "statistics in the critic: the gradient penalty is per sample)")


def optimizers_challenge(rng: np.random.Generator, folder: Path) -> dict:
    return {"seed": _seed(rng)}


def optimizers_cover_each_network(challenge: dict, result: dict) -> None:
    """opt_gen optimizes exactly the generator's parameters and opt_dsc exactly the critic's."""
    for opt_name, own, other in (("opt_gen", "gen", "dsc"), ("opt_dsc", "dsc", "gen")):
        assert result["kinds"][opt_name] == "optimizer", (
            f"{opt_name} should be a torch.optim optimizer, got {result['kinds'][opt_name]}")
        moved, trainable = result[opt_name], result[opt_name + "_trainable"]
        assert all(m for m, t in zip(moved[own], trainable[own]) if t), (
            f"{opt_name}.step() should update every trainable parameter of its own network")
        assert not any(moved[other]), f"{opt_name}.step() should not touch the other network"


PENALTY_SHAPE = (2, 4, 4)
PENALTY_HIDDEN = 16
ALPHA_SAMPLES = 2000  # interpolates between 0 and 1 whose values are 1 - alpha: the law of alpha


def _mlp(rng) -> dict:
    d = int(np.prod(PENALTY_SHAPE))
    return {"W": rng.standard_normal((PENALTY_HIDDEN, d)) * rng.uniform(0.3, 3.0) / math.sqrt(d),
            "c": rng.standard_normal(PENALTY_HIDDEN) * 0.5, "v": rng.standard_normal(PENALTY_HIDDEN),
            "d": np.array(rng.standard_normal())}


def penalty_challenge(rng: np.random.Generator, folder: Path, context: Context) -> dict:
    cases = [{"critic": _mlp(rng), "real": rng.random((b, *PENALTY_SHAPE)), "fake": rng.random((b, *PENALTY_SHAPE))}
             for b in (5, 1, 8)]
    n = ALPHA_SAMPLES
    cases.append({"critic": _mlp(rng), "real": np.zeros((n, *PENALTY_SHAPE)), "fake": np.ones((n, *PENALTY_SHAPE))})
    return {"seed": _seed(rng), "cases": cases}


def _expected_penalty(critic: dict, x: np.ndarray):
    """(GP, dGP/d critic weights) of the MLP critic at interpolates ``x``, by autograd here."""
    import torch

    w = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for k, v in critic.items()}
    xt = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    out = torch.tanh(xt.flatten(1) @ w["W"].T + w["c"]) @ w["v"].unsqueeze(1) + w["d"]
    (g,) = torch.autograd.grad(out.sum(), xt, create_graph=True)
    gp = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    keys = ("W", "c", "v", "d")
    grads = torch.autograd.grad(gp, [w[k] for k in keys], allow_unused=True)
    return float(gp.detach()), [np.zeros(w[k].shape) if g is None else g.numpy() for k, g in zip(keys, grads)]


def _alphas(seen: list, real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The interpolates the critic saw and the alpha of each sample, if one call lies on the
    segments real_i -- fake_i (one alpha per sample in [0, 1])."""
    r, f = real.reshape(len(real), -1), fake.reshape(len(fake), -1)
    span = r - f
    for x in reversed(seen):
        if not isinstance(x, np.ndarray) or x.shape != real.shape or x.dtype.kind != "f" or not np.isfinite(x).all():
            continue
        xf = x.reshape(len(x), -1).astype(np.float64)
        alpha = ((xf - f) * span).sum(1) / np.maximum((span * span).sum(1), 1e-300)
        off = np.abs(xf - (f + alpha[:, None] * span)).max()
        if off <= 1e-5 and alpha.min() >= -1e-6 and alpha.max() <= 1 + 1e-6:
            return x, np.clip(alpha, 0, 1)
    return None


def gradient_penalty_matches_a_known_critic(challenge: dict, result: dict) -> None:
    """The penalty is the mean over samples of (|grad D(x_hat)| - 1)^2 at x_hat = alpha real + (1 - alpha) fake, alpha ~ U(0, 1) per sample, recomputed here for secret critics."""  # noqa: E501
    cases = challenge["cases"]
    for i, (case, got) in enumerate(zip(cases, expect.cases(result, "cases", len(cases), "cases"))):
        batch = len(case["real"])
        assert expect.entry(got, "kind") == "tensor", f"the penalty should be a tensor, got {got['kind']}"
        value = expect.array(expect.entry(got, "value"), "the penalty", kinds="f")
        assert value.ndim == 0, f"the penalty should be a 0-d tensor (a mean over samples), got shape {tuple(value.shape)}"  # noqa: E501
        seen = expect.entry(got, "seen")
        assert isinstance(seen, list), "the critic's inputs are missing"
        found = _alphas(seen, case["real"], case["fake"])
        assert found is not None, (
            "the critic was never called on interpolates alpha * real + (1 - alpha) * fake with one alpha "
            "in [0, 1] per sample")
        x_hat, alpha = found
        expected, grads = _expected_penalty(case["critic"], x_hat)
        assert abs(float(value) - expected) <= 1e-5 * (1 + abs(expected)), (
            f"for a critic D and a batch of {batch} the penalty should be the mean over samples of "
            f"(|grad D(x_hat_i)| - 1)^2 = {expected:.5g} at the interpolates your function made; got "
            f"{float(value):.5g} (one norm per sample, squared, then the mean)")
        if i < len(cases) - 1:
            assert "grad" in got, ("the penalty should be differentiable w.r.t. the critic (create_graph=True); "
                                   f"back-propagating it failed: {got.get('grad_error', 'no graph')}")
            found_grads = expect.cases(got, "grad", 4, "gradients")
            for name, g, want in zip(("W", "c", "v", "d"), found_grads, grads):
                g = expect.array(g, "a gradient", shape=want.shape, kinds="f")
                assert np.allclose(g, want, rtol=1e-4, atol=1e-6), (
                    "the penalty's gradient w.r.t. the critic's weights is wrong (keep the graph: create_graph=True)")
        else:
            assert float(alpha.std()) > 0, "alpha should be drawn independently for every sample"
            p = ks_uniform_pvalue(alpha)
            assert p > P_MIN, f"alpha should be drawn from U(0, 1) independently for every sample (p = {p:.2g})"


def classifier_challenge(rng, folder: Path) -> dict:
    return _scores_challenge(rng, [{"size": s, "n": 9, "modes": ["train", "eval"], "batches": [2, 9, 1, 4]}
                                   for s in (32, 16)])


def classifier_outputs_one_logit_per_sample(challenge: dict, result: dict) -> None:
    """The classifier maps (N, 2, size, size) to (N, 1) unbounded logits."""
    _check_scores(challenge, result, "classifier")


CHECKS = [
    Check("generator_maps_latents_to_unit_interval_images", "wgan_networks.generator",
          generator_challenge, generator_maps_latents_to_unit_interval_images, seconds=120),
    Check("critic_is_unbounded_without_batch_norm", "wgan_networks.critic", critic_challenge,
          critic_is_unbounded_without_batch_norm, seconds=60),
    Check("optimizers_cover_each_network", "wgan_networks.optimizers", optimizers_challenge,
          optimizers_cover_each_network, seconds=30),
    Check("gradient_penalty_matches_a_known_critic", "wgan_networks.penalty", penalty_challenge,
          gradient_penalty_matches_a_known_critic, seconds=60),
    Check("classifier_outputs_one_logit_per_sample", "wgan_networks.classifier", classifier_challenge,
          classifier_outputs_one_logit_per_sample, seconds=60),
]
