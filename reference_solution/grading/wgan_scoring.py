"""Hidden checks of Parts 4 and 5 of ``wgan_anomalies``: the classifier, its training, the scores.

The classifier's training runs with toy generators whose outputs the grader can recompute: a
batch-norm generator (in eval mode its rows are a fixed function of ``z``; in train mode they
are not) and a generator whose pixels encode ``|z|`` (so the sign of what a linear classifier
learned tells which class it calls anomalous).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import stats

from ..coursekit.stratosphere import disk_mask, generate
from .protocol import PROBES_DIR, Check, runner_source
from .wgan_dataset import GRADING_DATA
from .wgan_networks import _check_scores, _scores_challenge

LATENT = 128
Q98 = float(stats.chi.ppf(0.98, LATENT))
MAX_CALLS = 64  # generator calls and classifier inputs sent back


def _seed(rng) -> int:
    return int(rng.integers(1 << 62))


@lru_cache(maxsize=1)
def _probe_classes() -> dict:
    """The probe's own toy models (our code, not the student's), to recompute what they output."""
    scope: dict = {}
    exec(runner_source(PROBES_DIR / "wgan_scoring.py"), scope)  # noqa: S102 - our probe source
    return scope


def classifier_challenge(rng, folder: Path) -> dict:
    return _scores_challenge(rng, [{"size": s, "n": 9, "modes": ["train", "eval"], "batches": [2, 9, 1, 4]}
                                   for s in (32, 16)])


def classifier_outputs_one_logit_per_sample(challenge: dict, result: dict) -> None:
    """The classifier maps (N, 2, size, size) to (N, 1) unbounded logits."""
    _check_scores(challenge, result, "classifier")


def _training_challenge(kind: str):
    def challenge(rng, folder: Path) -> dict:
        import torch

        out = {"generator": kind, "latent": LATENT, "q": Q98, "seed": _seed(rng), "batch_size": 32,
               "batches": 3 if kind == "bn" else 8, "epochs": 2, "max_calls": MAX_CALLS,
               "mask": disk_mask(8)}
        if kind == "bn":
            torch.manual_seed(_seed(rng))
            gen = _probe_classes()["BNGenerator"](LATENT)
            gen.train()
            with torch.no_grad():  # non-trivial running statistics, so an update would show
                gen(torch.randn(64, LATENT))
            out["state"] = {k: v.numpy().copy() for k, v in gen.state_dict().items()}
        return out
    return challenge


def _returned(challenge: dict, result: dict) -> None:
    values = result["returned"]
    assert result["returned_kind"] in ("list", "tuple") and len(values) == challenge["epochs"], (
        "train_classifier should return the validation loss history, one value per epoch")
    assert all(math.isfinite(v) for v in values), "validation losses should be finite numbers"


def classifier_training_keeps_the_generator_frozen(challenge: dict, result: dict) -> None:
    """train_classifier leaves the generator's weights and batch-norm statistics unchanged and runs it in eval mode."""
    import torch

    assert result["n_calls"] > 0, "train_classifier should make its training data with the generator"
    for key, value in challenge["state"].items():
        got = np.asarray(result["generator_state"][key])
        assert got.shape == value.shape and np.array_equal(got, value), (
            f"the generator changed during classifier training ({key})")
    assert not any(result["calls_training"]), "the generator should run in eval mode"
    gen = _probe_classes()["BNGenerator"](LATENT)
    gen.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in challenge["state"].items()})
    gen.eval()
    mask = torch.from_numpy(challenge["mask"])
    with torch.no_grad():
        rows = torch.cat([gen(torch.from_numpy(np.array(z, dtype=np.float32))) for z in result["calls_z"]])
    # masked or not (the mask is the other check's business): rows of G(z) in eval mode
    expected = torch.cat([rows * mask, rows]).reshape(2 * len(rows), -1).double()  # (2R, 128)
    for x in result["seen"]:
        x = torch.from_numpy(np.array(x, dtype=np.float32)).reshape(len(x), -1)
        distance = torch.cdist(x.double(), expected).min(dim=1).values
        assert float(distance.max()) < 1e-4, (
            "the classifier saw states the generator makes only in train mode (batch statistics): "
            "put the generator in eval mode, masked outputs of G(z)")
    before, after = result["classifier_before"], result["classifier_after"]
    assert any(not np.array_equal(np.asarray(before[k]), np.asarray(after[k])) for k in before), (
        "train_classifier should update the classifier")
    _returned(challenge, result)


