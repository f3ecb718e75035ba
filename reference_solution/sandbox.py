"""What the autograder puts around a student's kernel: guarded execution, limits, a tamper scan.

nbgrader executes student code in a kernel it starts itself, with no sandbox. This module holds
the pieces that run *inside* nbgrader (``GuardedExecute``, selected by ``nbgrader_config.py``)
and the pieces the wrapper ``reference_solution.autograde`` uses around each per-student
``nbgrader autograde`` subprocess (memory limit, process-tree kill, static scan).

``GuardedExecute`` replaces nbgrader's ``Execute`` preprocessor and changes three things:

- kernel death (``os._exit``, a segfault, the OOM killer) no longer aborts the student's whole
  notebook: the cell that was running and every later code cell get an error output
  (``DeadKernelError``), so they earn 0 while the cells graded before keep their points;
- a cell that times out is interrupted (nbgrader's default); if the kernel does not answer a
  (silent, empty) execute request within ``unresponsive_grace`` seconds after the interrupt (SIGINT
  ignored, a loop in C), the kernel is stopped and treated as dead, instead of every later cell
  waiting out its own timeout;
- output is capped *while it arrives* (``max_output_chars`` per cell), so a print loop cannot
  fill the grader's memory before nbgrader's ``LimitOutput`` runs. Error outputs are never dropped
  (dropping one would turn a failed test into a passed one).

It also writes, per notebook, a JSON record of each code cell's seconds and outcome into the
folder named by the environment variable ``AUTOGRADE_REPORT_DIR`` (set by the wrapper, outside
the student's folder), which the wrapper turns into the report and ``bench/`` into timings.
"""

from __future__ import annotations

import ast
import json
import os
import re
import resource
import signal
import time
from pathlib import Path

from jupyter_client.utils import ensure_async
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from traitlets import Float, Integer

from nbgrader.preprocessors import Execute

__all__ = ["GuardedExecute", "limit_memory", "kill_tree", "scan_code", "REPORT_DIR_ENV"]

REPORT_DIR_ENV = "AUTOGRADE_REPORT_DIR"


def _error(ename: str, evalue: str) -> NotebookNode:
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class GuardedExecute(Execute):
    """nbgrader's ``Execute`` that survives kernel death, unresponsive kernels and output floods."""

    max_output_chars = Integer(
        200_000, help="Characters of output kept per cell while it runs; the rest is dropped."
    ).tag(config=True)
    unresponsive_grace = Float(
        15.0, help="Seconds a kernel has to answer after a timeout's interrupt before it is stopped."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._dead: str | None = None
        self._records: list[dict] = []
        self._out_chars: dict[int, int] = {}
        self._truncated: set[int] = set()
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self._write_record(resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        started = time.monotonic()
        if self._dead is not None:
            cell.outputs = [_error("DeadKernelError", f"not run: {self._dead}")]
            self._records.append({"index": index, "grade_id": grade_id, "seconds": 0.0,
                                  "outcome": "not run"})
            return cell, resources
        outcome = "ok"
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError as exc:
            self._dead = f"the kernel died while running cell {index} ({grade_id or 'no grade id'}): {exc}"
            cell.outputs.append(_error("DeadKernelError", self._dead))
            outcome = "died"
        except CellTimeoutError as exc:  # IOPub timeout after an interrupt
            cell.outputs.append(_error("CellTimeoutError", str(exc).splitlines()[0]))
            outcome = "timeout"
        if outcome == "ok":
            enames = [o.get("ename") for o in cell.outputs if o.get("output_type") == "error"]
            if "CellTimeoutError" in enames:
                outcome = "timeout"
            elif "MemoryError" in enames:
                outcome = "memory"
            elif enames:
                outcome = "error"
        self._records.append({"index": index, "grade_id": grade_id,
                              "seconds": round(time.monotonic() - started, 3), "outcome": outcome,
                              "truncated": index in self._truncated})
        return cell, resources

    async def _async_handle_timeout(self, timeout, cell=None):
        reply = await super()._async_handle_timeout(timeout, cell)
        if not await self._kernel_answers(self.unresponsive_grace):
            try:
                await ensure_async(self.km.shutdown_kernel(now=True))
            finally:
                raise DeadKernelError(f"the kernel ignored the interrupt after a {timeout} s "
                                      "timeout and was stopped")
        return reply

    async def _kernel_answers(self, grace: float) -> bool:
        # an execute request, not kernel_info: ipykernel 7 answers kernel_info from another
        # thread while the main thread is still stuck in the student's loop
        msg_id = self.kc.execute("", silent=True, store_history=False)
        deadline = time.monotonic() + grace
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
            except Exception:  # queue.Empty: no answer in time
                return False
            if msg["parent_header"].get("msg_id") == msg_id:
                return True
        return False

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "error":
            return super().output(outs, msg, display_id, cell_index)
        size = len(json.dumps(msg.get("content", {}), default=str))
        used = self._out_chars.get(cell_index, 0)
        if used + size > self.max_output_chars:
            if cell_index not in self._truncated:
                self._truncated.add(cell_index)
                outs.append(new_output("stream", name="stdout", text=(
                    f"\n... output truncated by the autograder (over {self.max_output_chars} "
                    "characters in this cell) ...\n")))
            return None
        self._out_chars[cell_index] = used + size
        return super().output(outs, msg, display_id, cell_index)

    def _write_record(self, resources) -> None:
        folder = os.environ.get(REPORT_DIR_ENV)
        if not folder:
            return
        notebook = (resources or {}).get("nbgrader", {}).get("notebook", "notebook")
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{notebook}.json").write_text(json.dumps(
            {"notebook": notebook, "cells": self._records, "kernel_died": self._dead}, indent=1))


