"""Hidden checks of Parts 4 and 5 of ``wgan_anomalies``: the classifier's training and the scores.

``train_classifier`` trains the grader's linear classifier, started from secret weights, on the
grader's toy generators: a batch-norm generator (in eval mode its rows are a fixed function of
``z``; in train mode they are not) and a generator whose pixels encode ``|z|``. The weights that
come back are judged here on secret latents: the trained classifier must tell typical from
anomalous ones, and its weights outside the mask must not have moved. The scoring cell is run
again in the kernel on secret days with a secret classifier, whose probabilities the grader
computes itself.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import stats

from ..coursekit.stratosphere import disk_mask
from . import expect
from .protocol import PROBES_DIR, Check, Context, probe_scope

LATENT = 128
Q98 = float(stats.chi.ppf(0.98, LATENT))
MAX_CALLS = 64  # generator calls and classifier inputs sent back
SIZE = 8  # the toy generators' image size


def _seed(rng) -> int:
    return int(rng.integers(1 << 62))


def _classifier(rng, inside: np.ndarray) -> dict:
    """Secret initial weights of the linear classifier: random inside the mask and wrong to start
    with (an untrained classifier scores anomalous latents lower than typical ones), zero outside
    it. An unmasked input still moves the weights outside (their gradient is not zero there), while
    weight decay, which pulls every weight towards 0, leaves zeros unchanged: a right answer with
    Adam's weight_decay or AdamW keeps them (with random weights there it lost the mask check)."""
    w = rng.normal(0, 0.005, 2 * inside.size)
    inner = np.tile(inside.reshape(-1) > 0, 2)
    w[inner] -= 0.003  # a few Adam steps of lr 1e-3 turn it around
    w[~inner] = 0.0
    return {"w": w.astype(np.float32), "b": np.array(0.0, np.float32)}


def _training_challenge(kind: str):
    def challenge(rng, folder: Path, context: Context) -> dict:
        import torch

        mask = disk_mask(SIZE)
        out = {"generator": kind, "latent": LATENT, "q": Q98, "seed": _seed(rng), "batch_size": 32,
               "batches": 4 if kind == "bn" else 8, "epochs": 2, "max_calls": MAX_CALLS, "mask": mask,
               "classifier": _classifier(rng, mask), "_eval_z": _eval_latents(rng, 400)}
        if kind == "bn":
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(_seed(rng))
                gen = probe_scope(PROBES_DIR / "wgan_scoring.py")["BNGenerator"](LATENT, Q98)
                gen.train()
                with torch.no_grad():  # non-trivial running statistics, so an update would show
                    gen(torch.randn(64, LATENT))
            out["state"] = {k: v.numpy().copy() for k, v in gen.state_dict().items()}
        return out
    return challenge


def _eval_latents(rng, n: int) -> np.ndarray:
    """Half typical latents (norms 1 to 2 below q, where the Gaussian scheme's typical class lives
    and the ball scheme's lies on the right side), half anomalous (between q and q 2^(1/n))."""
    d = rng.standard_normal((n, LATENT))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    radius = np.concatenate([Q98 - rng.uniform(1.0, 2.0, n // 2), Q98 * (1 + rng.uniform(0.1, 1.0, n - n // 2)
                                                                       * (2 ** (1 / LATENT) - 1))])
    return (d * radius[:, None]).astype(np.float32)


def _grader_generator(challenge: dict):
    """The challenge's generator (the grader's own, with its secret state), in eval mode."""
    import torch

    gen = probe_scope(PROBES_DIR / "wgan_scoring.py")["BNGenerator" if challenge["generator"] == "bn"
                                                       else "NormGenerator"](LATENT, Q98)
    if "state" in challenge:
        gen.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in challenge["state"].items()})
    return gen.eval()


def _accuracy(challenge: dict, result: dict) -> float:
    """How well the returned classifier tells the secret typical latents from the anomalous ones,
    measured here on the grader's generator in eval mode, masked."""
    import torch

    gen = _grader_generator(challenge)
    weights = _classifier_weights(challenge, result)
    z = torch.from_numpy(np.array(challenge["_eval_z"]))
    with torch.no_grad():
        x = (gen(z) * torch.from_numpy(challenge["mask"])).reshape(len(z), -1).double()
        logits = x @ torch.from_numpy(weights["w"].astype(np.float64)).reshape(-1) + float(weights["b"])
    labels = np.arange(len(z)) >= len(z) // 2
    return float(((logits.numpy() > 0) == labels).mean())


