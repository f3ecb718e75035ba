"""Hidden checks of the training side of ``score_matching``: hyperparameters, the score network,
the training loop and the trained sampler (samples compared with the moons here)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..score_matching.denoising import make_moons_data
from ..score_matching.sample_quality import (
    LOST_DISTANCE,
    MAX_LOST_SHARE,
    MIN_MOON_SHARE,
    MOONS_DISTANCE_THRESHOLD,
    sample_quality,
)
from .protocol import Check

MAX_STEPS = 10_000  # Langevin steps of the sampling check (grading budget)


def _seed(rng) -> int:
    return int(rng.integers(1 << 62))


def hyperparameters_challenge(rng, folder: Path) -> dict:
    return {"names": ["BATCH_SIZE", "EPOCHS", "LR", "HIDDEN_SIZE", "SIGMA"]}


def hyperparameters_within_the_seed_bounds(challenge: dict, result: dict) -> None:
    """The hyperparameters lie within the bounds: EPOCHS > 50, LR > 1e-3, HIDDEN_SIZE > 32, 0.01 < SIGMA < 1."""
    for name in ("BATCH_SIZE", "EPOCHS", "HIDDEN_SIZE"):
        assert result[name]["kind"] == "int", f"{name} should be an int, got {result[name]['kind']}"
    for name in ("LR", "SIGMA"):
        assert result[name]["kind"] in ("int", "float") and math.isfinite(result[name]["value"]), (
            f"{name} should be a finite number, got {result[name]['kind']}")
    value = {k: v["value"] for k, v in result.items()}
    assert value["BATCH_SIZE"] >= 1, "BATCH_SIZE should be positive"
    assert value["EPOCHS"] > 50, "EPOCHS should be greater than 50"
    assert value["LR"] > 1e-3, "LR should be greater than 1e-3"
    assert value["HIDDEN_SIZE"] > 32, "HIDDEN_SIZE should be greater than 32"
    assert 0.01 < value["SIGMA"] < 1.0, "SIGMA should lie strictly between 0.01 and 1"


def network_challenge(rng, folder: Path) -> dict:
    return {"xs": [rng.standard_normal((b, 2)).astype(np.float32) for b in (1, 7, 64)]}


def score_network_maps_points_to_scores(challenge: dict, result: dict) -> None:
    """score_model maps a batch of 2-D points (B, 2) to 2-D score vectors (B, 2)."""
    for x, run in zip(challenge["xs"], result["runs"]):
        assert run["kind"] == "tensor", f"score_model(x) should return a tensor, got {run['kind']}"
        out = np.asarray(run["out"])
        assert out.shape == (len(x), 2), f"score_model on ({len(x)}, 2) returned {tuple(out.shape)}"
        assert out.dtype == np.float32, f"score_model returned {out.dtype}"
        assert np.isfinite(out).all(), "score_model returned non-finite values"
        assert run["graph"], "the output should depend on the trainable parameters"


def training_challenge(rng, folder: Path) -> dict:
    train, _, _, _ = make_moons_data(800, seed=int(rng.integers(1 << 31)))
    return {"seed": _seed(rng), "points": train[:640], "epochs": 3}


def training_loop_updates_the_model(challenge: dict, result: dict) -> None:
    """train_model updates the model, steps the scheduler once per epoch and returns per-epoch losses."""
    epochs = challenge["epochs"]
    assert result["changed"], "train_model should update the score model's parameters"
    assert result["scheduler_steps"] == epochs, (
        f"the scheduler should step once per epoch ({epochs} epochs), it stepped {result['scheduler_steps']} times")
    assert result["kind"] == "dict", "train_model should return a dict of loss histories"
    for key in ("train_losses", "test_losses"):
        assert key in result, f"the returned dict should have a {key!r} entry"
        values = result[key]
        assert len(values) == epochs, f"{key} should hold one value per epoch"
        assert all(math.isfinite(v) for v in values), f"{key} should hold finite numbers"


def sampling_challenge(rng, folder: Path) -> dict:
    return {"seed": _seed(rng), "max_steps": MAX_STEPS}


def samples_land_near_the_moons(challenge: dict, result: dict) -> None:
    """Samples of the trained matcher land on the moons' shape and reach both moons (at least 20% on each)."""
    assert result["kind"] == "tensor", f"matcher.sample should return a tensor, got {result['kind']}"
    samples = np.asarray(result["samples"], dtype=np.float64)
    assert samples.shape == (2000, 2), f"sample(2000) returned shape {samples.shape}"
    q = sample_quality(samples)
    assert q.lost_share <= MAX_LOST_SHARE, (
        f"{q.lost_share:.1%} of the samples ended farther than {LOST_DISTANCE} from the moons (or not "
        f"finite); at most {MAX_LOST_SHARE:.0%} may. Check the Langevin update and the training.")
    assert q.distance < MOONS_DISTANCE_THRESHOLD, (
        f"samples are too far from the moons' shape: sliced-Wasserstein distance {q.distance:.3f} "
        f"(each sample against the moon it lies nearest to), needed below {MOONS_DISTANCE_THRESHOLD}. "
        "Check the training and the Langevin settings (enough steps for the chain to reach the "
        "moons, a small enough eta and SIGMA).")
    assert q.smaller_share >= MIN_MOON_SHARE, (
        f"the samples do not reach both moons: only {q.smaller_share:.0%} lie nearest one of them; "
        f"each should hold at least {MIN_MOON_SHARE:.0%} (the data: 50%).")


CHECKS = [
    Check("hyperparameters_within_the_seed_bounds", "score_matching.hyperparameters",
          hyperparameters_challenge, hyperparameters_within_the_seed_bounds, seconds=20),
    Check("score_network_maps_points_to_scores", "score_matching.score_network", network_challenge,
          score_network_maps_points_to_scores, seconds=30),
    Check("training_loop_updates_the_model", "score_matching.training", training_challenge,
          training_loop_updates_the_model, seconds=120),
    Check("samples_land_near_the_moons", "score_matching.sampling", sampling_challenge,
          samples_land_near_the_moons, seconds=240),
]
