"""Why the seed's detector finds (or misses) the warmings: measurements and figures of one run.

Reads a finished pipeline run (``python -m reference_solution pipeline --out RUN --seed K``) and
writes figures and ``diagnosis.json`` into ``--out`` (default ``docs/figures``):

1. ``diagnosis_quality.png``: per WGAN-GP epoch, the sliced Wasserstein distance of 1000
   generated states to the held-out days (against the distance between two halves of the real
   days, the floor) and the share of easterly states (60N wind reversed) generated vs real.
2. ``diagnosis_samples.png``: real days (top) and generated states (bottom).
3. ``diagnosis_classifier.png``: what the seed's classifier separates. Left: effect size
   (Cohen's d) of each state descriptor between generated "anomalous" (|z| > q) and "normal"
   states, and between real SSW and non-SSW days. Right: descriptors of ``G(r u)`` along random
   rays ``u`` as the norm ``r`` crosses q.
4. ``diagnosis_latent_norms.png``: ``|z*|`` (inversion) and ``|E(x)|`` (f-AnoGAN) of SSW and
   other days against the chi(128) law of the generator's training latents, with q_0.98.

    python bench/diagnose_detector.py --run runs/tune/quick_s100 --tag quick_s100
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from scipy import stats  # noqa: E402
from torch.utils.data import random_split  # noqa: E402

from reference_solution.coursekit import plotting  # noqa: E402
from reference_solution.coursekit.course_files import find_course_files  # noqa: E402
from reference_solution.coursekit.warmings import read_events  # noqa: E402
from reference_solution.metrics import sliced_wasserstein  # noqa: E402
from reference_solution.wgan_anomalies.classifier import scheme_latents  # noqa: E402
from reference_solution.wgan_anomalies.latent import chi_quantile  # noqa: E402
from reference_solution.wgan_anomalies.state_features import FEATURES, state_features  # noqa: E402
from reference_solution.wgan_anomalies.training import load_checkpoint  # noqa: E402
from reference_solution.wgan_anomalies.wgan import Generator  # noqa: E402


def cohen_d(a: np.ndarray, b: np.ndarray) -> float:
    pooled = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else 0.0


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--tag", default=None, help="suffix of the figure names (default: run name)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "figures")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tag = a.tag or a.run.name
    metrics = json.loads((a.run / "report" / "metrics.json").read_text())
    files = find_course_files(a.run / "data")
    mask = torch.from_numpy(np.load(files.mask)).float()
    x = torch.from_numpy(np.stack([np.load(files.pv), np.load(files.gh)], 1)).float() * mask
    events = read_events(files.events)
    ssw = np.asarray(events["ssw"], bool)
    seed = int(metrics["seed"])
    # The WGAN-GP's own validation split (random_split with the run's seed).
    n_val = max(1, round(0.1 * len(x)))
    train, val = random_split(range(len(x)), [len(x) - n_val, n_val],
                              generator=torch.Generator().manual_seed(seed))
    held = x[np.asarray(val.indices)]
    half = x[np.asarray(train.indices)][:len(held)]
    floor = sliced_wasserstein(half, held)
    ckpts = [p for p in (a.run / "checkpoints" / "wgan" / n for n in ("best.pt", "last.pt")) if p.is_file()]
    out: dict = {"run": str(a.run), "seed": seed, "swd_floor_real_vs_heldout": floor, "epochs": []}
    real_feats = state_features(x, mask)
    for path in ckpts:
        c = load_checkpoint(path)
        gen = Generator(**c["generator_kwargs"]).eval()
        gen.load_state_dict(c["generator"])
        fake = gen(torch.randn(1000, gen.n_inputs, generator=torch.Generator().manual_seed(1))) * mask
        f = state_features(fake, mask)
        out["epochs"].append({"epoch": int(c["epoch"]), "swd": sliced_wasserstein(fake[:len(held)], held),
                              "easterly_share": float(f["easterly"].mean())})
    out["easterly_share_real"] = float(real_feats["easterly"].mean())
    out["ssw_share_real"] = float(ssw.mean())
    a.out.mkdir(parents=True, exist_ok=True)

    # 1. quality per epoch
    ep = [e["epoch"] for e in out["epochs"]]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    axes[0].plot(ep, [e["swd"] for e in out["epochs"]], "o-", ms=3, label="generated vs held-out days")
    axes[0].axhline(floor, color="k", ls="--", lw=1, label="real vs held-out days (floor)")
    axes[0].set(xlabel="epoch", ylabel="sliced Wasserstein distance", yscale="log")
    axes[0].legend(fontsize=7)
    axes[1].plot(ep, [e["easterly_share"] for e in out["epochs"]], "o-", ms=3, label="generated")
    axes[1].axhline(out["easterly_share_real"], color="k", ls="--", lw=1, label="real days")
    axes[1].axhline(out["ssw_share_real"], color="tab:red", ls=":", lw=1, label="SSW days (C&P)")
    axes[1].set(xlabel="epoch", ylabel="share with easterly 60N wind")
    axes[1].legend(fontsize=7)
    fig.suptitle(f"generator quality per epoch ({tag})", fontsize=9)
    fig.tight_layout()
    fig.savefig(a.out / f"diagnosis_quality_{tag}.png", dpi=110)
    plt.close(fig)

    # 2. samples (last epoch)
    real_idx = np.r_[np.flatnonzero(ssw)[:2], np.flatnonzero(~ssw)[::700][:2]]
    fig = plotting.real_vs_generated(x[real_idx], fake[:4], mask)
    fig.savefig(a.out / f"diagnosis_samples_{tag}.png", dpi=90)
    plt.close(fig)

    # 3. what the classifier separates
    n = gen.n_inputs
    q = chi_quantile(0.98, n)
    effects = {}
    for scheme in ("gaussian", "ball"):
        z = torch.as_tensor(scheme_latents(n, 2000, scheme=scheme, seed=2), dtype=torch.float32)
        y = (z.norm(dim=1) > q).float()
        f = state_features(gen(z) * mask, mask)
        effects[f"generated |z|>q vs <=q ({scheme})"] = {k: cohen_d(f[k][y.numpy() > 0], f[k][y.numpy() == 0])
                                                       for k in FEATURES if k != "easterly"}
    effects["real SSW vs other days"] = {k: cohen_d(real_feats[k][ssw], real_feats[k][~ssw])
                                         for k in FEATURES if k != "easterly"}
    out["effect_sizes"] = effects
    with np.load(a.run / "report" / "scores.npz") as s:
        scores = {k: s[k] for k in s.files}
    out["spearman_classifier_vs_features"] = {
        det: {k: float(stats.spearmanr(scores[det], real_feats[k])[0]) for k in FEATURES if k != "easterly"}
        for det in ("classifier_gaussian", "classifier_ball") if det in scores}
    ratios = np.linspace(0.5, 1.6, 23)
    ray = {k: [] for k in FEATURES if k != "easterly"}
    dirs = torch.randn(64, n, generator=torch.Generator().manual_seed(3))
    dirs = dirs / dirs.norm(dim=1, keepdim=True)
    for r in ratios:
        f = state_features(gen(dirs * r * q) * mask, mask)
        for k in ray:
            ray[k].append(float(f[k].mean()))
    out["features_along_rays"] = {"norm_over_q": ratios.tolist(), **ray}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    names = list(effects)
    feats = [k for k in FEATURES if k != "easterly"]
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        axes[0].bar(np.arange(len(feats)) + (j - (len(names) - 1) / 2) * width,
                    [effects[name][k] for k in feats], width, label=name)
    axes[0].axhline(0, color="k", lw=0.6)
    axes[0].set_xticks(np.arange(len(feats)), feats, fontsize=7, rotation=15)
    axes[0].set_ylabel("Cohen's d")
    axes[0].legend(fontsize=6.5)
    axes[0].set_title("what separates the classes", fontsize=9)
    for k in feats:
        v = np.asarray(ray[k])
        axes[1].plot(ratios, v / v[np.argmin(np.abs(ratios - 1))], label=k)
    axes[1].axvline(1.0, color="k", ls="--", lw=0.8)
    axes[1].set(xlabel="|z| / q_0.98 along 64 random directions", ylabel="mean, relative to |z| = q")
    axes[1].legend(fontsize=6.5)
    axes[1].set_title("G(r u): descriptors as the latent norm grows", fontsize=9)
    fig.tight_layout()
    fig.savefig(a.out / f"diagnosis_classifier_{tag}.png", dpi=110)
    plt.close(fig)

    # 4. latent norms of the real days
    fig, ax = plt.subplots(figsize=(6.4, 3.3))
    grid = np.linspace(0, 1.3 * q, 300)
    ax.plot(grid, stats.chi.pdf(grid, n), "k", lw=1.2, label=f"chi law, n={n} (training latents)")
    ax.axvline(q, color="k", ls="--", lw=1, label="q_0.98")
    for _k, (name, color) in enumerate((("inversion_latent_norm", "tab:blue"),
                                       ("fanogan_latent_norm", "tab:green"))):
        if name in scores:
            v = scores[name]
            bins = np.linspace(0, max(1.3 * q, v.max()), 60)
            ax.hist(v[~ssw], bins=bins, density=True, alpha=0.35, color=color, label=f"{name}, other days")
            ax.hist(v[ssw], bins=bins, density=True, histtype="step", lw=1.5, color=color,
                    label=f"{name}, SSW days")
            out[f"{name}_share_above_q"] = float((v > q).mean())
    ax.set_xlabel("|z|")
    ax.legend(fontsize=6.5)
    ax.set_title("latent norms of the real days vs the chi law the classifier's labels assume", fontsize=8.5)
    fig.tight_layout()
    fig.savefig(a.out / f"diagnosis_latent_norms_{tag}.png", dpi=110)
    plt.close(fig)
    out["roc_auc"] = metrics.get("roc_auc_summary")
    (a.out / f"diagnosis_{tag}.json").write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "features_along_rays"}, indent=1))


if __name__ == "__main__":
    main()
