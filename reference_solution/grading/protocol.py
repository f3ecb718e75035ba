"""How a hidden check runs: challenge (trusted) -> probe (next to student code) -> verdict (trusted).

A ``Check`` has three parts:

1. ``challenge(rng, folder, context)``: the grader draws the inputs from a seed the student's code
   never sees (files it needs go into ``folder``; ``context`` says what the grader knows of the
   kernel: its memory limit, the submitted notebook's solution cells); keys that start with ``_``
   stay with the grader (e.g. held-out data the verdict compares with);
2. a probe, kernel-side source in ``grading/probes/<module>.py``: it calls the student's objects
   on the challenge and returns plain data (``codec``);
3. ``verdict(challenge, result)``: the grader judges the data and raises ``AssertionError`` with
   a message for the student, or returns.

The student controls everything their kernel runs, the probe included: any Python there may be
rewritten, and what comes back is whatever the kernel chooses to write. So a verdict accepts only
data that a correct implementation computes from the challenge's secret inputs, and recomputes
it here: outputs of the grader's own networks and toy models, the networks the student wrote sent
as data (``grading.graph``) and re-run here, statistical laws of draws the verdict can recover.
A result carries the challenge's nonce, so a file written before the probe started is refused
outright. What a verdict still takes on the kernel's word is named in ``Check.trusts`` and in
docs/SECURITY.md. Under ``nbgrader autograde`` the probe runs in the jailed kernel
(``reference_solution.course.executor``); in a plain kernel (``nbgrader validate`` of the source,
an instructor running the source notebook) :func:`run_in_process` runs the same three steps in
one process.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import secrets
import signal
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from . import codec

__all__ = ["Check", "Context", "registry", "run_in_process", "judge", "runner_source", "probe_scope",
           "message", "verdict_table", "CHECK_MODULES", "MAX_RESULT_BYTES"]

PROBES_DIR = Path(__file__).resolve().parent / "probes"
# kernel-side sources every probe runs after (in this order), before its own module
PROBE_PARTS = (Path(codec.__file__), PROBES_DIR / "support.py", PROBES_DIR / "graph_export.py",
               PROBES_DIR / "grader_models.py")
CHECK_MODULES = ("reference_solution.grading.wgan_dataset",
                 "reference_solution.grading.wgan_networks",
                 "reference_solution.grading.wgan_training",
                 "reference_solution.grading.wgan_convergence",
                 "reference_solution.grading.wgan_latent",
                 "reference_solution.grading.wgan_scoring",
                 "reference_solution.grading.score_matching_matcher",
                 "reference_solution.grading.score_matching_training")
MAX_RESULT_BYTES = 64 * 2**20  # a probe's data; more is refused unread
MAX_MESSAGE = 600  # characters of a message that came from the student's kernel


@dataclass(frozen=True)
class Context:
    """What the grader knows about the kernel a probe will run in (a challenge may depend on it)."""

    memory_limit: int | None = None  # bytes of data memory the jail gives the kernel (None: no limit set)
    cells: Mapping[str, str] = field(default_factory=dict)  # {grade id: source} of the solution cells
    submitted: bool = False  # ``cells`` are the submitted notebook's (under nbgrader): values are read from them

    @classmethod
    def of_submission(cls, nb, memory_limit: int | None = None) -> Context:
        """The context of a submitted notebook (an ``nbformat`` node): its solution cells by grade id."""
        cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
                 if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
                 and isinstance(c.metadata["nbgrader"].get("grade_id"), str) and isinstance(c.source, str)}
        return cls(memory_limit=memory_limit, cells=cells, submitted=True)


@dataclass(frozen=True)
class Check:
    """One hidden check; ``name`` is the grade id of the test cell that calls it."""

    name: str  # reads as a sentence: what a right answer does
    probe: str  # "<module>.<function>" in grading/probes/ (the module path may be absolute)
    challenge: Callable[..., dict]  # (rng, folder, context) -> trusted inputs; "_" keys stay here
    verdict: Callable[[dict, dict], None]  # raises AssertionError for the student
    seconds: float = 60.0  # wall-clock budget of the probe in the grading kernel
    trusts: str = ""  # what the verdict takes on the kernel's word (docs/SECURITY.md); "" = nothing
    verifies: str = ""  # what the verdict recomputes from the secret inputs (docs/SECURITY.md)

    @property
    def unverifiable(self) -> bool:
        """Nothing the verdict sees can be recomputed here: its points rest on the kernel's word."""
        return self.trusts.startswith("everything")

    @property
    def doc(self) -> str:
        """The one-line description shown in feedback (first line of the verdict's docstring)."""
        text = (self.verdict.__doc__ or self.name).strip()
        return text.splitlines()[0].strip()

    def probe_file(self) -> Path:
        module, _ = self.probe.rsplit(".", 1)
        path = Path(module) if module.endswith(".py") else PROBES_DIR / f"{module}.py"
        return path

    @property
    def function(self) -> str:
        return self.probe.rsplit(".", 1)[1]

    def draw(self, rng: np.random.Generator, folder: Path, context: Context) -> dict:
        """The challenge; challenges of two arguments (a course's own simple checks) get no context."""
        if len(inspect.signature(self.challenge).parameters) == 2:
            return self.challenge(rng, folder)
        return self.challenge(rng, folder, context)


