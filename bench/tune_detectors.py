"""Tuning runs of the GAN detectors on *tuning* seeds (never the evaluation seeds 0-2).

Trains one WGAN-GP on synthetic winters made from ``--seed`` (resumable), then measures on the
same days: sample quality (sliced Wasserstein distance to held-out days, share of easterly
states), the seed's classifier (both latent schemes), the critic's score, f-AnoGAN and latent
inversion with several settings. Prints one JSON object and writes it to ``--out``/tune.json.

    nice -n 19 python bench/tune_detectors.py --seed 100 --epochs 60 --out runs/tune/a
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from torch.utils.data import TensorDataset

from reference_solution.coursekit.critic_score import critic_features, critic_scores
from reference_solution.coursekit.fanogan import Encoder, FAnoGANConfig, fanogan_scores, train_encoder
from reference_solution.coursekit.inversion import InversionConfig, invert_dataset
from reference_solution.coursekit.stratosphere import generate
from reference_solution.metrics import sliced_wasserstein
from reference_solution.wgan_anomalies.classifier import Classifier, ClassifierConfig, train_classifier
from reference_solution.wgan_anomalies.state_features import state_features
from reference_solution.wgan_anomalies.training import WGANConfig, train_wgan
from reference_solution.wgan_anomalies.wgan import Discriminator, Generator


def auc(truth, s, rate: float = 0.08):
    """ROC-AUC, AP, and the hits among the top ``rate`` share of days (the notebook's rule)."""
    flagged = s > np.quantile(s, 1 - rate)
    return {"auc": round(float(roc_auc_score(truth, s)), 4),
            "ap": round(float(average_precision_score(truth, s)), 4),
            "hits": f"{int((flagged & truth).sum())}/{int(flagged.sum())}"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--winters", type=int, default=30)
    ap.add_argument("--width", type=int, default=8, help="f-AnoGAN encoder width")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--n-critic", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--decay", type=float, default=0.9)
    ap.add_argument("--latent-dim", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--inversion", default="adam:0.05:50",
                    help="comma list of optimizer:lr:steps[:init] (init zeros|encoder)")
    ap.add_argument("--fanogan-epochs", type=int, default=5)
    ap.add_argument("--subset", type=int, default=1000,
                    help="non-SSW days in the inversion subset (-1: invert every day)")
    ap.add_argument("--clf-epochs", type=int, default=8)
    ap.add_argument("--clf-batches", type=int, default=32)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out: dict = {"args": {k: str(v) for k, v in vars(a).items()}}
    t0 = time.perf_counter()
    d = generate(winters=a.winters, size=a.size, seed=a.seed, progress=False)
    mask = torch.from_numpy(d.mask).float()
    X = torch.from_numpy(np.stack([d.pv, d.gh], 1)).float() * mask  # (N, 2, S, S)
    ssw = np.asarray(d.ssw, bool)
    n_val = round(0.1 * len(X))
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(a.seed))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    cfg = WGANConfig(epochs=a.epochs, batch_size=a.batch, n_critic=a.n_critic, lr_generator=a.lr,
                     lr_critic=a.lr, betas=(0.5, 0.9), lr_decay=a.decay, seed=a.seed,
                     latent_dim=a.latent_dim,
                     val_fraction=0.0)
    torch.manual_seed(a.seed)
    G = Generator(a.latent_dim, a.size)  # the notebook's nets
    D = Discriminator(a.size)
    t = time.perf_counter()
    hist = train_wgan(G, D, TensorDataset(X[train_idx]), cfg, mask=mask,
                      val_dataset=TensorDataset(X[val_idx]), checkpoint_dir=a.out / "wgan",
                      resume=True, device="cpu", progress=False)
    out["wgan_s"] = round(time.perf_counter() - t, 1)
    out["val_w"] = [round(v, 4) for v in hist.val_wasserstein]
    G.eval()
    D.eval()
    with torch.no_grad():
        fake = G(torch.randn(2000, a.latent_dim, generator=torch.Generator().manual_seed(1))) * mask
    real_val = X[val_idx]
    out["swd_generated_vs_heldout"] = sliced_wasserstein(fake[:len(real_val)], real_val)
    out["swd_train_vs_heldout"] = sliced_wasserstein(X[train_idx][:len(real_val)], real_val)
    ff, fr = state_features(fake, mask), state_features(X, mask)
    out["features_generated"] = {k: round(float(v.mean()), 4) for k, v in ff.items()}
    out["features_data"] = {k: round(float(v.mean()), 4) for k, v in fr.items()}

    # The seed's classifier, both schemes.
    for scheme in ("gaussian", "ball"):
        t = time.perf_counter()
        clf = Classifier(a.size)
        h = train_classifier(G, clf, ClassifierConfig(epochs=a.clf_epochs, batches_per_epoch=a.clf_batches,
                                                      batch_size=64,
                                                      scheme=scheme, seed=a.seed), mask=mask,
                             progress=False)
        clf.eval()
        with torch.no_grad():
            p = torch.sigmoid(torch.cat([clf(X[i:i + 512]) for i in range(0, len(X), 512)])).squeeze(1).numpy()
        out[f"classifier_{scheme}"] = {**auc(ssw, p), "val_loss": round(h.val_loss[-1], 4),
                                       "flagged_at_0.5": int((p > 0.5).sum()),
                                       "s": round(time.perf_counter() - t, 1)}
    # Critic.
    t = time.perf_counter()
    dx = critic_scores(D, X)
    out["critic_s"] = round(time.perf_counter() - t, 2)
    out["critic_plus"], out["critic_minus"] = auc(ssw, dx), auc(ssw, -dx)
    # f-AnoGAN.
    t = time.perf_counter()
    torch.manual_seed(a.seed)
    E = Encoder(a.latent_dim, a.size, a.width)
    fh = train_encoder(E, G, D, TensorDataset(X), FAnoGANConfig(epochs=a.fanogan_epochs, seed=a.seed),
                       mask=mask)
    fs = fanogan_scores(E, G, D, X, mask=mask)
    out["fanogan"] = {"score": auc(ssw, fs.score), "residual": auc(ssw, fs.residual),
                      "feature": auc(ssw, fs.feature_residual), "norm": auc(ssw, fs.norm),
                      "loss": [round(v, 5) for v in fh.loss], "s": round(time.perf_counter() - t, 1)}
    # Inversion on a subset (all SSW days + random others; AUC does not depend on the class ratio).
    rng = np.random.default_rng(a.seed)
    sub = np.arange(len(X)) if a.subset < 0 else np.sort(np.concatenate(
        [np.flatnonzero(ssw), rng.choice(np.flatnonzero(~ssw), a.subset, replace=False)]))
    feats = critic_features(D)
    for spec in a.inversion.split(","):
        parts = spec.split(":")
        opt, lr, steps = parts[0], float(parts[1]), int(parts[2])
        init = parts[3] if len(parts) > 3 else "zeros"
        t = time.perf_counter()
        z0 = fs.z[sub] if init == "encoder" else None
        res = invert_dataset(G, X[sub], InversionConfig(steps=steps, lr=lr, optimizer=opt),
                             mask=mask, features=feats, init=z0)
        s_sub = ssw[sub]
        out[f"inversion_{spec}"] = {"residual": auc(s_sub, res.residual),
                                    "feature": auc(s_sub, res.feature_residual),
                                    "norm": auc(s_sub, res.norm),
                                    "norm_median": round(float(np.median(res.norm)), 3),
                                    "curve": [round(res.curve[i], 6) for i in range(0, steps, max(1, steps // 5))],
                                    "s_per_1000_days": round((time.perf_counter() - t) / len(sub) * 1000, 1)}
    out["total_s"] = round(time.perf_counter() - t0, 1)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "tune.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
