"""nbgrader's ``Execute`` that survives kernel death, unresponsive kernels and output floods.

- kernel death (``os._exit``, a segfault, the OOM killer) no longer aborts the student's whole
  notebook: the cell that was running and every later code cell get an error output
  (``DeadKernelError``), so they earn 0 while the cells graded before keep their points;
- a cell that times out is interrupted (nbgrader's default); if the kernel does not answer a
  (silent, empty) execute request within ``unresponsive_grace`` seconds after the interrupt (SIGINT
  ignored, a loop in C), the kernel is stopped and treated as dead, instead of every later cell
  waiting out its own timeout;
- a kernel that does not start a cell (no IOPub message for it, not even ``busy``) within
  ``acknowledge_timeout`` seconds and does not answer a control-channel request within
  ``unresponsive_grace`` no longer reads requests at all (a student who replaced its message decoder):
  it is stopped and treated as dead then, not after the cell's whole timeout. A cell that
  started, or a kernel that still answers, is left to the cell's timeout;
- output is capped *while it arrives* (``max_output_chars`` per cell), so a print loop cannot
  fill the grader's memory before nbgrader's ``LimitOutput`` runs. Error outputs are never dropped
  (dropping one would turn a failed test into a passed one).

It also writes, per notebook, a JSON record of each code cell's seconds and outcome into the
folder named by the environment variable ``AUTOGRADE_REPORT_DIR`` (set by the test harness,
outside the student's folder), which the harness turns into its report and ``bench/`` into timings.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from jupyter_client.utils import ensure_async
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Float, Integer

__all__ = ["GuardedExecute", "error_output", "REPORT_DIR_ENV"]

REPORT_DIR_ENV = "AUTOGRADE_REPORT_DIR"


def error_output(ename: str, evalue: str, traceback: list[str] | None = None) -> NotebookNode:
    """An error output, as a failing cell would show it."""
    return new_output("error", ename=ename, evalue=evalue,
                      traceback=traceback or [f"{ename}: {evalue}"])


class GuardedExecute(Execute):
    """nbgrader's ``Execute`` that survives kernel death, unresponsive kernels and output floods."""

    max_output_chars = Integer(
        200_000, help="Characters of output kept per cell while it runs; the rest is dropped."
    ).tag(config=True)
    unresponsive_grace = Float(
        15.0, help="Seconds a kernel has to answer after a timeout's interrupt before it is stopped."
    ).tag(config=True)

    acknowledge_timeout = Float(
        30.0, help="Seconds a kernel has to start a cell (say it is busy) before it is stopped as "
                   "unresponsive; only used when shorter than the cell's timeout."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._dead: str | None = None
        self._started_ids: set[str] = set()  # execute requests the kernel has begun
        self._preprocess_started = time.monotonic()
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
            cell.outputs = [error_output("DeadKernelError", f"not run: {self._dead}")]
            self._records.append({"index": index, "grade_id": grade_id, "seconds": 0.0,
                                  "outcome": "not run"})
            return cell, resources
        outcome = "ok"
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError as exc:
            self._dead = f"the kernel died while running cell {index} ({grade_id or 'no grade id'}): {exc}"
            cell.outputs.append(error_output("DeadKernelError", self._dead))
            outcome = "died"
        except CellTimeoutError as exc:  # IOPub timeout after an interrupt
            cell.outputs.append(error_output("CellTimeoutError", str(exc).splitlines()[0]))
            outcome = "timeout"
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        if outcome == "ok":
            enames = [o.get("ename") for o in errors]
            if "CellTimeoutError" in enames:
                outcome = "timeout"
            elif "MemoryError" in enames:
                outcome = "memory"
            elif enames:
                outcome = "error"
        self._records.append({"index": index, "grade_id": grade_id,
                              "seconds": round(time.monotonic() - started, 3), "outcome": outcome,
                              "truncated": index in self._truncated,
                              # why a cell failed, for the instructor's report (never for a verdict)
                              "error": (f"{errors[-1].get('ename')}: {errors[-1].get('evalue')}"[:500]
                                        if errors else None)})
        return cell, resources

    async def _async_handle_timeout(self, timeout, cell=None):
        reply = await super()._async_handle_timeout(timeout, cell)
        if not await self._kernel_answers(self.unresponsive_grace):
            await self._stop_kernel()
            raise DeadKernelError(f"the kernel ignored the interrupt after a {timeout} s "
                                  "timeout and was stopped")
        return reply

    def process_message(self, msg, cell, cell_index):
        # by request id, not a flag reset per cell: the reader of IOPub may see "busy" before
        # the reply poll below starts
        self._started_ids.add(msg["parent_header"].get("msg_id"))
        return super().process_message(msg, cell, cell_index)

    async def _async_poll_for_reply(self, msg_id, cell, timeout, task_poll_output_msg,
                                    task_poll_kernel_alive):
        reply = asyncio.ensure_future(super()._async_poll_for_reply(
            msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive))
        window = self.acknowledge_timeout
        if timeout is not None and window >= timeout:  # the cell's own timeout comes first
            return await reply
        try:
            return await asyncio.wait_for(asyncio.shield(reply), window)
        except asyncio.TimeoutError:
            # a lost "busy" (IOPub is best effort) must not stop a working kernel: one that still
            # answers on the control channel is left to the cell's timeout
            if msg_id in self._started_ids or await self._kernel_hears(self.unresponsive_grace):
                return await reply
        except asyncio.CancelledError:  # nbclient's liveness poll saw the kernel die
            reply.cancel()
            raise
        reply.cancel()
        task_poll_kernel_alive.cancel()
        await self._stop_kernel()
        raise DeadKernelError(f"the kernel did not start the cell within {window:g} s (it no "
                                  "longer reads requests) and was stopped")

    async def _kernel_hears(self, grace: float) -> bool:
        """Whether the kernel answers a kernel_info request on the control channel, which
        ipykernel serves from its own thread while a cell runs."""
        request = self.kc.session.msg("kernel_info_request")
        self.kc.control_channel.send(request)
        return await _replied(self.kc.control_channel, request["header"]["msg_id"], grace)

    async def _kernel_answers(self, grace: float) -> bool:
        # an execute request, not kernel_info: ipykernel 7 answers kernel_info from another
        # thread while the main thread is still stuck in the student's loop
        msg_id = self.kc.execute("", silent=True, store_history=False)
        return await _replied(self.kc.shell_channel, msg_id, grace)

    async def _stop_kernel(self) -> None:
        try:
            await ensure_async(self.km.shutdown_kernel(now=True))
        except Exception:  # noqa: BLE001 - already gone
            pass

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
        info = (resources or {}).get("nbgrader", {})
        notebook, student = info.get("notebook", "notebook"), info.get("student", "student")
        target = Path(folder) / student
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{notebook}.json").write_text(json.dumps(
            {"notebook": notebook, "cells": self._records, "kernel_died": self._dead,
             "seconds": round(time.monotonic() - self._preprocess_started, 3)}, indent=1))


async def _replied(channel, msg_id: str, grace: float) -> bool:
    """Whether a reply to ``msg_id`` arrives on ``channel`` within ``grace`` seconds."""
    deadline = time.monotonic() + grace
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = await ensure_async(channel.get_msg(timeout=left))
        except Exception:  # noqa: BLE001 - queue.Empty: no answer in time
            return False
        if msg["parent_header"].get("msg_id") == msg_id:
            return True
    return False
