"""The README's explorer screenshots, rendered from a real pipeline run (no browser needed).

``python -m reference_solution screenshots --run runs/quick --out docs/screenshots`` reads a
finished run folder (``pipeline --out runs/quick``): its data and ``events.csv``, the trained
generator of the last WGAN-GP checkpoint and every detector's scores (``report/scores.npz``),
and writes the views' frames as PNG files:

- ``dataset.png``: ``explore_dataset`` on the central day of the run's first warming;
- ``latent.png``: ``explore_latent`` on the trained generator, just outside the 98% ball;
- ``anomalies.png``: ``explore_anomalies`` with every detector's real scores (the best GAN
  detector of the run selected, flagging as many days as the pipeline's rate), its galleries
  below the frame;
- ``langevin.png``: ``explore_langevin`` on a denoising score model trained here for a few
  seconds on two moons (the second assignment has no pipeline run).

Each file is the PNG a notebook shows for that view (the same ``View.png`` bytes), so the
README shows what a user of the kit sees for this run.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch

__all__ = ["write_screenshots", "stack_pngs"]


def stack_pngs(frames: list[bytes], background: float = 1.0) -> bytes:
    """PNG frames stacked top to bottom, left-aligned on a white canvas -> PNG bytes."""
    from matplotlib import image as mimg

    from ..coursekit.widgets import encode_png

    images = []
    for frame in frames:
        rgba = mimg.imread(io.BytesIO(frame), format="png")  # (H, W, 3 or 4) floats in [0, 1]
        if rgba.shape[2] == 3:
            rgba = np.concatenate([rgba, np.ones(rgba.shape[:2] + (1,))], axis=2)
        images.append(rgba)
    width = max(im.shape[1] for im in images)
    canvas = np.full((sum(im.shape[0] for im in images), width, 4), background, dtype=np.float64)
    canvas[..., 3] = 1.0
    row = 0
    for im in images:
        canvas[row:row + im.shape[0], :im.shape[1]] = im
        row += im.shape[0]
    return encode_png((canvas * 255).round().astype(np.uint8))


def _langevin_view(seed: int = 0):
    from ..coursekit.widgets import explore_langevin
    from ..score_matching.denoising import DenoisingScoreMatcher, ScoreNet, make_moons_data

    torch.manual_seed(seed)
    moons = torch.from_numpy(make_moons_data(2000, seed=seed)[0])
    matcher = DenoisingScoreMatcher(ScoreNet(hidden_size=64), (2,), sigma=0.2)
    opt = torch.optim.Adam(matcher.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(600):  # a few seconds on a CPU: a recognisable score field
        opt.zero_grad()
        matcher.loss(moons[torch.randint(0, len(moons), (256,), generator=g)])["total_loss"].backward()
        opt.step()
    matcher.eval()
    return explore_langevin(matcher, moons, eta=0.01, num_steps=200, n_particles=500, seed=seed,
                            static=True)


def write_screenshots(run_dir: str | Path, out_dir: str | Path,
                      views: tuple[str, ...] = ("dataset", "latent", "anomalies", "langevin")
                      ) -> list[Path]:
    """Write the PNG of each of ``views`` from the run in ``run_dir`` into ``out_dir``."""
    from ..coursekit.course_files import find_course_files
    from ..coursekit.warmings import read_events
    from ..coursekit.widgets import explore_anomalies, explore_dataset, explore_latent
    from ..wgan_anomalies.dataset import DS
    from ..wgan_anomalies.training import latest_checkpoint, load_generator

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    report = run_dir / "report"
    metrics_path, scores_path = report / "metrics.json", report / "scores.npz"
    for path in (metrics_path, scores_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found; run `python -m reference_solution pipeline "
                                    f"--out {run_dir}` first")
    metrics = json.loads(metrics_path.read_text())
    files = find_course_files(metrics.get("data_dir") or run_dir / "data")
    ds = DS(files.pv, files.gh, files.mask)
    events = read_events(files.events) if files.events is not None else None
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def save(name: str, data: bytes) -> None:
        path = out_dir / f"{name}.png"
        path.write_bytes(data)
        written.append(path)

    if "dataset" in views:
        central = np.flatnonzero(events["central"]) if events is not None else np.array([], int)
        day = int(central[0]) if len(central) else 0
        save("dataset", explore_dataset(ds, events, day=day, static=True).png)
    if "latent" in views:
        ckpt = latest_checkpoint(run_dir / "checkpoints" / "wgan")
        if ckpt is None:
            raise FileNotFoundError(f"no WGAN-GP checkpoint in {run_dir / 'checkpoints' / 'wgan'}")
        generator = load_generator(ckpt)
        save("latent", explore_latent(generator, mask=ds.mask, norm=1.05, static=True).png)
    if "anomalies" in views:
        with np.load(scores_path) as z:
            scores = {name: z[name] for name in z.files}
        shown = metrics.get("best_gan_detector") or next(iter(scores))
        rate = float(metrics.get("flag_rate", 0.06))
        threshold = float(np.quantile(scores[shown], 1 - rate))
        view = explore_anomalies(scores, dataset=ds, truth=events, threshold=threshold,
                                 detector=shown, static=True)
        save("anomalies", stack_pngs([view.png, view.gallery_top.value, view.gallery_normal.value]))
    if "langevin" in views:
        save("langevin", _langevin_view().png)
    return written