@cache
def registry(modules: tuple[str, ...] = CHECK_MODULES) -> dict[str, Check]:
    """``{name: Check}`` from the ``CHECKS`` lists of ``modules`` (import paths)."""
    found: dict[str, Check] = {}
    for name in modules:
        for check in importlib.import_module(name).CHECKS:
            if check.name in found:
                raise ValueError(f"two checks named {check.name!r}")
            found[check.name] = check
    return found


@cache
def runner_source(probe_file: Path) -> str:
    """The code executed in the grading kernel for a probe of ``probe_file``.

    The codec, the probe support, the graph exporter, the grader's own models and the probe
    module are concatenated and executed in a fresh namespace; ``_grading_main(user_ns, args)``
    then runs one probe and writes its data.
    """
    parts = [p.read_text() for p in PROBE_PARTS if p != Path(probe_file)]
    parts += [Path(probe_file).read_text(), (PROBES_DIR / "runner.py").read_text()]
    return "\n\n".join(p.replace("from __future__ import annotations\n", "") for p in parts)


@cache
def probe_scope(probe_file: Path = PROBES_DIR / "grader_models.py") -> dict:
    """The probe's source executed here: the grader's own models and toy networks (our code, not
    the student's), so that a verdict recomputes exactly what they output."""
    scope: dict = {"__name__": "grader_probe_scope"}
    exec(runner_source(Path(probe_file)), scope)  # noqa: S102 - our own probe source
    return scope


def verdict_table(checks: Mapping[str, Check]) -> str:
    """The Markdown table of docs/SECURITY.md: per check, what its verdict recomputes and what it
    takes on the kernel's word."""
    rows = ["| check | the verdict recomputes | it takes on the kernel's word |", "|---|---|---|"]
    for check in checks.values():
        rows.append(f"| `{check.name}` | {check.verifies or '-'} | {check.trusts or 'nothing'} |")
    return "\n".join(rows)


def kernel_code(check: Check, challenge_path: str, result_path: str) -> str:
    """One statement for the grading kernel: run ``check``'s probe on the student's globals.

    Nothing here is protected: the kernel may rewrite or skip it. The verdict's recomputation
    on secret inputs, not this statement, is what makes a result mean something."""
    args = {"challenge": challenge_path, "result": result_path, "function": check.function,
            "max_challenge": 8 * MAX_RESULT_BYTES}
    return (f"__grading_ns = {{}}\nexec({runner_source(check.probe_file())!r}, __grading_ns)\n"
            f"__grading_ns['_grading_main'](globals(), {args!r})\ndel __grading_ns")


