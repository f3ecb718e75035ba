"""Screenshots from a run folder: a small fake run (data, checkpoint, scores) is enough."""

import io
import json

import matplotlib.image as mimg
import numpy as np
import torch

from reference_solution.course.screenshots import stack_pngs, write_screenshots
from reference_solution.coursekit import stratosphere, synthetic_files
from reference_solution.coursekit.widgets import encode_png
from reference_solution.wgan_anomalies.training import save_checkpoint
from reference_solution.wgan_anomalies.wgan import Generator


def _image(data: bytes) -> np.ndarray:
    return mimg.imread(io.BytesIO(data), format="png")


def test_stack_pngs_puts_frames_under_each_other():
    a = np.zeros((4, 6, 4), np.uint8)
    a[..., 0], a[..., 3] = 255, 255
    b = np.zeros((3, 2, 4), np.uint8)
    b[..., 2], b[..., 3] = 255, 255
    out = _image(stack_pngs([encode_png(a), encode_png(b)]))
    assert out.shape[:2] == (7, 6)
    assert out[0, 0, 0] == 1.0 and out[5, 1, 2] == 1.0 and out[5, 4, :3].tolist() == [1, 1, 1]


def test_screenshots_of_a_run_folder(tmp_path):
    run = tmp_path / "run"
    files = synthetic_files.write_course_files(run / "data", winters=2, size=16, progress=False)
    torch.manual_seed(0)
    gen = Generator(n_inputs=16, size=16)
    save_checkpoint(run / "checkpoints" / "wgan" / "last.pt",
                    generator=gen.state_dict(), generator_kwargs=gen.init_kwargs)
    (run / "report").mkdir()
    ssw = stratosphere.read_events(files.events)["ssw"]
    rng = np.random.default_rng(0)
    np.savez(run / "report" / "scores.npz", critic=ssw + rng.random(len(ssw)),
             fanogan=rng.random(len(ssw)))
    (run / "report" / "metrics.json").write_text(json.dumps({"best_gan_detector": "critic",
                                                              "flag_rate": 0.06}))
    out = tmp_path / "shots"
    written = write_screenshots(run, out, views=("dataset", "latent", "anomalies"))
    assert [p.name for p in written] == ["dataset.png", "latent.png", "anomalies.png"]
    for path in written:
        assert path.read_bytes().startswith(b"\x89PNG")
    assert _image((out / "anomalies.png").read_bytes()).shape[0] > 300  # frame + galleries
