"""nbgrader configuration of the course; the repository root is the course directory.

Autograding runs student code. ``reference_solution.course.executor.GradingExecute`` replaces
nbgrader's execute step: the student's kernel runs jailed (bubblewrap: no network, the course,
the gradebook and the instructor package out of sight, limits on memory and processes), and the
hidden checks compute their verdicts in nbgrader's own process from plain data. See the threat
model in docs/SECURITY.md.
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

HERE = Path(__file__).resolve().parent

# nbgrader runs `alembic` (its gradebook's migrations) from PATH. Started as a venv's python by
# its path, the venv not activated (`.venv/bin/python -m nbgrader ...`), that finds no alembic
# or another install's: put this interpreter's own scripts first.
_SCRIPTS = str(Path(sys.executable).parent)
if os.environ.get("PATH", "").split(os.pathsep)[0] != _SCRIPTS:
    os.environ["PATH"] = os.pathsep.join([_SCRIPTS, *[p for p in os.environ.get("PATH", "").split(os.pathsep) if p]])

c.CourseDirectory.course_id = "generative-models"
c.CourseDirectory.root = str(HERE)
# The exchange where release_assignment / fetch / submit / collect meet. Course-local by default
# (one user, a laptop, CI). On a JupyterHub with many users set a shared folder instead, e.g.
# c.Exchange.root = "/srv/nbgrader/exchange" (created once by root with mode 0777 and the sticky
# bit, as nbgrader's documentation describes), in this file or in /etc/jupyter/nbgrader_config.py.
c.Exchange.root = str(HERE / "exchange")

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
# them. GradingExecute also caps output while it arrives.
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100

# A deleted test cell is NOT put back: its grade stays at 0 ("needs manual grade"). Edited test
# cells are restored from the gradebook by nbgrader.
c.OverwriteCells.add_missing_cells = False

# The instructor package is imported from this course folder first (never another checkout).
sys.path.insert(0, str(HERE))
try:
    from reference_solution.course.executor import GradingExecute
    from reference_solution.course.intake import IntakeExporter
    from reference_solution.course.release import IGNORED_PATTERNS
except ImportError as exc:  # pragma: no cover - a course copy without the instructor package
    raise RuntimeError(f"nbgrader_config.py: the instructor package is needed to grade ({exc})") from exc
finally:
    sys.path.remove(str(HERE))
# Grading with another checkout's checks would silently judge by other rules: refuse.
_imported = Path(sys.modules["reference_solution"].__file__).resolve().parent
if (HERE / "reference_solution").is_dir() and _imported != (HERE / "reference_solution").resolve():
    raise RuntimeError(f"nbgrader_config.py in {HERE}: the instructor package was imported from "
                       f"{_imported}, not from this course's reference_solution/; unset PYTHONPATH "
                       f"or reinstall with `pip install -e {HERE}`")

# files under source/<assignment>/ that students must not receive (what runs leave there)
c.CourseDirectory.ignore = list(IGNORED_PATTERNS)

# The support package is written once, in reference_solution/coursekit/, and committed only in
# release/. nbgrader copies what lies beside a source notebook into its release, and a source
# notebook imports it, so every nbgrader command run in this course first refreshes the
# git-ignored copy in source/<assignment>/coursekit/ (`python -m reference_solution sync-support`
# writes the same).
if Path.cwd().resolve() == HERE:
    from reference_solution.course.release import sync_support

    sync_support(HERE, log=lambda *_: None)

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

# A submitted notebook nbgrader would choke on (a duplicate grade id or an edited schema version
# aborts nbgrader's whole run; a file it cannot parse fails with a traceback) is set aside before
# nbgrader reads it: 0 points, the reasons in the log and in its autograded notebook, the submitted
# file unchanged, and the rest of the class graded (reference_solution/course/intake.py).
c.Autograde.exporter_class = IntakeExporter
c.Autograde.autograde_preprocessors = [
    GradingExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
    AssignLatePenalties, CheckCellMetadata,
]
c.GradingExecute.sandbox = "auto"  # "bwrap" refuses to grade without the jail
c.GradingExecute.max_output_chars = 200_000
c.GradingExecute.unresponsive_grace = 15.0
c.GradingExecute.acknowledge_timeout = 30.0  # a kernel that never starts a cell is stopped
c.GradingExecute.memory_limit = 6 * 2**30
c.GradingExecute.notebook_time_limit = 1800.0

# Feedback shows each check's name, description and message, never the hidden test region.
# It is refused for a notebook whose written answers nobody graded by hand yet (they would show
# 0 and the total would look final): grade them in the formgrader first. Feedback on the
# autograded part only: --PendingManualGrades.allow_pending=True, and it opens with a banner
# saying the total is not final (reference_solution/course/feedback.py).
# FeedbackLayout wraps long messages, shows an explorer's picture and gives every figure alt text.
from reference_solution.course.feedback import FeedbackLayout, PendingManualGrades  # noqa: E402

c.GenerateFeedback.preprocessors = [PendingManualGrades, GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor,
                                    FeedbackLayout]
c.PendingManualGrades.allow_pending = False
