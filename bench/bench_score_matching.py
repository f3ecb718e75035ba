"""Time and sample quality of the reference DSM on two moons (CPU), and the distance baselines.

Prints the training time for the notebook's configuration, the sliced-Wasserstein distance the
reference reaches, and the baselines that MOONS_DISTANCE_THRESHOLD sits between.
Run: ``python bench/bench_score_matching.py``.
"""

from __future__ import annotations

import time

import torch

from reference_solution.score_matching import (
    MOONS_DISTANCE_THRESHOLD,
    DenoisingScoreMatcher,
    ScoreNet,
    moons_distance,
    moons_loaders,
    train_score_model,
    uniform_cloud,
)


def main(epochs: int = 60, batch_size: int = 256, sigma: float = 0.3, lr: float = 5e-3,
         hidden: int = 128, num_steps: int = 1000, eta: float = 0.01) -> None:
    # A 2x128 MLP is faster on one thread; two threads fight over 2 busy cores (50x slower).
    torch.set_num_threads(1)
    torch.manual_seed(0)
    train_loader, test_loader = moons_loaders(5000, batch_size)
    matcher = DenoisingScoreMatcher(ScoreNet(2, hidden), (2,), sigma)
    opt = torch.optim.Adam(matcher.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.97)
    t = time.perf_counter()
    hist = train_score_model(matcher, train_loader, test_loader, epochs, opt, sched, progress=False)
    t_train = time.perf_counter() - t
    g = torch.Generator().manual_seed(1)
    t = time.perf_counter()
    samples = matcher.sample(2000, num_steps, eta, generator=g)
    t_sample = time.perf_counter() - t
    print(f"threads={torch.get_num_threads()} epochs={epochs} batch={batch_size} sigma={sigma} lr={lr}")
    print(f"train {t_train:.1f} s, final train/test loss {hist['train_losses'][-1]:.3f}/"
          f"{hist['test_losses'][-1]:.3f}; sampling 2000 x {num_steps} steps {t_sample:.1f} s")
    print(f"distance reference {moons_distance(samples):.3f} (threshold {MOONS_DISTANCE_THRESHOLD})")
    start = 2 * torch.rand(2000, 2, generator=torch.Generator().manual_seed(2)) - 1
    print(f"distance U[-1,1] start {moons_distance(start):.3f}; "
          f"uniform box {moons_distance(uniform_cloud(2000)):.3f}")
    from reference_solution.coursekit.moons import moons_points
    one, lab = moons_points(4000, noise=0.1, seed=3)
    print(f"distance one moon only {moons_distance(torch.tensor(one[lab == 0][:2000])):.3f}; "
          f"fresh moons {moons_distance(torch.tensor(one[:2000])):.3f}")


if __name__ == "__main__":
    main()
