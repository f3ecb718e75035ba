"""The namespace a notebook's solution cells build, in this process, with some cells replaced.

The grading checks run on a namespace (``grading.protocol.run_in_process``); the mutant
catalogues (``tests/grading/``) and the pass-rate bench (``bench/bench_check_pass_rates.py``)
need the reference's namespace and namespaces with one solution cell edited. This module
executes the solution cells of ``source/<assignment>/<assignment>.ipynb`` (solution markers
removed) after a small prelude standing in for the setup cells, in notebook order.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

__all__ = ["solution_cells", "build_namespace", "SOLUTION_ORDER"]

REPO = Path(__file__).resolve().parents[2]
SOLUTION_ORDER = {
    "wgan_anomalies": ("ds_code", "networks_code", "gradient_penalty_code", "train_model_code",
                       "samplers_code", "latent_radii_code", "classifier_code", "train_classifier_code"),
    "score_matching": ("setup", "denoising_score_matcher_code", "hyperparameters", "loaders",
                       "score_network", "build_matcher", "train_model_code"),
}
WGAN_PRELUDE = """
import os, time
from pathlib import Path
from typing import Any
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from scipy import stats
from torch.utils.data import DataLoader, Dataset, random_split
from tqdm.auto import tqdm
DEVICE = torch.device("cpu"); ON_GPU = False
latent_dim = 128
QUANTILE = 0.98
"""
MOONS_PRELUDE = ("from reference_solution.score_matching import generate_moons_data\n"
                 "train_data, _, test_data, _ = generate_moons_data(5000)\n")


def _body(source: str) -> str:
    """Solution markers and IPython magics removed (what a student's cell runs)."""
    source = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", source + "\n", flags=re.M)
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))


def solution_cells(assignment: str, root: str | Path = REPO) -> dict[str, str]:
    """``{grade_id: source}`` of the code cells with a grade id, markers and magics removed."""
    nb = nbformat.read(Path(root) / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: _body(c.source) for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade_id")}


def submitted_context(assignment: str, replacements: dict[str, str] | None = None, root: str | Path = REPO):
    """What nbgrader's process knows of a submission of these cells (the reference's, with
    ``replacements``): the context under which the hidden checks read settings from the source."""
    from ..grading.protocol import Context

    return Context(cells={**solution_cells(assignment, root), **(replacements or {})}, submitted=True)


def build_namespace(assignment: str, replacements: dict[str, str] | None = None, *,
                    root: str | Path = REPO, scoring: bool = True) -> dict:
    """Execute the solution cells of ``assignment`` (``replacements``: ``{grade_id: source}``).

    For ``wgan_anomalies`` the namespace also gets what the notebook's later cells make and the
    checks use: a generator and a critic at 32 px and the optimizers cell run on them, and with
    ``scoring`` the scoring cell run on the grading data with a fresh classifier.
    """
    import torch

    cells = solution_cells(assignment, root)
    replacements = dict(replacements or {})
    unknown = set(replacements) - set(cells)
    if unknown:
        raise KeyError(f"no cells {sorted(unknown)} in {assignment}")
    # "In": the executed sources, as IPython keeps them (a check that re-runs a cell finds it there)
    ns: dict = {"__name__": "notebook", "In": [""]}
    if assignment == "wgan_anomalies":
        exec(WGAN_PRELUDE, ns)  # noqa: S102 - the course's own cells
    for gid in SOLUTION_ORDER[assignment]:
        source = replacements.get(gid, cells[gid])
        if gid == "loaders":
            source = MOONS_PRELUDE + source
        ns["In"].append(source)
        exec(compile(source, f"<{assignment}:{gid}>", "exec"), ns)  # noqa: S102
    if assignment == "wgan_anomalies":
        torch.manual_seed(0)
        ns["gen"] = ns["Generator"](n_inputs=128, size=32)
        ns["dsc"] = ns["Discriminator"](size=32)
        source = replacements.get("optimizers_code", cells["optimizers_code"])
        ns["In"].append(source)
        exec(compile(source, f"<{assignment}:optimizers_code>", "exec"), ns)  # noqa: S102
        if scoring:
            _score(ns, replacements.get("scoring_code", cells["scoring_code"]))
    return ns


def _score(ns: dict, source: str) -> None:
    """Run the scoring cell on the grading data (a broken DS or classifier leaves no scores)."""
    import torch

    from ..coursekit.data_cache import synthetic_course_files
    from ..grading.wgan_dataset import GRADING_DATA

    ns["files"] = synthetic_course_files(**GRADING_DATA)
    try:
        torch.manual_seed(0)
        ns["clf"] = ns["Classifier"](size=GRADING_DATA["size"])
        ns["In"].append(source)
        exec(compile(source, "<wgan_anomalies:scoring_code>", "exec"), ns)  # noqa: S102
    except Exception:  # noqa: BLE001 - the scoring check then fails, as in the notebook
        for name in ("probs", "threshold", "idx_anomalies", "ds_test"):
            ns.pop(name, None)
