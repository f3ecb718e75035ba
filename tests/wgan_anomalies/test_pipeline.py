"""The main job end to end at a tiny size: every report file, metrics with ground truth, resume."""

import json

import numpy as np
import pytest

from reference_solution.coursekit.fanogan import FAnoGANConfig
from reference_solution.coursekit.inversion import InversionConfig
from reference_solution.wgan_anomalies.classifier import ClassifierConfig
from reference_solution.wgan_anomalies.detectors import BASELINES, GAN_DETECTORS, DetectorConfig
from reference_solution.wgan_anomalies.pipeline import PRESETS, Preset, run_pipeline
from reference_solution.wgan_anomalies.training import WGANConfig

TINY = Preset(size=16, winters=3,
              wgan=WGANConfig(epochs=1, batch_size=32, max_steps_per_epoch=10, latent_dim=16),
              classifier=ClassifierConfig(epochs=1, batches_per_epoch=4, batch_size=32),
              detectors=DetectorConfig(fanogan=FAnoGANConfig(epochs=1, max_steps_per_epoch=4),
                                       inversion=InversionConfig(steps=3)))

FIGURES = ["samples_real_vs_generated.png", "wgan_losses.png", "classifier_losses.png",
           "latent_norms.png", "latent_norms_inverted.png", "anomalies_gallery.png",
           "normal_gallery.png", "anomalies_gallery_best.png", "u60_timeline.png",
           "detector_roc.png", "missed_and_flagged.png"] + \
    [f"score_histogram_{name}.png" for name in GAN_DETECTORS]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return out, run_pipeline(out, preset=TINY, device="cpu", progress=False)


def test_report_folder_holds_every_figure_and_table(tiny_run):
    out, result = tiny_run
    report = out / "report"
    for name in FIGURES + ["anomalies.csv", "metrics.json"]:
        assert (report / name).stat().st_size > 0, name
    rows = (report / "anomalies.csv").read_text().splitlines()
    assert rows[0] == "index,date,score,ssw,event_type,u60"
    assert len(rows) - 1 == len(result.anomalies)


def test_metrics_hold_measured_roc_auc_of_pipeline_and_baselines(tiny_run):
    out, result = tiny_run
    m = json.loads((out / "report" / "metrics.json").read_text())
    assert m["ground_truth"] and m["days"] == 3 * 151
    for scheme in ("ball", "gaussian"):
        assert 0.0 <= m["gan"][scheme]["roc_auc"] <= 1.0
    assert set(m["detectors"]) == set(GAN_DETECTORS) | set(BASELINES)
    for name, d in m["detectors"].items():
        assert 0.0 <= d["roc_auc"] <= 1.0, name
        assert abs(d["flagged"] - 0.06 * 453) <= 3 or d["flagged"] < 0.06 * 453, name  # workload
    assert m["detectors"]["classifier_gaussian"]["at_rule"]["threshold"] == 0.5
    assert m["detectors"]["inversion_latent_norm"]["at_rule"]["threshold"] == pytest.approx(m["chi_p98"])
    assert m["best_gan_detector"] in GAN_DETECTORS
    with np.load(out / "report" / "scores.npz") as z:
        assert set(z.files) == set(GAN_DETECTORS) | set(BASELINES)
        assert all(len(z[k]) == 453 for k in z.files)
    for name in ("polar_cap_index", "wind_index", "pca_error"):
        assert 0.0 <= m["baselines"][name]["roc_auc"] <= 1.0
    # The wind index is (nearly) the quantity that defines an SSW: it must detect well.
    assert m["baselines"]["wind_index"]["roc_auc"] > 0.9
    assert m["chi_p98"] == pytest.approx(5.4436, abs=1e-3)  # chi.ppf(0.98, 16)


def test_a_second_run_resumes_instead_of_retraining(tiny_run):
    out, first = tiny_run
    checkpoints = sorted((out / "checkpoints").rglob("*.pt"))
    stamps = {p: p.stat().st_mtime_ns for p in checkpoints}
    again = run_pipeline(out, preset=TINY, device="cpu", progress=False)
    assert {p: p.stat().st_mtime_ns for p in checkpoints} == stamps
    np.testing.assert_array_equal(again.anomalies, first.anomalies)


def test_real_course_files_are_used_when_given(tiny_run, tmp_path):
    out, _ = tiny_run
    data = out / "data"
    (tmp_path / "real").mkdir()
    for f in data.glob("*.npy"):  # the real files come without events.csv
        (tmp_path / "real" / f.name).write_bytes(f.read_bytes())
    result = run_pipeline(tmp_path / "run", preset=TINY, data_dir=tmp_path / "real", device="cpu",
                          progress=False)
    assert not result.metrics["ground_truth"] and "gan" not in result.metrics
    assert (tmp_path / "run" / "report" / "anomalies.csv").exists()


def test_presets_are_well_formed():
    assert PRESETS["full"].size == 256 and PRESETS["quick"].size <= 64
    assert PRESETS["medium"].size == 64
