"""Hidden checks of the course notebooks, each a challenge, a probe and a verdict.

A hidden test region of a source notebook holds only calls like::

    from reference_solution.grading import check
    check("ds_items_are_masked_two_channel_tensors")

Under ``nbgrader autograde`` those lines are never executed in the student's kernel: the
grading executor (``reference_solution.course.executor``) reads the names, draws each challenge, runs
the probe in the jailed kernel and computes the verdict in its own process (``protocol``). In a
plain kernel (the instructor's source notebook, ``nbgrader validate``) :func:`check` runs the
same three steps in process.
"""

from __future__ import annotations

import sys

from .protocol import Check, registry, run_in_process

__all__ = ["check", "Check", "registry"]


def check(name: str, seed: int | None = None) -> None:
    """Run hidden check ``name`` on the caller's globals; ``AssertionError`` if it fails."""
    namespace = sys._getframe(1).f_globals
    run_in_process(name, namespace, seed=seed)