def message(text) -> str:
    """A string from the kernel made safe to show: printable, one paragraph, bounded."""
    text = "".join(ch if ch.isprintable() or ch == "\n" else "?" for ch in str(text))
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " ..."


def prepare(check: Check, folder: Path, seed: int, context: Context | None = None) -> tuple[dict, Path]:
    """Draw the challenge into ``folder`` and write what the kernel may see; return both."""
    inbox = folder / "in"
    inbox.mkdir(parents=True, exist_ok=True)
    challenge = check.draw(np.random.default_rng(seed), inbox, context or Context())
    challenge["nonce"] = secrets.token_hex(16)  # binds a result to this challenge
    sent = {k: v for k, v in challenge.items() if not k.startswith("_")}
    path = inbox / f"{check.name}-{secrets.token_hex(8)}.json"
    codec.write(str(path), sent)
    return challenge, path


def judge(check: Check, challenge: dict, result_path: Path) -> None:
    """Read the probe's data and apply the verdict; ``AssertionError`` says what is wrong."""
    try:
        result = codec.read(str(result_path), MAX_RESULT_BYTES)
    except codec.CodecError as exc:
        try:
            result = codec.read(str(result_path) + ".err", 2**16)
        except codec.CodecError:
            raise AssertionError(f"no usable data came back from your code ({exc})") from None
    if not isinstance(result, dict):
        raise AssertionError("no usable data came back from your code")
    if result.get("nonce") != challenge["nonce"]:
        raise AssertionError("the data that came back does not belong to this check's challenge")
    if "failure" in result:
        raise AssertionError(message(result["failure"]))
    try:
        check.verdict(challenge, result)
    except AssertionError as exc:
        raise AssertionError(message(exc)) from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError) as exc:
        raise AssertionError(f"the data your code returned has an unexpected form "
                             f"({type(exc).__name__}: {message(exc)})") from None


class _TimeUp(BaseException):
    """Raised by the alarm of :func:`run_in_process` (not an ``Exception``: nothing eats it)."""


@contextlib.contextmanager
def _time_limit(seconds: float | None, what: str):
    usable = seconds and hasattr(signal, "setitimer") \
        and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def _raise(signum, frame):
        raise _TimeUp

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _TimeUp:
        raise AssertionError(f"{what} took longer than {seconds:.0f} s, the time limit of this check") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_probe(check: Check, namespace: dict, challenge_path: Path, result_path: Path,
              seconds: float | None = None) -> None:
    """The probe of ``check`` in this process, on ``namespace`` (plain kernels, tests, benches)."""
    scope: dict = {}
    exec(runner_source(check.probe_file()), scope)  # noqa: S102 - our own probe source
    with _time_limit(seconds or check.seconds, "your code"):
        scope["_grading_main"](namespace, {"challenge": str(challenge_path), "result": str(result_path),
                                           "function": check.function, "max_challenge": 8 * MAX_RESULT_BYTES})


def run_in_process(name: str, namespace: dict, seed: int | None = None,
                   modules: tuple[str, ...] = CHECK_MODULES, seconds: float | None = None,
                   context: Context | None = None) -> None:
    """Challenge, probe and verdict of check ``name`` in this process, on ``namespace``.

    For plain kernels only (the instructor's source notebook, ``nbgrader validate``, tests): the
    probe runs next to whatever else runs here, so nothing is protected. Grading uses the
    executor. ``seconds``: the probe's time limit (default the check's own; main thread only).
    """
    check = registry(modules)[name]
    seed = secrets.randbits(63) if seed is None else seed
    with tempfile.TemporaryDirectory(prefix="check-") as tmp:
        folder = Path(tmp)
        challenge, challenge_path = prepare(check, folder, seed, context)
        result_path = folder / "out.json"
        run_probe(check, namespace, challenge_path, result_path, seconds)
        judge(check, challenge, result_path)
