"""Every anomaly detector of the kit, run on one trained WGAN-GP and the same days.

GAN detectors (one generator ``G`` and critic ``D``):

- ``classifier_gaussian``, ``classifier_ball``: the seed's method. A classifier ``F`` learns to
  tell ``G(z)`` with ``|z| > q_0.98`` from ``|z| <= q_0.98`` (balanced by Gaussian rejection or
  a uniform ball); the score is ``P(anomalous) = sigmoid F(x)``, the seed's rule ``P > 0.5``.
- ``critic``: ``D(x)`` times ``critic_sign`` (see ``critic_score``).
- ``fanogan``: ``A_R + kappa A_D`` of an izi_f encoder (Schlegl et al. 2019, ``fanogan``).
- ``fanogan_latent_norm``: ``|E(x)|`` of the same encoder.
- ``inversion_residual``, ``inversion_latent_norm``: ``R(z*)`` and ``|z*|`` of iterative latent
  inversion (AnoGAN, ``inversion``); the seed's rule for the norm is ``|z*| > q_0.98``.

Baselines from the fields alone (``detection``): ``polar_cap_index``, ``wind_index``,
``pca_error`` and ``pca_mahalanobis``.

Every detector is judged threshold-free (ROC-AUC, average precision) and at one common workload,
``flag_rate`` of the days flagged (precision, recall); detectors with a rule of their own (the
classifier's 0.5, the chi quantile of a latent norm) are also judged at it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..coursekit.critic_score import critic_features, critic_scores
from ..coursekit.fanogan import Encoder, FAnoGANConfig, FAnoGANHistory, fanogan_scores, train_encoder
from ..coursekit.inversion import InversionConfig, invert_dataset
from . import detection
from .classifier import Classifier, ClassifierConfig, ClassifierHistory, train_classifier
from .latent import chi_quantile

__all__ = ["DESCRIPTIONS", "DetectorConfig", "DetectorRun", "run_gan_detectors",
           "run_baselines", "evaluate", "GAN_DETECTORS", "BASELINES"]

DESCRIPTIONS = {
    "classifier_gaussian": "seed's classifier, Gaussian latents (48/49 rejection): P(anomalous)",
    "classifier_ball": "seed's classifier, uniform-ball latents: P(anomalous)",
    "critic": "WGAN-GP critic score D(x)",
    "fanogan": "f-AnoGAN score A_R + kappa A_D (izi_f encoder)",
    "fanogan_latent_norm": "f-AnoGAN encoder's latent norm |E(x)|",
    "inversion_residual": "latent inversion residual R(z*) (AnoGAN)",
    "inversion_latent_norm": "latent inversion norm |z*| (the seed's premise, tested)",
    "polar_cap_index": "polar-cap height index (baseline)",
    "wind_index": "60N wind index from the height field (baseline)",
    "pca_error": "PCA reconstruction error (baseline)",
    "pca_mahalanobis": "PCA Mahalanobis distance (baseline)",
}
GAN_DETECTORS = tuple(k for k in DESCRIPTIONS if not DESCRIPTIONS[k].endswith("(baseline)"))
BASELINES = tuple(k for k in DESCRIPTIONS if k not in GAN_DETECTORS)


@dataclass(frozen=True)
class DetectorConfig:
    schemes: tuple[str, ...] = ("gaussian", "ball")  # latent schemes of the seed's classifier
    critic_sign: float = 1.0  # +1 scores D(x), -1 scores -D(x); chosen on tuning seeds
    fanogan: FAnoGANConfig | None = FAnoGANConfig()  # None skips f-AnoGAN
    inversion: InversionConfig | None = InversionConfig()  # None skips latent inversion
    inversion_from_encoder: bool = False  # start inversion at E(x) instead of config.init
    flag_rate: float = 0.06  # share of days every detector flags for precision/recall
    pca_components: int = 4  # components of the Mahalanobis baseline (chosen on tuning seeds)


@dataclass
class DetectorRun:
    scores: dict[str, np.ndarray]  # detector -> (N,) score, higher = more anomalous
    rules: dict[str, float] = field(default_factory=dict)  # detector -> its own threshold
    histories: dict = field(default_factory=dict)  # training curves of classifiers and encoder
    timings: dict[str, float] = field(default_factory=dict)  # seconds per detector


def _load_or_train(path: Path, model: torch.nn.Module, train, history_type):
    """Load ``model`` and its history from ``path`` or train it and save both (atomically)."""
    if path.is_file():
        state = torch.load(path, map_location=next(model.parameters()).device, weights_only=False)
        model.load_state_dict(state["model"])
        return history_type(**state["history"])
    history = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "history": vars(history)}, tmp)
    tmp.replace(path)
    return history


def run_gan_detectors(gen: torch.nn.Module, critic: torch.nn.Module, ds, mask: torch.Tensor,
                      classifier: ClassifierConfig, config: DetectorConfig = DetectorConfig(),
                      checkpoint_dir: str | Path | None = None, seed: int = 0,
                      progress: bool = False) -> DetectorRun:
    """Scores of every GAN detector on every day of ``ds`` (in order); models trained here are
    saved to (and on a rerun loaded from) ``checkpoint_dir``."""
    device = next(gen.parameters()).device
    size, n_latent = ds.size, int(gen.n_inputs)
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    run = DetectorRun(scores={})
    q = chi_quantile(0.98, n_latent)
    gen.eval()
    critic.eval()

    def timed(name, t):
        run.timings[name] = round(time.perf_counter() - t, 2)

    # The seed's classifier, one per latent scheme.
    for scheme in config.schemes:
        t = time.perf_counter()
        clf = Classifier(size=size).to(device)
        cfg = replace(classifier, scheme=scheme, seed=seed)
        train = lambda: train_classifier(gen, clf, cfg, mask=mask, progress=progress)  # noqa: E731, B023 (called in this iteration)
        run.histories[f"classifier_{scheme}"] = (
            _load_or_train(folder / f"classifier_{scheme}.pt", clf, train, ClassifierHistory)
            if folder else train())
        run.scores[f"classifier_{scheme}"] = detection.score_dataset(clf, ds, progress=progress)
        run.rules[f"classifier_{scheme}"] = 0.5
        timed(f"classifier_{scheme}", t)

    t = time.perf_counter()
    run.scores["critic"] = config.critic_sign * critic_scores(critic, ds, mask=mask, progress=progress)
    timed("critic", t)

    encoded = None
    if config.fanogan is not None:
        t = time.perf_counter()
        torch.manual_seed(seed)
        encoder = Encoder(n_latent, size, config.fanogan.width).to(device)
        fcfg = replace(config.fanogan, seed=seed)
        train = lambda: train_encoder(encoder, gen, critic, ds, fcfg, mask=mask,  # noqa: E731
                                      progress=progress)
        run.histories["fanogan"] = (_load_or_train(folder / "fanogan_encoder.pt", encoder, train,
                                                   FAnoGANHistory) if folder else train())
        encoded = fanogan_scores(encoder, gen, critic, ds, kappa=fcfg.kappa, mask=mask,
                                 progress=progress)
        run.scores["fanogan"] = encoded.score
        run.scores["fanogan_latent_norm"] = encoded.norm
        run.rules["fanogan_latent_norm"] = q
        timed("fanogan", t)

    if config.inversion is not None:
        t = time.perf_counter()
        cache = folder / "inversion.npz" if folder else None
        if cache is not None and cache.is_file():
            with np.load(cache) as z:
                residual, norm = z["residual"], z["norm"]
        else:
            init = encoded.z if (config.inversion_from_encoder and encoded is not None) else None
            res = invert_dataset(gen, ds, replace(config.inversion, seed=seed), mask=mask,
                                 features=critic_features(critic)
                                 if config.inversion.lambda_feature > 0 else None,
                                 init=init, progress=progress)
            residual, norm = res.objective(config.inversion.lambda_feature), res.norm
            run.histories["inversion"] = {"curve": res.curve}
            if cache is not None:
                np.savez(cache, residual=residual, norm=norm)
        run.scores["inversion_residual"] = residual
        run.scores["inversion_latent_norm"] = norm
        run.rules["inversion_latent_norm"] = q
        timed("inversion", t)
    return run


def run_baselines(pv: np.ndarray, gh: np.ndarray, mask: np.ndarray,
                  config: DetectorConfig = DetectorConfig(), seed: int = 0) -> dict[str, np.ndarray]:
    """The field-only baselines on every day: ``{name: (N,)}``, higher = more anomalous."""
    return {"polar_cap_index": detection.polar_cap_index(gh, mask),
            "wind_index": detection.wind_index(gh, mask),
            "pca_error": detection.pca_error(pv, gh, mask, seed=seed),
            "pca_mahalanobis": detection.pca_mahalanobis(pv, gh, mask, config.pca_components,
                                                         seed=seed)}


def evaluate(scores: dict[str, np.ndarray], truth: np.ndarray, flag_rate: float,
             rules: dict[str, float] | None = None) -> dict[str, dict]:
    """Per detector: ROC-AUC, AP, and precision/recall at ``flag_rate`` (and at its own rule)."""
    out = {}
    for name, s in scores.items():
        m = detection.detection_metrics(truth, s, detection.threshold_for_rate(s, flag_rate))
        m["description"] = DESCRIPTIONS.get(name, name)
        m["family"] = "gan" if name in GAN_DETECTORS else "baseline"
        if rules and name in rules:
            m["at_rule"] = detection.detection_metrics(truth, s, rules[name])
        out[name] = m
    return out
