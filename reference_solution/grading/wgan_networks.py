"""Hidden checks of Part 2 of ``wgan_anomalies``: generator, critic, optimizers, gradient penalty."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .protocol import Check
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


def penalty_challenge(rng: np.random.Generator, folder: Path) -> dict:
    shape = (2, 4, 4)
    linear = []
    for norm, batch in ((3.0, 5), (0.25, 1), (1.5, 8)):
        w = rng.standard_normal(shape)
        linear.append({"norm": norm, "w": w / np.linalg.norm(w) * norm,
                       "real": rng.random((batch, *shape)), "fake": rng.random((batch, *shape))})
    x = rng.random((6, *shape)) * np.linspace(0.1, 1.0, 6).reshape(6, 1, 1, 1)
    return {"seed": _seed(rng), "linear": linear, "quadratic": x, "alpha_samples": 2000,
            "shape": list(shape)}


def gradient_penalty_matches_a_known_critic(challenge: dict, result: dict) -> None:
    """For a linear critic D(x) = <w, x> the penalty is (||w|| - 1)^2 whatever the samples."""
    for case, got in zip(challenge["linear"], result["linear"]):
        norm, batch = case["norm"], len(case["real"])
        assert got["kind"] == "tensor", f"the penalty should be a tensor, got {got['kind']}"
        value = got["value"]
        assert value.ndim == 0, f"the penalty should be a 0-d tensor (a mean over samples), got shape {tuple(value.shape)}"  # noqa: E501
        expected = (norm - 1) ** 2
        assert abs(float(value) - expected) <= 1e-6 * (1 + expected), (
            f"for a linear critic D(x) = <w, x> with |w| = {norm} and a batch of {batch}, the "
            f"penalty should be (|w| - 1)^2 = {expected:.4g}, got {float(value):.4g}")
        assert got["graph"], "the penalty should be differentiable w.r.t. the critic (create_graph=True)"
        assert "grad" in got, f"back-propagating the penalty into the critic failed: {got.get('grad_error')}"
        expected_grad = 2 * (norm - 1) * case["w"] / norm
        assert np.allclose(got["grad"], expected_grad, atol=1e-6), (
            "the penalty's gradient w.r.t. the critic's weights is wrong (keep the graph: create_graph=True)")
    x = challenge["quadratic"]
    expected = float(((np.linalg.norm(x.reshape(len(x), -1), axis=1) - 1) ** 2).mean())
    q = np.asarray(result["quadratic"])
    assert result["quadratic_kind"] == "tensor" and q.ndim == 0 and abs(float(q) - expected) <= 1e-6 * (1 + expected), (
        f"with a critic whose gradient norm differs per sample the penalty should be the mean over "
        f"samples of (|grad_i| - 1)^2 = {expected:.4g}: take one norm per sample")
    xhat = np.asarray(result["interpolates"], dtype=np.float64)
    n = challenge["alpha_samples"]
    assert xhat.ndim == 2 and xhat.shape[0] == n, "the penalty should evaluate the critic at one interpolate per sample"
    assert float(xhat.std(axis=1).max()) < 1e-5, "one alpha per sample should scale the whole sample"
    alpha = 1 - xhat.mean(axis=1)  # x_hat = alpha * 0 + (1 - alpha) * 1
    assert alpha.min() >= -1e-6 and alpha.max() <= 1 + 1e-6, "alpha should lie in [0, 1]"
    p = ks_uniform_pvalue(np.clip(alpha, 0, 1))
    assert p > P_MIN, f"alpha should be drawn from U(0, 1) independently for every sample (p = {p:.2g})"


CHECKS = [
    Check("generator_maps_latents_to_unit_interval_images", "wgan_networks.generator",
          generator_challenge, generator_maps_latents_to_unit_interval_images, seconds=120),
    Check("critic_is_unbounded_without_batch_norm", "wgan_networks.critic", critic_challenge,
          critic_is_unbounded_without_batch_norm, seconds=60),
    Check("optimizers_cover_each_network", "wgan_networks.optimizers", optimizers_challenge,
          optimizers_cover_each_network, seconds=30),
    Check("gradient_penalty_matches_a_known_critic", "wgan_networks.penalty", penalty_challenge,
          gradient_penalty_matches_a_known_critic, seconds=60),
]
