"""The seed's classifier, retrained on a stored notebook run's averaged generator: how much of the
ROC-AUC spread is the classifier's own training (its seed, epochs, batch, rate, decay)?

Needs ``python bench/bench_notebook.py --seeds <k>`` first (it keeps
``runs/bench_notebook/seed<k>/checkpoints/average.pt``). One run = both schemes with the
notebook's ``train_classifier`` (``exercises``) and ``Classifier`` on the CPU run's data (32 px,
20 winters, 8 latents), scored on every day against the ground truth:

    python bench/bench_classifier_variants.py --seed 0 --tag base --clf-seed 11
    python bench/bench_classifier_variants.py --seed 0 --tag long --epochs 32 --gamma 0.85

Prints one JSON line and appends it to ``docs/results/classifier_variants.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from reference_solution.coursekit.comparison import roc_auc  # noqa: E402
from reference_solution.coursekit.data_cache import synthetic_course_files  # noqa: E402
from reference_solution.coursekit.stratosphere import read_events  # noqa: E402
from reference_solution.wgan_anomalies import exercises as ex  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0, help="the notebook run (SEED) whose generator is used")
    ap.add_argument("--tag", default="base")
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--batches", type=int, default=64)
    ap.add_argument("--gamma", type=float, default=0.8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--clf-seed", type=int, default=None, help="default: --seed (as the notebook)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    clf_seed = a.seed if a.clf_seed is None else a.clf_seed
    files = synthetic_course_files(32, 20, seed=0, progress=False)
    mask = torch.from_numpy(np.load(files.mask).astype(np.float32))
    gen = ex.Generator(n_inputs=8, size=32)
    ckpt = REPO / "runs" / "bench_notebook" / f"seed{a.seed}" / "checkpoints" / "average.pt"
    gen.load_state_dict(torch.load(ckpt)["generator"])
    gen.eval()
    ds = ex.DS(str(files.pv), str(files.gh), str(files.mask))
    days = torch.stack([ds[i] for i in range(len(ds))])  # (N, 2, 32, 32)
    truth = read_events(files.events)["ssw"]
    out = {"seed": a.seed, "tag": a.tag, "clf_seed": clf_seed, "epochs": a.epochs, "batches": a.batches,
           "gamma": a.gamma, "lr": a.lr, "batch_size": a.batch_size}
    torch.manual_seed(clf_seed)  # as the notebook's classifier cell: seeded, Gaussian first
    np.random.seed(clf_seed)
    start = time.time()
    for scheme in ("gaussian", "ball"):
        clf = ex.Classifier(size=32)
        ex.train_classifier(gen, clf, batch_size=a.batch_size, latent_dim=8, mask=mask, batches_per_epoch=a.batches,
                            max_epochs=a.epochs, lr=a.lr, lr_gamma=a.gamma, scheme=scheme, progress=False)
        clf.eval()
        with torch.no_grad():
            p = torch.sigmoid(clf(days)).squeeze(1).numpy()
        out[scheme] = round(roc_auc(truth, p), 4)
    out["seconds"] = round(time.time() - start, 1)
    print(json.dumps(out), flush=True)
    with open(REPO / "docs" / "results" / "classifier_variants.jsonl", "a") as f:
        f.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