def _classifier_weights(challenge: dict, result: dict) -> dict[str, np.ndarray]:
    got = expect.entry(result, "classifier", "the classifier's weights")
    n = challenge["classifier"]["w"].size
    assert isinstance(got, dict) and set(got) == {"1.weight", "1.bias"}, "the classifier's weights are not its own"
    return {"w": expect.array(got["1.weight"], "the classifier's weight", shape=(1, n)).reshape(-1),
            "b": expect.array(got["1.bias"], "the classifier's bias", shape=(1,))[0]}


def _returned(challenge: dict, result: dict) -> None:
    values = expect.entry(result, "returned", "validation losses")
    assert expect.entry(result, "returned_kind") in ("list", "tuple") and isinstance(values, list) \
        and len(values) == challenge["epochs"], "train_classifier should return the validation loss history, one value per epoch"  # noqa: E501
    for v in values:
        expect.number(v, "a validation loss")


def _latents(challenge: dict, result: dict) -> np.ndarray:
    calls = expect.entry(result, "calls_z", "the generator's latents")
    assert isinstance(calls, list) and calls, "train_classifier should make its training data with the generator"
    flags = expect.entry(result, "calls_training", "the generator's modes")
    n_calls = expect.integer(expect.entry(result, "n_calls", "the generator's calls"), "the generator's calls")
    assert isinstance(flags, list) and len(flags) == len(calls) == min(n_calls, challenge["max_calls"]), (
        "the record of the generator's calls is inconsistent (latents, modes and count differ)")
    return np.concatenate([expect.array(z, "latents", shape=(None, LATENT), kinds="f").astype(np.float64)
                           for z in calls])


MIN_ACCURACY = 0.9


MIN_DESCENT_SHARE = 0.8  # of the training steps that must go down the batch's BCE loss


def _descended(challenge: dict, result: dict, either_label: bool) -> None:
    """The classifier's weights came there by training: at every call that a change of weights
    followed (a training step), the change goes down the binary cross-entropy of that call's batch
    (labels: which recorded latents lie outside q_0.98), at weights the grader recomputes from the
    trail; at least one such step per two batches asked for. One closed-form jump is not a trail."""
    import torch

    seen, trail = expect.entry(result, "seen"), expect.entry(result, "weights_seen", "the classifier's weights trail")
    n = challenge["classifier"]["w"].size + 1
    assert isinstance(trail, list) and isinstance(seen, list) and len(trail) == len(seen), (
        "the record of the classifier's calls is inconsistent")
    final = _classifier_weights(challenge, result)
    trail = [expect.array(w, "the classifier's weights", shape=(n,), kinds="f").astype(np.float64) for w in trail]
    trail.append(np.concatenate([final["w"], [final["b"]]]).astype(np.float64))
    gen = _grader_generator(challenge)
    z = torch.from_numpy(np.concatenate([np.array(v, dtype=np.float32) for v in result["calls_z"]]))
    with torch.no_grad():  # masked or not: the mask is the other check's business
        out = gen(z)
    rows = torch.cat([out * torch.from_numpy(challenge["mask"]), out]).reshape(2 * len(z), -1).double()
    labels = (z.double().norm(dim=1) > Q98).double().repeat(2)
    steps, descents = 0, np.zeros(2)  # down the loss with the right labels, with the swapped ones
    for t, x in enumerate(seen):
        if np.array_equal(trail[t], trail[t + 1]):
            continue  # no step after this call (validation, logging)
        steps += 1
        x = torch.from_numpy(np.asarray(x, dtype=np.float64)).reshape(len(x), -1)
        distance, which = torch.cdist(x, rows).min(dim=1)
        if not len(x) or float(distance.max()) > 1e-4:
            continue  # a batch the grader cannot label: not counted as a descent
        step = torch.from_numpy(trail[t + 1] - trail[t])
        for k, y in enumerate((labels[which], 1 - labels[which])):
            w = torch.from_numpy(trail[t]).requires_grad_(True)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w[:-1] + w[-1], y)
            (g,) = torch.autograd.grad(loss, w)
            descents[k] += float(torch.dot(step, g)) < 0
    descents = descents.max() if either_label else descents[0]  # which class is which: the other check's
    wanted = challenge["batches"] * challenge["epochs"]
    assert steps * 2 >= min(wanted, challenge["max_calls"]), (
        f"the classifier's weights changed {steps} times; {challenge['batches']} batches per epoch for "
        f"{challenge['epochs']} epochs should make {wanted} optimizer steps")
    assert descents >= MIN_DESCENT_SHARE * steps, (
        f"only {descents} of the classifier's {steps} updates went down the binary cross-entropy of the batch it "
        "had just seen: train with BCEWithLogitsLoss on the batch's labels (1 outside q_0.98), one step per batch")