# --- limits on the per-student grading process ------------------------------------------------

def limit_memory(max_bytes: int | None):
    """A ``preexec_fn`` that caps the data memory (RLIMIT_DATA: writable private mappings, the heap)
    of a child and of everything it starts. (Not RLIMIT_AS: CUDA reserves huge address ranges.)

    The kernel inherits the limit from the nbgrader process; an allocation past it raises
    ``MemoryError`` (Python) or kills the kernel (native code), both reported. Not a security
    boundary: a kernel running as root may raise its own hard limit.
    """

    def apply() -> None:
        if max_bytes:
            resource.setrlimit(resource.RLIMIT_DATA, (max_bytes, max_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a segfault must not write a core

    return apply


def kill_tree(pid: int) -> None:
    """Kill a process, its children and grandchildren (kernels run in their own sessions)."""
    import psutil  # a dependency of this package (pyproject)

    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=5)


# --- static tamper scan --------------------------------------------------------------------------

#: (pattern, why it is suspicious) — matched against student code cells, comments removed.
SUSPICIOUS = (
    (r"\breference_solution\b", "uses the instructor package (solutions, grading checks)"),
    (r"\bgrading\b", "names the grading checks"),
    (r"\bsys\.modules\b", "edits the module table (could swap checks or helpers)"),
    (r"\b__builtins__\b|\bimport\s+builtins\b|\bfrom\s+builtins\b", "touches builtins"),
    (r"\bos\._exit\b|\bos\.kill\b|\bsys\.exit\b", "can stop the kernel"),
    (r"\bctypes\b", "native memory access (can crash the kernel)"),
    (r"\bimport\s+signal\b|\bfrom\s+signal\b|\bsignal\.(signal|SIG\w*|alarm|setitimer|pthread_\w+)\b",
     "changes signal handling (can ignore the timeout's interrupt)"),
    (r"\bresource\b\s*\.\s*setrlimit", "changes resource limits"),
    (r"\bget_ipython\b|\bInteractiveShell\b", "drives IPython itself (can rewrite later cells)"),
    (r"\b__import__\b|\bimportlib\b", "dynamic import (hides what is imported)"),
    (r"\bsys\.(settrace|setprofile|excepthook)\b", "hooks the interpreter"),
    (r"\bgc\.get_(objects|referrers)\b", "reaches objects of other modules"),
)
#: attribute assignments that are ordinary configuration, not monkeypatching
ALLOWED_ATTRIBUTE_PREFIXES = ("torch.backends.", "plt.rcParams", "matplotlib.rcParams",
                              "mpl.rcParams", "np.set_printoptions", "pd.options.")


def _strip_comments(code: str) -> str:
    return "\n".join(re.sub(r"#.*$", "", line) for line in code.splitlines())


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def scan_code(code: str, imported: set[str] | None = None) -> list[str]:
    """Reasons why ``code`` (a student's code cell) looks like tampering; [] when it does not.

    ``imported``: names bound by ``import`` anywhere in the notebook; an assignment to an
    attribute of one of them (``warnings.warn = ...``, ``helpers.check = ...``) is a monkeypatch.
    """
    reasons = []
    text = _strip_comments(code)
    for pattern, why in SUSPICIOUS:
        match = re.search(pattern, text)
        if match:
            reasons.append(f"`{match.group(0).strip()}`: {why}")
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return reasons  # cell magics, shell escapes, or broken code: regexes only
    imported = imported if imported is not None else imported_names(code)
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("setattr", "delattr") and node.args:
            name = _dotted(node.args[0])
            if name and name.split(".")[0] in imported:
                reasons.append(f"`{node.func.id}({name}, ...)`: monkeypatches a module")
        for target in targets:
            name = _dotted(target) if isinstance(target, ast.Attribute) else None
            if name and name.split(".")[0] in imported \
                    and not name.startswith(ALLOWED_ATTRIBUTE_PREFIXES):
                reasons.append(f"`{name} = ...`: monkeypatches a module")
    return list(dict.fromkeys(reasons))


def imported_names(code: str) -> set[str]:
    """Names bound by import statements in ``code`` (unparseable code: none)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    return names
