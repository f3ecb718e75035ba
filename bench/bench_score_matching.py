"""Time and sample quality of the reference DSM on two moons (CPU), over training seeds, and the
baselines that the sampling check's bars sit between.

For each training seed: the notebook's configuration (EPOCHS = 100, BATCH_SIZE = 256, LR = 5e-3,
StepLR 0.97, HIDDEN_SIZE = 128, SIGMA = 0.2; 1000 Langevin steps, eta = 0.01, 2000 samples) is
trained and sampled, and the per-moon distance and the smaller moon share are printed; then their
spread over the seeds and the baselines. The sampling check fails a right answer when one training
seed lands past a bar, so the tail over many seeds is what matters, not one run.

Run: ``python bench/bench_score_matching.py --seeds 100`` (about 9 s per seed on one core).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from reference_solution.coursekit import moons_quality as sq
from reference_solution.coursekit.moons import moons_points
from reference_solution.score_matching import DenoisingScoreMatcher, ScoreNet, moons_loaders, train_score_model


def one_seed(seed: int, epochs: int, sigma: float, num_steps: int, eta: float,
             gaussian_start: bool = False) -> dict:
    torch.manual_seed(seed)
    train_loader, test_loader = moons_loaders(5000, 256, seed=seed)
    matcher = DenoisingScoreMatcher(ScoreNet(2, 128), (2,), sigma)
    opt = torch.optim.Adam(matcher.parameters(), lr=5e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.97)
    t = time.perf_counter()
    train_score_model(matcher, train_loader, test_loader, epochs, opt, sched, progress=False)
    t_train = time.perf_counter() - t
    t = time.perf_counter()
    g = torch.Generator().manual_seed(10_000 + seed)
    if gaussian_start:  # a right alternative to U[-1, 1]: some chains start far out
        with torch.no_grad():
            samples = matcher.langevin_dynamics(torch.randn(2000, 2, generator=g), num_steps, eta, generator=g)
    else:
        samples = matcher.sample(2000, num_steps, eta, generator=g)
    t_sample = time.perf_counter() - t
    return {"seed": seed, "train_s": t_train, "sample_s": t_sample, "quality": sq.sample_quality(samples)}


def baselines() -> dict[str, np.ndarray]:
    g = np.random.default_rng(0)
    points, labels = moons_points(4000, noise=0.1, seed=3)
    return {"fresh moons": points[:2000],
            "fresh moons + N(0, 0.2^2) (what sigma = 0.2 samples)": points[:2000] + 0.2 * g.standard_normal((2000, 2)),
            "one moon only": points[labels == 0][:2000],
            "uniform box hugging the data [-1, 2] x [-0.5, 1]": g.uniform([-1, -0.5], [2, 1], (2000, 2)),
            "uniform cloud [-1.5, 2.5] x [-1, 1.5]": sq.uniform_cloud(2000).numpy(),
            "U[-1, 1] start": g.uniform(-1, 1, (2000, 2))}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5, help="training seeds (default 5)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--sigma", type=float, default=0.2)
    ap.add_argument("--num-steps", type=int, default=1000)
    ap.add_argument("--eta", type=float, default=0.01)
    ap.add_argument("--gaussian-start", action="store_true", help="start the chains from N(0, I)")
    args = ap.parse_args(argv)
    # A 3x128 MLP is faster on one thread; two threads fight over 2 busy cores.
    torch.set_num_threads(1)
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        r = one_seed(seed, args.epochs, args.sigma, args.num_steps, args.eta, args.gaussian_start)
        rows.append(r)
        print(f"seed {seed}: train {r['train_s']:.1f} s, sample {r['sample_s']:.1f} s, {_describe(r['quality'])}",
              flush=True)
    lost, d, s = (np.array([getattr(r["quality"], k) for r in rows])
                  for k in ("lost_share", "distance", "smaller_share"))
    print(f"\n{len(rows)} seeds, epochs={args.epochs} sigma={args.sigma} steps={args.num_steps} eta={args.eta}"
          + (", Gaussian start" if args.gaussian_start else ""))
    print(f"lost share: mean {lost.mean():.2%} max {lost.max():.2%} (bar <= {sq.MAX_LOST_SHARE:.0%})")
    print(f"distance: mean {d.mean():.3f} sd {d.std():.3f} max {d.max():.3f} "
          f"(bar < {sq.MOONS_DISTANCE_THRESHOLD}, {(d >= sq.MOONS_DISTANCE_THRESHOLD).sum()} past it)")
    print(f"smaller moon share: mean {s.mean():.3f} min {s.min():.3f} "
          f"(bar >= {sq.MIN_MOON_SHARE}, {(s < sq.MIN_MOON_SHARE).sum()} past it)")
    print("baselines:")
    for name, x in baselines().items():
        print(f"  {name}: {_describe(sq.sample_quality(x))}")


def _describe(q: sq.SampleQuality) -> str:
    return f"lost {q.lost_share:.2%}, distance {q.distance:.3f}, smaller moon share {q.smaller_share:.3f}"

if __name__ == "__main__":
    main()