def _learned(challenge: dict, result: dict, either_label: bool) -> float:
    weights = _classifier_weights(challenge, result)
    init = challenge["classifier"]
    assert not (np.array_equal(weights["w"], init["w"].reshape(-1)) and float(weights["b"]) == float(init["b"])), (
        "train_classifier should update the classifier")
    _descended(challenge, result, either_label)
    return _accuracy(challenge, result)


def classifier_training_keeps_the_generator_frozen(challenge: dict, result: dict) -> None:
    """train_classifier leaves the generator's weights and batch-norm statistics unchanged, runs it in eval mode, and the classifier it trains works on it."""  # noqa: E501
    import torch

    _latents(challenge, result)
    state = expect.entry(result, "generator_state", "the generator's state")
    for key, value in challenge["state"].items():
        got = expect.array(expect.entry(state, key), f"the generator's {key}", shape=value.shape, finite=False)
        assert np.array_equal(got, value), f"the generator changed during classifier training ({key})"
    flags = expect.entry(result, "calls_training", "the generator's modes")
    assert isinstance(flags, list) and not any(expect.flag(f, "a mode") for f in flags), (
        "the generator should run in eval mode")
    gen = _grader_generator(challenge)  # the BN generator with its secret statistics
    mask = torch.from_numpy(challenge["mask"])
    with torch.no_grad():
        rows = torch.cat([gen(torch.from_numpy(np.array(z, dtype=np.float32))) for z in result["calls_z"]])
    # masked or not (the mask is the other check's business): rows of G(z) in eval mode
    expected = torch.cat([rows * mask, rows]).reshape(2 * len(rows), -1).double()
    seen = expect.entry(result, "seen", "the classifier's inputs")
    assert isinstance(seen, list) and seen, "the classifier was never called"
    for x in seen:
        x = torch.from_numpy(expect.array(x, "a classifier input", shape=(None, 2, SIZE, SIZE)).astype(np.float64))
        assert len(x), "the classifier was called on an empty batch"
        distance = torch.cdist(x.reshape(len(x), -1), expected).min(dim=1).values
        assert float(distance.max()) < 1e-4, (
            "the classifier saw states the generator makes only in train mode (batch statistics): "
            "put the generator in eval mode, masked outputs of G(z)")
    accuracy = _learned(challenge, result, either_label=True)
    separation = max(accuracy, 1 - accuracy)  # which class is which is the other check's business
    assert separation >= MIN_ACCURACY, (
        f"the trained classifier tells typical from anomalous latents of this generator apart in only "
        f"{separation:.0%} of secret cases (needed {MIN_ACCURACY:.0%}): does it train on the generator's "
        "eval-mode outputs?")
    _returned(challenge, result)


def classifier_trains_on_balanced_masked_batches(challenge: dict, result: dict) -> None:
    """train_classifier trains on masked generated batches, half of their latents outside q_0.98, labelled 1 there."""
    z = _latents(challenge, result)
    share = float((np.linalg.norm(z, axis=1) > Q98).mean())
    sd = math.sqrt(0.25 / len(z))
    assert abs(share - 0.5) < max(5 * sd, 0.05), (
        f"{share:.0%} of the latents train_classifier drew are anomalous (norm above q_0.98 = {Q98:.2f}, the "
        f"98% quantile of the chi law for latent_dim = {LATENT}; their median norm is "
        f"{float(np.median(np.linalg.norm(z, axis=1))):.2f}); balanced batches should hold about 50%. "
        "train_classifier draws and labels its latents itself (the grader's samplers stand in for yours): "
        "does it split them at stats.chi.ppf(0.98, latent_dim), the law of |z| (chi2 is that of |z|^2), and "
        "keep as many inside as outside?")
    weights = _classifier_weights(challenge, result)
    outside = np.tile(challenge["mask"].reshape(-1) == 0, 2)
    assert np.array_equal(weights["w"][outside], challenge["classifier"]["w"][outside]), (
        "the classifier learned from pixels outside the mask: multiply the generated states by the mask")
    accuracy = _learned(challenge, result, either_label=False)
    assert accuracy >= MIN_ACCURACY, (
        f"the trained classifier calls only {accuracy:.0%} of secret latents by the right class (needed "
        f"{MIN_ACCURACY:.0%}): states from outside the 98% quantile are the anomalous class, label 1; are the "
        "labels swapped, or the radii wrong?")
    _returned(challenge, result)


