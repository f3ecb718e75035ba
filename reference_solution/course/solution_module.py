"""A notebook's reference solutions as an importable module, generated from the source notebook.

The source notebook is the one implementation of what a student writes: the grading checks, the
mutant catalogues and the pass-rate bench all run its solution cells. Code outside the notebook
that needs those same solutions (the notebook's tuning bench, a user who wants the notebook's own
``Generator`` or ``train_classifier`` in a script) imports this generated copy instead of writing
a second one:

    from reference_solution.wgan_anomalies.exercises import Generator, train_classifier

Only the cells that define things (imports, ``def``, ``class``) go in; the cells that are
statements on the notebook's variables (``optimizers_code``, ``latent_radii_code``,
``scoring_code``) stay in the notebook. ``python -m reference_solution release`` rewrites the
module; ``tests/course/test_solution_module.py`` proves that it agrees with the notebook.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .notebook_namespace import REPO, SOLUTION_ORDER, solution_cells

__all__ = ["MODULES", "render", "write", "out_of_sync"]

# assignment -> (module path in the repository, its docstring, the imports its cells rely on)
MODULES = {
    "wgan_anomalies": (
        "reference_solution/wgan_anomalies/exercises.py",
        "Assignment 1's reference solutions, as the student writes them in the notebook (one "
        "implementation:\nthe notebook's solution cells, markers removed). The main job's engine "
        "(``wgan.py``, ``training.py``,\n``classifier.py``) builds on these classes and functions and "
        "adds input checks, configs,\nseeded randomness, resume and AMP around them.",
        ("import os\n"
         "from typing import Any\n\n"
         "import numpy as np\n"
         "import torch\n"
         "import torch.nn as nn\n"
         "import torch.nn.functional as F\n"
         "from scipy import stats\n"
         "from torch.utils.data import DataLoader, Dataset\n"
         "from tqdm.auto import tqdm\n")),
}
HEADER = ("# GENERATED from source/{assignment}/{assignment}.ipynb by `python -m reference_solution release`\n"
          "# from the cells {cells}.\n"
          "# Edit the notebook, never this file: tests/course/test_solution_module.py fails when the two differ.\n")


def _defines_only(source: str) -> bool:
    """True when every top-level statement is an import, a function or a class."""
    kinds = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    return all(isinstance(node, kinds) for node in ast.parse(source).body)


def render(assignment: str, root: str | Path = REPO) -> str:
    """The module's text: header, docstring, imports, then each defining solution cell in order."""
    path, doc, imports = MODULES[assignment]
    cells = solution_cells(assignment, root)
    chosen = [gid for gid in SOLUTION_ORDER[assignment] if _defines_only(cells[gid])]
    parts = [HEADER.format(assignment=assignment, cells=", ".join(chosen)), f'"""{doc}"""\n\n', imports]
    for k, gid in enumerate(chosen):
        rule = f"# ---- {gid} " + "-" * max(4, 94 - len(gid))
        # one blank line after the imports (isort), two before every later cell (pycodestyle)
        parts.append(("\n" if k == 0 else "\n\n") + rule + "\n\n" + cells[gid].strip("\n") + "\n")
    return "".join(parts)


def write(assignment: str, root: str | Path = REPO) -> Path:
    """Write the module of ``assignment`` into the repository at ``root``; returns its path."""
    target = Path(root) / MODULES[assignment][0]
    target.write_text(render(assignment, root))
    return target


def out_of_sync(root: str | Path = REPO) -> list[str]:
    """One line per generated module that differs from what its notebook makes (empty: in sync)."""
    problems = []
    for assignment, (path, _doc, _imports) in MODULES.items():
        target = Path(root) / path
        if not target.is_file():
            problems.append(f"{path} is missing: run `python -m reference_solution release`")
        elif target.read_text() != render(assignment, root):
            problems.append(f"{path} differs from the solution cells of source/{assignment}/{assignment}.ipynb: "
                            "run `python -m reference_solution release`")
    return problems
