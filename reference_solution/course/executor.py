"""nbgrader's execute step, rebuilt for grading students who control their kernel.

``GradingExecute`` replaces nbgrader's ``Execute`` in the autograde pipeline
(``nbgrader_config.py``), so instructors keep running ``nbgrader autograde <assignment>``:

- the student's kernel runs in a jail (``sandbox.Jail``): a private folder holding only the
  release's support files, the course directory and the instructor package hidden, no network,
  limits on memory, processes and file size;
- a test cell's visible part runs in that kernel; its hidden region is never sent there. It
  names checks (``check("...")``) that the executor runs through ``grading.protocol``: the
  challenge and the verdict in this process, only the probe in the kernel;
- a test cell's outputs are rebuilt here: the visible part's outputs (an execute result turned
  into text, so the kernel cannot claim partial credit), then one line per passed check or an
  error per failed one. nbgrader's ``SaveAutoGrades`` then scores the cell from outputs that
  only this process wrote; an error from the student's own kernel can only cost points;
- kernel death, timeouts, unresponsive kernels and output floods are survived (``GuardedExecute``).
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_async, run_sync
from nbformat.v4 import new_output
from traitlets import Bool, Enum, Float, Integer, List, Unicode

from ..grading import protocol
from . import catalogues
from .guarded_execute import GuardedExecute, error_output
from .hidden_tests import GradingConfigError, hidden_checks, is_test_cell
from .sandbox import UNPROTECTED, Jail, Limits, availability

__all__ = ["GradingExecute", "hidden_checks", "GradingConfigError"]

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # reference_solution/


class JailedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel starts inside ``self.jail`` and is interrupted by message
    (a signal would reach the jail's launcher, not the kernel in its own session)."""

    jail: Jail | None = None

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        return self.jail.command(cmd) if self.jail is not None else cmd

    async def _async_interrupt_kernel(self) -> None:
        if self.has_kernel:
            msg = self.session.msg("interrupt_request", content={})
            self._connect_control_socket()
            self.session.send(self._control_socket, msg)

    interrupt_kernel = run_sync(_async_interrupt_kernel)


