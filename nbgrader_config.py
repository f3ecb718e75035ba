"""nbgrader configuration of the course; the repository root is the course directory.

Grading runs student code; the limits here and in ``reference_solution.sandbox`` /
``reference_solution.autograde`` are what keeps one broken or hostile notebook from stopping
the rest of the class (see ``python -m reference_solution autograde-demo``).
"""

import sys
from pathlib import Path

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

HERE = Path(__file__).resolve().parent

c.CourseDirectory.course_id = "generative-models"
c.CourseDirectory.root = str(HERE)
# files under source/<assignment>/ that students must not receive
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.db",
                            "runs", "checkpoints", "data_synthetic_*"]

# Students replace each solution region with this stub.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Execution while autograding. Training cells take about a minute on 2 CPU cores; 300 s per
# cell leaves room for a slow laptop and still stops an infinite loop. On timeout the kernel is
# interrupted and that cell errors (0 points); the rest of the notebook still runs.
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
c.Execute.raise_on_iopub_timeout = False  # a late IOPub message must not fail a whole student
c.Execute.iopub_timeout = 10
c.Execute.startup_timeout = 120
c.Execute.execute_retries = 0

# Outputs saved into the autograded notebook (and the feedback): a print loop must not bloat
# them. GuardedExecute also caps output while it arrives (see reference_solution/sandbox.py).
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100

# A deleted test cell is NOT put back: its grade stays at 0 ("needs manual grade"), and the
# autograde report names it. Edited test cells are restored from the gradebook by nbgrader.
c.OverwriteCells.add_missing_cells = False

# Kernel death and unresponsive kernels: GuardedExecute (needs the instructor package on
# sys.path; without it nbgrader's plain Execute is used and a dead kernel fails the student).
sys.path.insert(0, str(HERE))
try:
    from reference_solution.sandbox import GuardedExecute
except ImportError as exc:  # pragma: no cover - a course copy without the instructor package
    print(f"nbgrader_config: plain Execute ({exc})", file=sys.stderr)
else:
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,
                                        LimitOutput, SaveAutoGrades)

    c.Autograde.autograde_preprocessors = [
        GuardedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
        AssignLatePenalties, CheckCellMetadata,
    ]
    c.GuardedExecute.max_output_chars = 200_000
    c.GuardedExecute.unresponsive_grace = 15.0
finally:
    sys.path.remove(str(HERE))
