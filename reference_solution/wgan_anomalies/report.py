"""The pipeline's report folder: PNG figures and ``anomalies.csv``.

Figures (each a file a person would rather look at than read):
``samples_real_vs_generated.png``, ``wgan_losses.png``, ``classifier_losses.png``,
``latent_norms.png`` (the schemes' norms against the chi density), ``latent_norms_inverted.png``
(``|z*|`` and ``|E(x)|`` of the real days against it), ``score_histogram_<detector>.png``,
``anomalies_gallery.png`` and ``normal_gallery.png`` (the seed's classifier),
``anomalies_gallery_best.png`` (the best GAN detector) and, with ground truth,
``u60_timeline.png``, ``detector_roc.png`` (every detector's ROC curve) and
``missed_and_flagged.png`` (warmings the seed's classifier missed, non-warmings it flagged).
``scores.npz`` holds every detector's score per day (for ``explore_anomalies`` and screenshots).
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the report is written headless, also on machines without a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ..coursekit import plotting  # noqa: E402
from .classifier import scheme_latents  # noqa: E402
from .latent import chi_quantile  # noqa: E402


def _save(fig, path: Path) -> None:
    fig.savefig(path, dpi=110)
    plotting.close(fig)


def _day_labels(truth, idx) -> list[str]:
    if truth is None:
        return [f"day {i}" for i in idx]
    dates = truth["date"]
    kinds = truth["event_type"]
    return [f"{dates[i]}{' ' + kinds[i] if kinds[i] else ''}" for i in idx]


def write_anomalies_csv(path: Path, scores: np.ndarray, flagged: np.ndarray, truth) -> None:
    """One row per flagged day, most anomalous first: index, date, score, truth columns."""
    order = flagged[np.argsort(-scores[flagged])]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "date", "score", "ssw", "event_type", "u60"])
        for i in order:
            if truth is None:
                w.writerow([int(i), "", f"{scores[i]:.6f}", "", "", ""])
            else:
                w.writerow([int(i), truth["date"][i], f"{scores[i]:.6f}", int(truth["ssw"][i]),
                            truth["event_type"][i], f"{float(truth['u60'][i]):.2f}"])


def _gallery(ds, idx, truth, title: str, mask):
    states = torch.stack([ds[int(i)] for i in idx]) if len(idx) else torch.zeros(0)
    return plotting.state_grid(states, mask, labels=_day_labels(truth, idx), ncols=4, title=title)


@torch.no_grad()
def write_report(folder: Path, *, ds, gen, history, clf_histories, scores: dict, primary: str,
                 threshold: float, flagged: np.ndarray, truth, baselines: dict,
                 latent_dim: int, seed: int = 0, gallery: int = 8, flag_rate: float = 0.06,
                 best: str | None = None) -> list[Path]:
    """Write every figure and ``anomalies.csv`` into ``folder``; returns the written paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mask = ds.mask
    device = next(gen.parameters()).device
    g = torch.Generator().manual_seed(seed)
    written = []

    def save(fig, name):
        _save(fig, folder / name)
        written.append(folder / name)

    real_idx = torch.randperm(len(ds), generator=g)[:4].tolist()
    real = torch.stack([ds[i] for i in real_idx])
    z = torch.randn(4, latent_dim, generator=g).to(device)
    fake = (gen(z).float().cpu() * mask)
    save(plotting.real_vs_generated(real, fake, mask), "samples_real_vs_generated.png")

    curves = {"critic loss": history.critic_loss, "generator loss": history.generator_loss}
    if history.val_wasserstein:
        curves["validation W estimate"] = history.val_wasserstein
    save(plotting.loss_curves(curves, xlabel={"critic loss": "critic step", "generator loss": "generator step",
                                              "validation W estimate": "epoch"},
                              title="WGAN-GP training"), "wgan_losses.png")
    save(plotting.loss_curves({f"{s} val loss": h.val_loss for s, h in clf_histories.items()},
                              xlabel="epoch", title="classifier validation BCE"),
         "classifier_losses.png")

    q = chi_quantile(0.98, latent_dim)
    norms = {f"{s} scheme": np.linalg.norm(scheme_latents(latent_dim, 4000, scheme=s), axis=1)
             for s in ("ball", "gaussian")}
    norms["generator's N(0, I)"] = torch.randn(4000, latent_dim, generator=g).norm(dim=1).numpy()
    save(plotting.norm_histograms(norms, latent_dim, q), "latent_norms.png")

    inverted = {name: scores[name] for name in ("inversion_latent_norm", "fanogan_latent_norm")
                if name in scores}
    if inverted:
        save(plotting.norm_histograms({**{f"{k} (real days)": v for k, v in inverted.items()},
                                       "z ~ N(0, I)": norms["generator's N(0, I)"]}, latent_dim, q),
             "latent_norms_inverted.png")

    ssw = None if truth is None else np.asarray(truth["ssw"], dtype=bool)
    for name, sc in scores.items():
        rule = threshold if name.startswith("classifier") else float(np.quantile(sc, 1 - flag_rate))
        save(plotting.score_histogram(sc, rule, truth=ssw, xlabel=name), f"score_histogram_{name}.png")

    sc = scores[primary]
    top = flagged[np.argsort(-sc[flagged])][:gallery]
    calm = np.argsort(sc)[:gallery]
    save(_gallery(ds, top, truth, f"most anomalous days ({primary})", mask), "anomalies_gallery.png")
    save(_gallery(ds, calm, truth, f"most normal days ({primary})", mask), "normal_gallery.png")
    if best is not None and best in scores:
        save(_gallery(ds, np.argsort(-scores[best])[:gallery], truth,
                      f"most anomalous days ({best})", mask), "anomalies_gallery_best.png")
    np.savez(folder / "scores.npz", **{**scores, **baselines})
    written.append(folder / "scores.npz")

    if truth is not None:
        save(plotting.roc_curves({**scores, **baselines}, ssw), "detector_roc.png")
        # What the seed's classifier missed and what it flagged instead, at the common workload.
        cut = float(np.quantile(sc, 1 - flag_rate))
        missed = np.flatnonzero(ssw & (sc <= cut))
        missed = missed[np.argsort(sc[missed])][:gallery // 2]
        wrong = np.flatnonzero(~ssw & (sc > cut))
        wrong = wrong[np.argsort(-sc[wrong])][:gallery // 2]
        idx = np.concatenate([missed, wrong]).astype(int)
        labels = [f"missed {lab}" for lab in _day_labels(truth, missed)] + \
                 [f"flagged {lab}" for lab in _day_labels(truth, wrong)]
        states = torch.stack([ds[int(i)] for i in idx]) if len(idx) else torch.zeros(0)
        save(plotting.state_grid(states, mask, labels=labels, ncols=4,
                                 title=f"{primary}, top {flag_rate:.0%} of days flagged: the "
                                       "warmings it missed and the other days it flagged"),
             "missed_and_flagged.png")
        fig, axes = plt.subplots(2, 1, figsize=(10, 4.5), sharex=True)
        days = np.arange(len(sc))
        axes[0].plot(days, truth["u60"], lw=0.6, color="k")
        axes[0].axhline(0, color="gray", lw=0.5)
        axes[0].fill_between(days, 0, 1, where=ssw, color="tab:red", alpha=0.3,
                             transform=axes[0].get_xaxis_transform(), label="SSW (truth)")
        axes[0].set_ylabel("u at 60N (m/s)")
        axes[0].legend(fontsize=8, loc="upper right")
        axes[1].plot(days, sc, lw=0.6, label=f"GAN score ({primary})")
        axes[1].axhline(threshold, color="k", ls="--", lw=0.8)
        extra = {best: scores[best]} if best is not None and best in scores else {}
        for name, v in {**extra, **baselines}.items():
            span = np.ptp(v) or 1.0
            axes[1].plot(days, (v - v.min()) / span, lw=0.5, alpha=0.6, label=f"{name} (scaled)")
        axes[1].set_xlabel("day")
        axes[1].legend(fontsize=7, ncol=4, loc="upper right")
        fig.tight_layout()
        save(fig, "u60_timeline.png")

    write_anomalies_csv(folder / "anomalies.csv", sc, flagged, truth)
    written.append(folder / "anomalies.csv")
    return written