class GradingExecute(GuardedExecute):
    """Execute a student's notebook in a jailed kernel; verdicts of hidden checks computed here."""

    sandbox = Enum(["auto", "bwrap", "none"], "auto", help=(
        "'bwrap': jail the kernel with bubblewrap or fail; 'auto': jail it when bwrap works here, "
        "else warn loudly and run it unjailed; 'none': never jail (development only).")
    ).tag(config=True)
    memory_limit = Integer(Limits.memory_bytes, help="Bytes of data memory of the kernel.").tag(config=True)
    process_limit = Integer(Limits.processes, help="Processes and threads of the kernel at once.").tag(config=True)
    notebook_time_limit = Float(1800.0, help="Seconds one notebook may run, all cells together.").tag(config=True)
    check_modules = List(Unicode(), list(protocol.CHECK_MODULES),
                         help="Modules whose CHECKS the hidden tests may name.").tag(config=True)
    seed_secret = Unicode("", help=(
        "Secret from which the checks' seeds are derived (per student and check); empty: a new "
        "random secret for every run.")).tag(config=True)
    support_from_release = Bool(True, help=(
        "Give the kernel the release's support files (release/<assignment>/), never the ones the "
        "student submitted.")).tag(config=True)
    data_cache = Unicode("", help=(
        "Folder of data shared read-only by all students (generated once); empty: "
        "$STRATO_DATA_CACHE or ~/.cache/strato-course.")).tag(config=True)
    require_hidden_checks = Bool(True, help=(
        "Score a test cell without hidden checks 0: its visible part alone runs where the student "
        "controls everything.")).tag(config=True)

    # -- the notebook --------------------------------------------------------------------------------

    def preprocess(self, nb, resources=None, km=None):
        info = (resources or {}).get("nbgrader", {})
        self._student, self._assignment = info.get("student", "?"), info.get("assignment", "?")
        self._notebook = info.get("notebook", "notebook")
        self._secret = self.seed_secret or secrets.token_hex(16)
        self._graded: dict[int, list] = {}
        self._started = time.monotonic()
        self._registry = protocol.registry(tuple(self.check_modules))
        self._texts = None  # the edition's check texts, read on first use
        # the submitted solution cells, for checks that re-run one on secret inputs in the kernel
        self._context = protocol.Context.of_submission(nb, memory_limit=self.memory_limit)
        self._base = Path(tempfile.mkdtemp(prefix="grading-"))
        self._watchdog_stop = threading.Event()
        try:
            self._jail = self._make_jail(resources or {})
            return super().preprocess(nb, resources, km)
        except Exception:
            self._log_kernel_output()
            raise
        finally:
            self._watchdog_stop.set()
            for index, outputs in self._graded.items():  # nothing the kernel sent later counts
                nb.cells[index].outputs = outputs
            if getattr(self, "_jail", None) is not None:
                self._jail.remove_cgroups()
            shutil.rmtree(self._base, ignore_errors=True)

    def _log_kernel_output(self) -> None:
        log = self._base / "kernel.log"
        if log.is_file():
            tail = log.read_bytes()[-3000:].decode(errors="replace")
            self.log.error("kernel output of %s/%s:\n%s", self._student, self._notebook, tail)

    def _make_jail(self, resources: dict) -> Jail:
        use_bwrap = self.sandbox == "bwrap" or (self.sandbox == "auto" and availability()[0])
        if self.sandbox == "bwrap" and not availability()[0]:
            raise RuntimeError(UNPROTECTED.format(why=availability()[1]))
        if not use_bwrap:
            self.log.warning(UNPROTECTED.format(why=availability()[1] if self.sandbox == "auto"
                                                else "sandbox = 'none' in the configuration"))
        work = self._base / "home" / self._assignment
        for folder in (work, self._base / "in", self._base / "out", self._base / "sockets"):
            folder.mkdir(parents=True)
        self._copy_support(resources, work)
        cache = self._cache_folder()
        jail = Jail(workdir=work, inbox=self._base / "in", outbox=self._base / "out",
                    sockets=self._base / "sockets", hidden=self._hidden_paths(),
                    limits=Limits(memory_bytes=self.memory_limit, processes=self.process_limit),
                    use_bwrap=use_bwrap, env={"NBGRADER_EXECUTION": "autograde"})
        if cache is not None:  # shared by every student: read-only in the jail
            inside = f"{jail.home_inside}/.cache/strato-course" if use_bwrap else str(cache)
            jail.env["STRATO_DATA_CACHE"] = inside
            if use_bwrap:
                jail.readonly[cache] = inside
        made = jail.create_cgroups()
        self.log.info("grading %s/%s: %s, cgroups: %s", self._student, self._notebook,
                      "jailed (bwrap)" if use_bwrap else "NOT jailed", ", ".join(made) or "none")
        return jail

    def _course_root(self) -> Path | None:
        from nbgrader.coursedir import CourseDirectory

        try:
            return Path(CourseDirectory(config=self.config).root).resolve()
        except Exception:  # noqa: BLE001 - only used to hide and to find the release
            return None

    def _hidden_paths(self) -> list[Path]:
        hidden = [PACKAGE_DIR]
        if (PACKAGE_DIR.parent / "pyproject.toml").is_file():  # an editable install's checkout
            hidden.append(PACKAGE_DIR.parent)
        root = self._course_root()
        if root is not None:
            hidden.append(root)
        for folder in {Path(p) for p in sys.path if p.endswith("site-packages")}:
            for hook in folder.glob("__editable__*"):  # an editable install names its checkout
                if PACKAGE_DIR.name in hook.name.replace("-", "_") or \
                        str(PACKAGE_DIR.parent) in hook.read_text(errors="ignore"):
                    hidden.append(hook)
        return hidden

    def _copy_support(self, resources: dict, work: Path) -> None:
        root = self._course_root()
        release = root / "release" / self._assignment if root else None
        if self.support_from_release and release is not None and release.is_dir():
            source = release
        else:  # the submitted folder (nbgrader's copy), for courses without a release folder
            source = Path(resources.get("metadata", {}).get("path") or ".")
        for path in sorted(source.rglob("*")):
            rel = path.relative_to(source)
            if path.is_symlink() or path.suffix == ".ipynb" or "__pycache__" in rel.parts \
                    or ".ipynb_checkpoints" in rel.parts:
                continue
            if path.is_dir():
                (work / rel).mkdir(parents=True, exist_ok=True)
            elif path.is_file():
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, work / rel)

    def _cache_folder(self) -> Path | None:
        folder = Path(self.data_cache or os.environ.get("STRATO_DATA_CACHE")
                      or Path.home() / ".cache" / "strato-course")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for module in self.check_modules:
                prepare = getattr(__import__(module, fromlist=["_"]), "prepare_cache", None)
                if prepare is not None:
                    prepare(folder, self._assignment)
        except OSError as exc:
            self.log.warning("no shared data cache (%s): each kernel makes its own data", exc)
            return None
        return folder

    # -- the kernel -----------------------------------------------------------------------------------

    def create_kernel_manager(self):
        if not self.kernel_name:
            self.kernel_name = self.nb.metadata.get("kernelspec", {}).get("name") or "python3"
        sockets = self._jail.sockets
        self.km = JailedKernelManager(kernel_name=self.kernel_name, config=self.config,
                                      transport="ipc", ip=str(sockets / "kernel"))
        self.km.connection_file = str(sockets / "connection.json")
        self.km.jail = self._jail
        return self.km

    async def async_start_new_kernel(self, **kwargs):
        kwargs["cwd"] = str(self._jail.workdir)
        log = open(self._base / "kernel.log", "wb")  # never the grader's terminal
        kwargs.setdefault("stdout", log)
        kwargs.setdefault("stderr", log)
        await super().async_start_new_kernel(**kwargs)
        threading.Thread(target=self._watchdog, daemon=True).start()

    start_new_kernel = run_sync(async_start_new_kernel)

    def _watchdog(self) -> None:
        """Kill the jail when it holds too many processes, too much memory or too much disk (a
        second line behind cgroups and rlimits, and the only one on machines that have neither)."""
        import psutil

        try:
            process = psutil.Process(self.km.provisioner.process.pid)
        except Exception:  # noqa: BLE001 - no process: nothing to watch
            return
        while not self._watchdog_stop.wait(0.25):
            try:
                tree = [process] + process.children(recursive=True)
                rss = sum(p.memory_info().rss for p in tree)
            except psutil.Error:
                continue
            reason = None
            if len(tree) > self.process_limit or rss > 1.25 * self.memory_limit:
                reason = f"uses {len(tree)} processes and {rss / 2**30:.1f} GiB"
            else:
                reason = self._jail.over_quota()
            if reason is not None:
                self.log.warning("watchdog: %s/%s %s; killed", self._student, self._notebook, reason)
                self._dead = self._dead or f"the kernel was stopped: {reason}"
                for p in reversed(tree):
                    try:
                        p.kill()
                    except psutil.Error:
                        pass
                return

    # -- cells ------------------------------------------------------------------------------------------

    def _get_timeout(self, cell):
        """A cell's timeout, cut to what is left of the notebook's time limit: a student's endless
        loop is stopped when the notebook's time is up, not only when the cell's is."""
        timeout = super()._get_timeout(cell)
        left = max(1, math.ceil(self.notebook_time_limit - (time.monotonic() - self._started)))
        return left if timeout is None else min(timeout, left)

    def preprocess_cell(self, cell, resources, index):
        if self._dead is None and time.monotonic() - self._started > self.notebook_time_limit:
            self._dead = f"the notebook ran past its {self.notebook_time_limit:.0f} s time limit"
            run_sync(self._stop_kernel)()
        if not is_test_cell(cell):
            return super().preprocess_cell(cell, resources, index)
        full = cell.source
        try:
            visible, names = hidden_checks(full)
        except GradingConfigError as exc:
            self.log.error("cell %d of %s: %s", index, self._notebook, exc)
            cell.outputs = [error_output("GradingConfigError", str(exc))]
            self._graded[index] = copy.deepcopy(cell.outputs)
            return cell, resources
        cell.source = visible
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        finally:
            cell.source = full
        outputs = [_as_text(o) for o in cell.outputs]
        if not names and self.require_hidden_checks:
            outputs.append(error_output("GradingConfigError", "this test cell has no hidden check"))
        for name in names:
            outputs += self._run_check(name, index)
        cell.outputs = outputs
        self._graded[index] = copy.deepcopy(outputs)
        return cell, resources

    def _run_check(self, name: str, index: int) -> list:
        check = self._registry.get(name)
        if check is None:
            self.log.error("cell %d of %s names an unknown check %r", index, self._notebook, name)
            return [error_output("GradingConfigError", f"unknown check {name!r}")]
        if self._dead is not None:
            return [_failed(self._edition_texts(check), check, f"not run: {self._dead}")]
        seed = int.from_bytes(hashlib.sha256(
            f"{self._secret}:{self._student}:{self._notebook}:{name}".encode()).digest()[:8], "little")
        started = time.monotonic()
        try:
            challenge, challenge_path = protocol.prepare(check, self._base, seed, self._context)
        except Exception as exc:  # noqa: BLE001 - a grader-side failure must not sink the student
            self.log.exception("challenge of %s failed", name)
            return [error_output("GradingError", f"{name}: the grader could not prepare the check ({exc})")]
        result_path = self._jail.outbox / f"{name}-{secrets.token_hex(8)}.json"
        try:
            status = run_sync(self._async_probe)(
                protocol.kernel_code(check, str(challenge_path), str(result_path)), check.seconds)
            if status == "timeout":
                return [_failed(self._edition_texts(check), check, f"your code took longer than "
                                f"{check.seconds:.0f} s, the time limit of this check, and was interrupted")]
            if status == "dead":
                return [_failed(self._edition_texts(check), check, f"the kernel died during the check: {self._dead}")]
            protocol.judge(check, challenge, result_path)
        except AssertionError as exc:
            return [_failed(self._edition_texts(check), check, str(exc))]
        finally:
            for path in self._base.joinpath("in").iterdir():
                shutil.rmtree(path) if path.is_dir() else path.unlink()
            for path in (result_path, Path(f"{result_path}.err")):  # read once; the disk quota counts them
                path.unlink(missing_ok=True)
            self._records.append({"index": index, "grade_id": name, "check": True,
                                  "seconds": round(time.monotonic() - started, 3)})
        if check.unverifiable:
            self.log.warning("%s/%s: %s passed on the kernel's word alone (%s)", self._student,
                             self._notebook, check.name, check.trusts)
        return [new_output("stream", name="stdout", text=f"✓ {check.name}: {self._edition_texts(check)[1]}\n")]

    def _edition_texts(self, check: protocol.Check) -> tuple[str, str]:
        """(label of a failure, description) of ``check`` in the language of the assignment's edition."""
        if self._texts is None:  # read once per notebook
            self._texts = catalogues.edition_check_texts(self._assignment, self._course_root(), PACKAGE_DIR.parent)
        return self._texts[0], self._texts[1].get(check.name, check.doc)

    async def _async_probe(self, code: str, seconds: float) -> str:
        """Run ``code`` in the kernel within ``seconds``: "ok", "timeout" or "dead".

        Silent: IPython fires no ``pre_run_cell`` / ``post_run_cell`` event for it and keeps no
        history of it (transformers still see it; the verdicts do not depend on that)."""
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        reply = await self._await_reply(msg_id, time.monotonic() + seconds)
        if reply is None:
            await ensure_async(self.km.interrupt_kernel())
            reply = await self._await_reply(msg_id, time.monotonic() + self.unresponsive_grace)
            if reply is None or reply == "dead":
                self._dead = self._dead or "the kernel ignored the interrupt after a check's time limit"
                await self._stop_kernel()
                return "dead"
            status = "timeout"
        elif reply == "dead":
            self._dead = self._dead or "the kernel died while a hidden check ran"
            return "dead"
        else:
            status = "ok"
        await self._drain_iopub(msg_id, time.monotonic() + 5)
        return status

    async def _await_reply(self, msg_id: str, deadline: float):
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=min(left, 1.0)))
            except Exception:  # noqa: BLE001 - queue.Empty: nothing yet
                if not await ensure_async(self.km.is_alive()):
                    return "dead"
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg
        return None

    async def _drain_iopub(self, msg_id: str, deadline: float) -> None:
        """Discard the probe's IOPub messages (none of them belongs to the notebook)."""
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=min(left, 0.5)))
            except Exception:  # noqa: BLE001
                return
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" \
                    and msg["content"].get("execution_state") == "idle":
                return


def _as_text(output):
    """An execute result becomes plain text: only this process decides a test cell's score."""
    if output.get("output_type") != "execute_result":
        return output
    text = output.get("data", {}).get("text/plain", "")
    return new_output("stream", name="stdout", text=f"{text}\n")


def _failed(texts: tuple[str, str], check: protocol.Check, why: str):
    """A failed check's error output; ``texts``: the edition's label of a failure and its description."""
    lines = [f"{texts[0]}: {check.name}", f"  {texts[1]}", f"AssertionError: {why}"]
    return error_output("AssertionError", f"{check.name}: {why}", traceback=lines)
