"""Search for the notebook's CPU configuration: one WGAN-GP run and the seed's classifier on it.

One run = synthetic data (size, winters, data seed) -> WGAN-GP (with an optional EMA of the
generator's weights) -> the seed's classifier on the EMA generator for each latent scheme ->
ROC-AUC / AP of P(anomalous) on every day against the ground truth, sliced Wasserstein of
generated states to held-out days beside the real-real floor, share of easterly-60N states.

    python bench/tune_notebook.py --winters 20 --epochs 6 --latent 16 --seed 0 --tag a

Prints one JSON line and appends it to runs/tune_notebook/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from reference_solution.coursekit.comparison import average_precision, roc_auc
from reference_solution.coursekit.data_cache import synthetic_course_files
from reference_solution.coursekit.ema import WeightAverage
from reference_solution.coursekit.stratosphere import read_events
from reference_solution.metrics import sliced_wasserstein
from reference_solution.wgan_anomalies.classifier import Classifier, ClassifierConfig, train_classifier
from reference_solution.wgan_anomalies.wgan import Discriminator, Generator, critic_loss, generator_loss

OUT = Path("runs/tune_notebook")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--winters", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--latent", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--n-critic", type=int, default=5)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--beta1", type=float, default=0.5)
    ap.add_argument("--gamma", type=float, default=0.85)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--clf-epochs", type=int, default=8)
    ap.add_argument("--clf-batches", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-seed", type=int, default=None, help="default: --seed")
    ap.add_argument("--clf-grid", default="", help="extra Gaussian classifiers: epochs:batches:decay,...")
    ap.add_argument("--clf-decay", type=float, default=0.9, help="ExponentialLR gamma of the default classifiers")
    ap.add_argument("--clf-repeats", type=int, default=0,
                    help="extra Gaussian classifiers with other seeds on the same generator (classifier variance)")
    ap.add_argument("--clf-pool", type=int, default=1,
                    help="average-pool the classifier's input by this factor (planetary scales only)")
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    files = synthetic_course_files(a.size, a.winters, seed=a.seed if a.data_seed is None else a.data_seed)
    mask = torch.from_numpy(np.load(files.mask).astype(np.float32))
    pv, gh = np.load(files.pv), np.load(files.gh)
    x_all = torch.from_numpy(np.stack([pv, gh], 1).astype(np.float32)) * mask  # (N, 2, S, S)
    truth = read_events(files.events)["ssw"]
    g = torch.Generator().manual_seed(a.seed)
    perm = torch.randperm(len(x_all), generator=g)
    n_val = len(x_all) // 10
    held, train = x_all[perm[:n_val]], x_all[perm[n_val:]]
    t_data = time.time() - t0

    torch.manual_seed(a.seed)
    gen = Generator(n_inputs=a.latent, size=a.size)  # the notebook's nets (wgan.py subclasses them)
    dsc = Discriminator(size=a.size)
    average = WeightAverage(gen, decay=a.ema)  # updated once per generator step
    ema = average.model
    opt_g = torch.optim.Adam(gen.parameters(), lr=a.lr, betas=(a.beta1, 0.9))
    opt_d = torch.optim.Adam(dsc.parameters(), lr=a.lr, betas=(a.beta1, 0.9))
    sch = [torch.optim.lr_scheduler.ExponentialLR(o, a.gamma) for o in (opt_g, opt_d)]
    steps, swd_curve = 0, []
    t1 = time.time()
    for _epoch in range(a.epochs):
        order = torch.randperm(len(train))
        for i in range(0, len(train) - a.batch + 1, a.batch):
            real = train[order[i:i + a.batch]]
            with torch.no_grad():
                fake = gen(torch.randn(a.batch, a.latent)) * mask
            loss, _, _ = critic_loss(dsc, real, fake, 10.0)
            opt_d.zero_grad()
            loss.backward()
            opt_d.step()
            steps += 1
            if steps % a.n_critic == 0:
                lg = generator_loss(dsc, gen(torch.randn(a.batch, a.latent)) * mask)
                opt_g.zero_grad()
                lg.backward()
                opt_g.step()
                average.update(gen)
        for s in sch:
            s.step()
        with torch.no_grad():
            sample = ema(torch.randn(len(held), a.latent, generator=torch.Generator().manual_seed(1))) * mask
        swd_curve.append(round(sliced_wasserstein(sample, held), 5))
    t_wgan = time.time() - t1
    floor = sliced_wasserstein(train[:len(held)], held)
    res = dict(vars(a), swd=swd_curve[-1], swd_curve=swd_curve, floor=round(floor, 5), t_data=round(t_data),
               t_wgan=round(t_wgan))
    d0 = a.clf_decay
    runs = [("gaussian", a.clf_epochs, a.clf_batches, d0, a.seed), ("ball", a.clf_epochs, a.clf_batches, d0, a.seed)]
    for spec in filter(None, a.clf_grid.split(",")):
        e, b, d = spec.split(":")
        runs.append(("gaussian", int(e), int(b), float(d), a.seed))
    runs += [("gaussian", a.clf_epochs, a.clf_batches, d0, 1000 * a.seed + k + 1) for k in range(a.clf_repeats)]
    for scheme, epochs, batches, decay, clf_seed in runs:
        t2 = time.time()
        torch.manual_seed(clf_seed)
        clf = Classifier(size=a.size // a.clf_pool)
        if a.clf_pool > 1:
            clf = torch.nn.Sequential(torch.nn.AvgPool2d(a.clf_pool), clf)
        config = ClassifierConfig(epochs=epochs, batches_per_epoch=batches, lr_decay=decay, scheme=scheme,
                                  seed=clf_seed)
        hist = train_classifier(ema, clf, config, mask=mask, progress=False)
        clf.eval()
        with torch.no_grad():
            p = torch.cat([torch.sigmoid(clf(x_all[i:i + 256])) for i in range(0, len(x_all), 256)])[:, 0].numpy()
        default = (epochs, batches, decay) == (a.clf_epochs, a.clf_batches, d0)
        key = scheme if default else f"g{epochs}:{batches}:{decay}"
        if clf_seed != a.seed:
            key = f"{scheme}_seed{clf_seed}"
        res[key] = dict(auc=round(roc_auc(truth, p), 3), ap=round(average_precision(truth, p), 3),
                           val=round(hist.val_loss[-1], 3),
                           t=round(time.time() - t2))
    OUT.mkdir(parents=True, exist_ok=True)
    line = json.dumps(res)
    print(line, flush=True)
    with open(OUT / "results.jsonl", "a") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()
