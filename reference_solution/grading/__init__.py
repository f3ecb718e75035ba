"""Grading checks called by the hidden test cells of the course notebooks.

Hidden test cells are short calls into these tested checks, so the feedback a student sees
leaks nothing and the checks themselves are proven against the reference and against wrong
implementations in ``tests/grading/``.

Student code runs in the same kernel as the hidden tests. A hidden cell therefore loads a
*fresh* copy of its checks module with :func:`fresh`, straight from the file, instead of
``import``-ing it: a student who patched ``reference_solution.grading.<module>`` (or replaced it
in ``sys.modules``) patched a different object. Everything else a kernel can be made to do is
handled outside it, by the autograder wrapper (``reference_solution.autograde``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent


def fresh(name: str) -> ModuleType:
    """A new, private copy of ``reference_solution.grading.<name>`` loaded from its source file."""
    path = _HERE / f"{name}.py"
    if not path.is_file():
        raise ModuleNotFoundError(f"no grading checks named {name!r} (looked for {path})")
    spec = importlib.util.spec_from_file_location(f"_fresh_grading_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
