"""The generated module of assignment 1's reference solutions agrees with the source notebook."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from reference_solution.course.notebook_namespace import REPO, solution_cells
from reference_solution.course.solution_module import MODULES, out_of_sync, render
from reference_solution.wgan_anomalies import exercises

NOTEBOOK = "source/wgan_anomalies/wgan_anomalies.ipynb"


def test_the_committed_module_is_what_the_notebook_makes():
    assert out_of_sync() == []


def test_a_changed_solution_cell_puts_the_module_out_of_sync(tmp_path):
    """The sync check reads the notebook, not a cached copy: edit one solution line and it fails."""
    for rel in (NOTEBOOK, MODULES["wgan_anomalies"][0]):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, tmp_path / rel)
    assert out_of_sync(tmp_path) == []
    nb = json.loads((tmp_path / NOTEBOOK).read_text())
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "networks_code")
    cell["source"] = [line.replace("nn.LeakyReLU(0.2)", "nn.LeakyReLU(0.1)") for line in cell["source"]]
    (tmp_path / NOTEBOOK).write_text(json.dumps(nb))
    problems = out_of_sync(tmp_path)
    assert len(problems) == 1 and "exercises.py differs" in problems[0]


def test_every_defining_solution_cell_is_in_the_module_and_statement_cells_are_not():
    text = render("wgan_anomalies")
    cells = solution_cells("wgan_anomalies")
    for gid in ("ds_code", "networks_code", "gradient_penalty_code", "train_model_code", "samplers_code",
                "classifier_code", "train_classifier_code"):
        assert cells[gid].strip("\n") in text, gid
    for gid in ("optimizers_code", "latent_radii_code", "scoring_code"):  # statements on notebook variables
        assert f"# ---- {gid} " not in text


def test_the_module_runs_the_notebooks_networks_and_samplers():
    torch.manual_seed(0)
    np.random.seed(0)
    with torch.no_grad():
        images = exercises.Generator(n_inputs=16, size=32).eval()(torch.randn(3, 16))  # (3, 2, 32, 32)
    assert images.shape == (3, 2, 32, 32) and 0 <= float(images.min()) and float(images.max()) <= 1
    assert exercises.Discriminator(size=32)(images).shape == (3, 1)
    assert exercises.Classifier(size=32)(images).shape == (3, 1)
    inner, outer = exercises.SampleInnerAndOuterExamples(ndim=16, radius_inner=5.0, radius_outer=6.0, nsamples=500)
    assert len(inner) + len(outer) == 500
    assert np.linalg.norm(inner, axis=1).max() <= 5.0 < np.linalg.norm(outer, axis=1).min()


@pytest.mark.parametrize("size", [16, 32])
def test_the_notebooks_dataset_and_the_engines_read_the_same_days(tmp_path, size):
    """Two readers of the course files, one per audience: they must give the same tensors."""
    from reference_solution.wgan_anomalies.dataset import DS as EngineDS

    rng = np.random.default_rng(size)
    paths = {k: tmp_path / f"{k}.npy" for k in ("pv", "gh", "mask")}
    np.save(paths["pv"], rng.random((7, size, size), dtype=np.float32))
    np.save(paths["gh"], rng.random((7, size, size), dtype=np.float32))
    np.save(paths["mask"], (rng.random((size, size)) > 0.3).astype(np.float32))
    ours, engine = exercises.DS(*map(str, paths.values())), EngineDS(*map(str, paths.values()))
    assert len(ours) == len(engine) == 7
    for i in range(7):
        assert torch.equal(ours[i], engine[i])


# ---- the seed-named samplers and penalty exist once, in the notebook ---------------------------

def test_the_samplers_return_the_seeds_arrays():
    np.random.seed(1)
    s = exercises.SamplingUnitSphereUniform()
    assert isinstance(s, np.ndarray) and s.shape == (100, 2) and s.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-12)
    b = exercises.SamplingBallUniform(ndim=5, radius=3, nsamples=50)
    assert b.shape == (50, 5) and (np.linalg.norm(b, axis=1) <= 3).all()
    inner, outer = exercises.SampleInnerAndOuterExamples(ndim=2, radius_inner=1, radius_outer=2, nsamples=1000)
    assert inner.shape[0] + outer.shape[0] == 1000 and inner.shape[1] == outer.shape[1] == 2
    # a quarter of the outer disk's area lies inside radius 1: 250 +- 5 sd
    assert abs(inner.shape[0] - 250) <= 5 * np.sqrt(1000 * 0.25 * 0.75)


def test_the_notebooks_penalty_equals_the_engines_on_the_same_alphas():
    from reference_solution.wgan_anomalies.wgan import Discriminator, gradient_penalty

    net = Discriminator(size=8)
    real, fake = torch.rand(5, 2, 8, 8), torch.rand(5, 2, 8, 8)
    torch.manual_seed(11)
    ours = exercises.compute_gradient_penalty(net, real, fake)
    torch.manual_seed(11)
    engine = gradient_penalty(net, real, fake)
    assert float(ours) == pytest.approx(float(engine), rel=1e-6)
    assert ours.requires_grad  # create_graph=True: the critic can be trained on it