SCORING_CELL = "scoring_code"
SCORING_DAYS, SCORING_SIZE = 150, 16


def scoring_challenge(rng, folder: Path, context: Context) -> dict:
    tag = rng.integers(1 << 40)
    mask = disk_mask(SCORING_SIZE)
    pv = rng.random((SCORING_DAYS, SCORING_SIZE, SCORING_SIZE), dtype=np.float32)
    gh = rng.random((SCORING_DAYS, SCORING_SIZE, SCORING_SIZE), dtype=np.float32)
    paths = {k: folder / f"{k}_{tag:x}.npy" for k in ("pv", "gh", "mask")}
    for key, values in (("pv", pv), ("gh", gh), ("mask", mask)):
        np.save(paths[key], values)
    w = rng.normal(0, 0.15, 2 * mask.size).astype(np.float32)
    b = np.array(-float(w.reshape(2, -1)[:, mask.reshape(-1) > 0].sum()) * 0.5, np.float32)
    x = (np.stack([pv, gh], axis=1) * mask).reshape(SCORING_DAYS, -1).astype(np.float64)
    probs = 1 / (1 + np.exp(-(x @ w.astype(np.float64) + float(b))))
    return {**{k: str(v) for k, v in paths.items()}, "classifier": {"w": w, "b": b},
            "cell": context.cells.get(SCORING_CELL), "_probs": probs}


def anomalies_are_indices_above_the_threshold(challenge: dict, result: dict) -> None:
    """Your scoring cell, run again on secret days and a secret classifier: probs holds P(anomalous) of every day in order and idx_anomalies the days with probs > threshold."""  # noqa: E501
    want = challenge["_probs"]
    kind = expect.entry(result, "probs_kind")
    assert kind in ("tensor", "ndarray"), f"probs should be a numpy array, got {kind}"
    p = expect.array(expect.entry(result, "probs"), "probs", kinds="f").astype(np.float64).reshape(-1)
    assert p.shape == want.shape, f"probs should hold one value per day ({len(want)}), got {p.size}"
    assert p.min() >= 0 and p.max() <= 1, "probs should be probabilities in [0, 1]"
    assert np.allclose(p, want, atol=1e-4), (
        "probs[i] should be sigmoid(clf(ds_test[i])) of day i: score every day in order (no shuffling), "
        "with the classifier in eval mode")
    threshold = expect.number(expect.entry(result, "threshold"), "threshold")
    idx = expect.array(expect.entry(result, "idx"), "idx_anomalies", shape=(None,))
    assert idx.dtype.kind in "iu" or idx.size == 0, "idx_anomalies should hold integer indices"
    assert sorted(int(i) for i in idx) == [int(i) for i in np.flatnonzero(p > threshold)], (
        "idx_anomalies should be the indices of the days whose probability is above the threshold")


CHECKS = [
    Check("classifier_training_keeps_the_generator_frozen", "wgan_scoring.classifier_training",
          _training_challenge("bn"), classifier_training_keeps_the_generator_frozen, seconds=60,
          trusts="the generator's state after training and its mode at every call (the classifier's inputs "
                 "must be the generator's eval-mode outputs, and the classifier must work on them)",
          verifies="the classifier's inputs recomputed as the frozen generator's eval-mode outputs; every update "
                   "along the weights' trail goes down its batch's BCE (recomputed); the trained weights, run here, "
                   "must separate secret latents"),
    Check("classifier_trains_on_balanced_masked_batches", "wgan_scoring.classifier_training",
          _training_challenge("norm"), classifier_trains_on_balanced_masked_batches, seconds=60,
          trusts="the latents the generator was called with (their share above q_0.98); the classifier's "
                 "weights are judged here",
          verifies="the trained weights run here must classify secret latents (labels), every update goes down its "
                   "batch's BCE with labels 1 outside q_0.98, and the weights outside the mask must equal their "
                   "secret start"),
    Check("anomalies_are_indices_above_the_threshold", "wgan_scoring.scoring", scoring_challenge,
          anomalies_are_indices_above_the_threshold, seconds=60,
          verifies="the scoring cell run again on secret days with a secret classifier: every probability recomputed "
                   "here, idx from probs > threshold"),
]