def classifier_trains_on_balanced_masked_batches(challenge: dict, result: dict) -> None:
    """train_classifier trains on masked generated batches, half of their latents outside q_0.98, labelled 1 there."""
    z = np.concatenate([np.asarray(c, dtype=np.float64) for c in result["calls_z"]]) if result["calls_z"] else np.zeros((0, LATENT))  # noqa: E501
    assert len(z) and z.shape[1] == LATENT, "latents should have latent_dim components"
    share = float((np.linalg.norm(z, axis=1) > Q98).mean())
    sd = math.sqrt(0.25 / len(z))
    assert abs(share - 0.5) < max(5 * sd, 0.05), (
        f"{share:.0%} of the latents are anomalous (norm above the 98% chi quantile); balanced "
        "batches should hold about 50%")
    assert result["seen"], "the classifier was never called"
    outside = challenge["mask"] == 0
    worst = max(float(np.abs(np.asarray(x)[:, :, outside]).max()) for x in result["seen"])
    assert worst == 0.0, "the classifier should see generated states multiplied by the mask"
    w = np.asarray(result["classifier_after"]["net.1.weight"], dtype=np.float64).reshape(-1)
    slope = float(w @ np.tile(challenge["mask"].reshape(-1), 2))
    assert slope > 0, (
        "after training, the classifier's logit should grow with |z| (states from outside the "
        "98% quantile are the anomalous class, label 1); it learned the opposite: are the labels swapped?")
    _returned(challenge, result)


@lru_cache(maxsize=1)
def _grading_days() -> tuple[np.ndarray, np.ndarray]:
    states = generate(**GRADING_DATA)
    return np.stack([states.pv, states.gh], axis=1), states.mask.astype(np.float32)


def scoring_challenge(rng, folder: Path) -> dict:
    images, mask = _grading_days()
    n = len(images)
    days = sorted({0, 1, *rng.choice(n - 1, size=8, replace=False).tolist()})
    return {"days": days, "_n": n}


def anomalies_are_indices_above_the_threshold(challenge: dict, result: dict) -> None:
    """probs holds P(anomalous) for every day in order and idx_anomalies the days with probs > threshold."""
    images, mask = _grading_days()
    n = result["n"]
    assert n == challenge["_n"], f"ds_test should hold every day of the data ({challenge['_n']}), got {n}"
    assert result["probs_kind"] in ("tensor", "ndarray"), f"probs should be a numpy array, got {result['probs_kind']}"
    p = np.asarray(result["probs"], dtype=np.float64).reshape(-1)
    assert p.shape == (n,), f"probs should hold one value per day ({n}), got shape {np.shape(result['probs'])}"
    assert np.isfinite(p).all() and p.min() >= 0 and p.max() <= 1, "probs should be probabilities in [0, 1]"
    idx = np.asarray(result["idx"]).reshape(-1)
    assert idx.dtype.kind in "iu" or idx.size == 0, "idx_anomalies should hold integer indices"
    assert sorted(int(i) for i in idx) == [int(i) for i in np.flatnonzero(p > result["threshold"])], (
        "idx_anomalies should be the indices of the days whose probability is above the threshold")
    for day, item in zip(result["days"], result["items"]):
        assert np.allclose(np.asarray(item), images[day] * mask, atol=1e-6), (
            f"ds_test[{day}] is not day {day} of the course data: score every day, in order")
    assert np.allclose(np.asarray(result["clf_probs"]), p[result["days"]], atol=1e-3), (
        "probs[i] should be sigmoid(clf(ds_test[i])) of day i: score the days in order (no "
        "shuffling), with the classifier in eval mode")


CHECKS = [
    Check("classifier_outputs_one_logit_per_sample", "wgan_networks.classifier", classifier_challenge,
          classifier_outputs_one_logit_per_sample, seconds=60),
    Check("classifier_training_keeps_the_generator_frozen", "wgan_scoring.classifier_training",
          _training_challenge("bn"), classifier_training_keeps_the_generator_frozen, seconds=60),
    Check("classifier_trains_on_balanced_masked_batches", "wgan_scoring.classifier_training",
          _training_challenge("norm"), classifier_trains_on_balanced_masked_batches, seconds=60),
    Check("anomalies_are_indices_above_the_threshold", "wgan_scoring.scoring", scoring_challenge,
          anomalies_are_indices_above_the_threshold, seconds=60),
]
