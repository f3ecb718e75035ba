"""GuardedExecute on an ordinary (unjailed) kernel: the acknowledgement rule in isolation."""

from __future__ import annotations

import time

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from reference_solution.course.guarded_execute import GuardedExecute

# The kernel's session decodes every request it receives; replacing its decoder (whichever packer,
# json or orjson, jupyter_client picked) leaves a live process that understands nothing.
DEAFEN = "get_ipython().kernel.session.unpack = lambda *a, **k: {}"


class LosesEveryIOPubMessage(GuardedExecute):
    """As if the kernel's "busy" never reached the grader (IOPub is best effort)."""

    def process_message(self, msg, cell, cell_index):
        return super(GuardedExecute, self).process_message(msg, cell, cell_index)


def run(executor: GuardedExecute, *sources: str, tmp_path) -> tuple[nbformat.NotebookNode, float]:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    started = time.monotonic()
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return nb, time.monotonic() - started


def errors(cell) -> list[str]:
    return [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]


def test_a_kernel_that_stops_reading_requests_is_stopped_before_the_cell_timeout(tmp_path):
    executor = GuardedExecute(timeout=60, acknowledge_timeout=1.0, unresponsive_grace=2.0)
    nb, seconds = run(executor, "x = 1", DEAFEN, "x + 1", tmp_path=tmp_path)
    assert errors(nb.cells[0]) == [] and errors(nb.cells[1]) == []
    assert any("did not start the cell within 1 s" in e for e in errors(nb.cells[2])), nb.cells[2].outputs
    assert seconds < 40, f"{seconds:.0f} s: the deaf kernel waited out the 60 s cell timeout"


def test_a_working_kernel_whose_busy_message_was_lost_is_left_to_run(tmp_path):
    executor = LosesEveryIOPubMessage(timeout=60, acknowledge_timeout=0.5, unresponsive_grace=5.0)
    nb, _ = run(executor, "import time\ntime.sleep(3)\nprint('done')", "1 + 1", tmp_path=tmp_path)
    assert errors(nb.cells[0]) == [] and errors(nb.cells[1]) == [], [c.outputs for c in nb.cells]
