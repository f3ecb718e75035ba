"""The jail a grading kernel runs in: bubblewrap, resource limits, and what the kernel can see.

The student controls everything that runs in the grading kernel. ``Jail`` turns the kernel's
command line into one that runs it

- under Debian's ``bwrap`` (bubblewrap) with every namespace unshared (no network, its own PIDs,
  IPC and hostname), a private ``/tmp``, no capabilities, a new session (no terminal to inject
  keystrokes into) and death with the grader;
- seeing, read-only, only a whitelist of the host: the system folders (``SYSTEM_FOLDERS``) and the
  interpreter's install; every other host folder (the course, any checkout or copy of the
  instructor package, homes, ``/srv``, ``/opt``) does not exist inside. Paths in ``hidden`` that
  lie inside an exposed folder (the package installed into site-packages, an editable install's
  path hooks) are covered by empty read-only folders or files;
- writable only in the student's private work folder, ``/tmp`` and the outbox the probes write
  their data to; the inbox of challenges and the shared data cache are read-only. ``/tmp`` and
  the home are sized tmpfs; the host folders it can write (work folder, outbox, sockets) have a
  disk quota that the grader's watchdog checks from outside (:meth:`Jail.over_quota`);
- under resource limits set by a small trusted launcher *before* ``bwrap`` starts, so every
  process of the jail inherits them: data memory, file size, open files, no core dumps, and the
  number of processes (a pids cgroup when the grader may create one, otherwise ``RLIMIT_NPROC``
  for a grader that is not root; the grader's watchdog kills the jail beyond that).

Where ``bwrap`` cannot run (macOS, kernels without user namespaces) the kernel still runs in its
own folder with the limits, verdicts are still computed outside it, and :func:`availability`
says loudly that the files of the grading user are not protected.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

__all__ = ["Limits", "Jail", "DiskUsage", "availability", "JAIL_HOME"]

# the kernel's home inside the jail (its work folder lives below)
JAIL_HOME = "/home/student"
# the host folders a jailed kernel sees, read-only (besides the interpreter's install and its own)
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
UNPROTECTED = ("NO SANDBOX: bubblewrap (bwrap) is not usable here ({why}). Student code runs with "
               "the grader's privileges and can read and write every file the grading user can, "
               "including the gradebook. Verdicts are still computed outside the student's kernel. "
               "Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) to protect files.")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one grading kernel and everything it starts."""

    memory_bytes: int = 6 * 2**30  # data memory per process (RLIMIT_DATA) and of the jail (cgroup)
    processes: int = 128  # processes and threads of the jail at once
    file_bytes: int = 2 * 2**30  # largest file the jail may write (RLIMIT_FSIZE)
    open_files: int = 1024  # open file descriptors per process
    tmp_bytes: int = 2 * 2**30  # size of the jail's private /tmp
    disk_bytes: int = 2 * 2**30  # what the host folders it writes (work, outbox, sockets) may hold together
    disk_entries: int = 5_000  # files, folders and links those folders may hold together (about 7 us each to count)
    disk_depth: int = 64  # folders nested deeper than this are over quota (the count holds one fd per level)


@dataclass(frozen=True)
class DiskUsage:
    """What the jail's writable host folders hold, counted until a bound was passed."""

    bytes: int  # allocated on disk (st_blocks), as du counts: a sparse file fills nothing
    entries: int  # files, folders, links, sockets below the folders
    depth: int  # deepest folder level reached (the folders themselves are 0)
    complete: bool  # False: the count stopped early, the tree holds more


@cache
def availability() -> tuple[bool, str]:
    """``(True, "bwrap")`` when a jail can be built here, else ``(False, why)``."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, "bwrap is not installed"
    probe = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
             "--die-with-parent", "--cap-drop", "ALL", "--", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap failed to start: {exc}"
    if done.returncode != 0:
        return False, f"bwrap cannot create namespaces here: {done.stderr.strip()[:200]}"
    return True, "bwrap"


def _python_paths() -> list[Path]:
    """Folders the kernel's interpreter needs to read (install prefixes and import paths)."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix),
             Path(os.path.realpath(sys.executable)).parent.parent}
    paths |= {Path(p) for p in sys.path if p and Path(p).is_dir() and "site-packages" in p}
    return sorted({p.resolve() for p in paths if p.exists()})


def _user_processes() -> int:
    """Processes and threads of this user now (``RLIMIT_NPROC`` counts them all)."""
    uid, count = os.getuid(), 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(entry / "task"))
            except OSError:
                continue
    return count


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@dataclass
class Jail:
    """Everything that decides how one grading kernel is jailed.

    ``workdir``: the student's private folder (writable), seen inside as ``JAIL_HOME/<name>``.
    ``inbox``/``outbox``/``sockets``: folders shared with the grader at the same path inside
    (read-only, writable, writable). ``readonly``: ``{host folder: path inside}``. ``hidden``:
    folders replaced by empty ones and files by empty files (course root, instructor package,
    gradebook folder, an editable install's path hooks).
    """

    workdir: Path
    inbox: Path
    outbox: Path
    sockets: Path
    hidden: list[Path] = field(default_factory=list)
    readonly: dict[Path, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    use_bwrap: bool = True
    env: dict[str, str] = field(default_factory=dict)
    cgroups: list[Path] = field(default_factory=list)

    @property
    def cwd_inside(self) -> str:
        return f"{JAIL_HOME}/{self.workdir.name}" if self.use_bwrap else str(self.workdir)

    @property
    def home_inside(self) -> str:
        return JAIL_HOME if self.use_bwrap else str(self.workdir.parent)

    # -- the command line --------------------------------------------------------------------------

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` (the kernel's command) wrapped: trusted launcher, then bwrap, then ``argv``."""
        launcher = [sys.executable, "-I", "-c", LAUNCHER, json.dumps(self._launch_config())]
        if not self.use_bwrap:
            return launcher + ["--"] + argv
        return launcher + ["--", shutil.which("bwrap") or "bwrap", *self._bwrap_args(), "--", *argv]

    def _launch_config(self) -> dict:
        lim = self.limits
        return {"data": lim.memory_bytes, "fsize": lim.file_bytes, "nofile": lim.open_files,
                # root is exempt from RLIMIT_NPROC: the pids cgroup and the watchdog count instead
                "nproc": None if os.geteuid() == 0 else _user_processes() + lim.processes,
                "cgroups": [str(c) for c in self.cgroups],
                "env": self.environment(), "clear_env": not self.use_bwrap}

    def environment(self) -> dict[str, str]:
        home = self.home_inside
        env = {"HOME": home, "USER": "student", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin",
                                        "/usr/bin", "/bin"]),
               "TMPDIR": "/tmp", "PYTHONNOUSERSITE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
               "MPLBACKEND": "module://matplotlib_inline.backend_inline",
               "MPLCONFIGDIR": f"{home}/.config/matplotlib", "JUPYTER_PLATFORM_DIRS": "1"}
        for name in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"):
            if name in os.environ:
                env[name] = os.environ[name]
        env.update(self.env)
        return env

    def _bwrap_args(self) -> list[str]:
        # Nothing of the host is visible unless named here: the system folders, the interpreter's
        # install, the jail's own folders. A blocklist (all of / minus the course) would show any
        # other copy of the course or of the instructor package that happens to lie on the machine.
        # /dev is a writable tmpfs of bwrap's: it gets a sized /dev/shm (semaphores, torch's shared
        # tensors) and is made read-only below, so no unsized folder is left to fill memory
        args = ["--dev", "/dev", "--size", str(self.limits.tmp_bytes), "--tmpfs", "/dev/shm", "--proc", "/proc",
                "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--hostname", "grading",
                # first, so that an interpreter installed below /tmp is bound on top of it
                "--size", str(self.limits.tmp_bytes), "--tmpfs", "/tmp",
                "--perms", "0755", "--size", str(self.limits.tmp_bytes), "--tmpfs", JAIL_HOME]
        exposed: list[Path] = []
        for name in SYSTEM_FOLDERS:
            folder = Path(name)
            if folder.is_symlink():  # merged /usr: /bin -> usr/bin
                args += ["--symlink", os.readlink(folder), name]
            elif folder.is_dir():
                args += ["--ro-bind", name, name]
                exposed.append(folder)
        for path in _python_paths():
            if not any(_under(path, e) for e in exposed):
                args += ["--ro-bind", str(path), str(path)]
                exposed.append(path)
        for device in sorted(Path("/dev").glob("nvidia*")):  # CUDA on a GPU grader
            args += ["--dev-bind", str(device), str(device)]
        args += ["--remount-ro", "/dev"]
        # hidden folders that an exposed one contains (a package or a checkout inside the
        # interpreter's install) are covered by empty read-only folders; hidden files by an empty file
        for folder in sorted({Path(h).resolve() for h in self.hidden if Path(h).is_dir()}):
            if any(_under(folder, e) for e in exposed):
                args += ["--tmpfs", str(folder), "--remount-ro", str(folder)]
        empty = self.inbox.parent / "empty"  # outside every writable folder of the jail
        empty.touch()
        files = [Path(h).resolve() for h in self.hidden if Path(h).is_file()]
        for secret in [Path("/etc/shadow"), Path("/etc/gshadow"), *files]:
            if secret.exists() and any(_under(secret, e) for e in exposed):
                args += ["--ro-bind", str(empty), str(secret)]
        for host, inside in self.readonly.items():
            args += ["--ro-bind", str(host), inside]
        args += ["--bind", str(self.workdir), self.cwd_inside,
                 "--ro-bind", str(self.inbox), str(self.inbox),
                 "--bind", str(self.outbox), str(self.outbox),
                 "--bind", str(self.sockets), str(self.sockets),
                 "--remount-ro", "/", "--chdir", self.cwd_inside, "--clearenv"]
        for name, value in self.environment().items():
            args += ["--setenv", name, value]
        return args

    # -- disk quota of the host folders it can write ------------------------------------------------

    @property
    def writable_folders(self) -> list[Path]:
        """Host folders the jailed kernel can write; its ``/tmp`` and home are sized tmpfs instead."""
        return [self.workdir, self.outbox, self.sockets]

    def disk_usage(self) -> DiskUsage:
        """Count :attr:`writable_folders` until a bound of ``limits`` is passed: at most
        ``disk_entries`` stats, whatever the student wrote (a million tiny files included). Links
        are never followed and each folder is opened from its parent without following links, so a
        folder swapped for a link during the count is not entered."""
        total, lim = DiskUsage(0, 0, 0, True), self.limits
        for folder in self.writable_folders:
            total = _count_tree(folder, total, lim.disk_bytes, lim.disk_entries, lim.disk_depth)
            if not total.complete:
                break
        return total

    def over_quota(self) -> str | None:
        """Why the writable host folders are over the quota (kill the jail then), or ``None``."""
        lim = self.limits
        usage = self.disk_usage()
        if usage.complete:
            return None
        if usage.bytes > lim.disk_bytes:
            return f"its writable folders hold more than {lim.disk_bytes / 2**20:g} MiB, the disk quota"
        if usage.entries > lim.disk_entries:
            return f"its writable folders hold more than {lim.disk_entries} files and folders, the quota"
        return f"its writable folders nest deeper than {lim.disk_depth} levels, the quota"

    # -- cgroups (optional, root only) -----------------------------------------------------------

    def create_cgroups(self) -> list[str]:
        """Make a pids and a memory cgroup for this jail where the grader may; return what exists."""
        name = f"grading-{uuid.uuid4().hex[:12]}"
        made = []
        for controller, limits in (("pids", {"pids.max": self.limits.processes}),
                                   ("memory", {"memory.limit_in_bytes": self.limits.memory_bytes})):
            parent = _cgroup_v1_parent(controller)
            if parent is None:
                continue
            group = parent / name
            try:
                group.mkdir()
                for key, value in limits.items():
                    (group / key).write_text(str(value))
            except OSError:
                _remove_cgroup(group)
                continue
            self.cgroups.append(group)
            made.append(controller)
        return made

    def remove_cgroups(self) -> None:
        for group in self.cgroups:
            _remove_cgroup(group)
        self.cgroups.clear()


def _cgroup_v1_parent(controller: str) -> Path | None:
    """The writable cgroup-v1 folder of ``controller`` this process belongs to, if any."""
    root = Path("/sys/fs/cgroup") / controller
    if not (root / "cgroup.procs").is_file():
        return None
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            parent = root / path.lstrip("/")
            return parent if parent.is_dir() and os.access(parent, os.W_OK) else None
    return None


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _open_folder(name, dir_fd: int | None = None):
    """``(fd, listing)`` of a folder opened without following a link, or ``None``."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError:  # gone, or a link: not entered
        return None
    try:
        return fd, os.scandir(fd)
    except OSError:
        os.close(fd)
        return None


def _count_tree(root: Path, usage: DiskUsage, max_bytes: int, max_entries: int, max_depth: int) -> DiskUsage:
    """``usage`` plus what lies below ``root``; ``complete=False`` as soon as a bound is passed."""
    size, entries, deepest = usage.bytes, usage.entries, usage.depth
    top = _open_folder(root)
    # depth first, one open folder per level: the descriptors held stay bounded by max_depth
    stack = [top] if top else []
    try:
        while stack:
            fd, listing = stack[-1]
            entry = next(listing, None)
            if entry is None:
                stack.pop()
                listing.close()
                os.close(fd)
                continue
            entries += 1
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:  # removed meanwhile
                continue
            size += st.st_blocks * 512
            if size > max_bytes or entries > max_entries:
                return DiskUsage(size, entries, deepest, False)
            if stat.S_ISDIR(st.st_mode):
                if len(stack) > max_depth:
                    return DiskUsage(size, entries, len(stack), False)
                child = _open_folder(entry.name, fd)
                if child:
                    stack.append(child)
                    deepest = max(deepest, len(stack) - 1)
    finally:
        for fd, listing in stack:
            listing.close()
            os.close(fd)
    return DiskUsage(size, entries, deepest, True)


def _remove_cgroup(group: Path) -> None:
    try:
        procs = (group / "cgroup.procs").read_text().split()
        for pid in procs:
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
        group.rmdir()
    except OSError:
        pass


# The trusted launcher: runs outside the jail, as the grader, just before bwrap (or the kernel).
# It joins the jail's cgroups and lowers its own limits, which every later process inherits and
# none can raise again (raising a hard limit needs a capability the jail does not have).
LAUNCHER = r"""
import json, os, resource, sys
cfg = json.loads(sys.argv[1])
argv = sys.argv[sys.argv.index("--") + 1:]
for group in cfg["cgroups"]:
    with open(os.path.join(group, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
def cap(kind, value):
    if value is not None:
        soft, hard = resource.getrlimit(kind)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, value))
cap(resource.RLIMIT_DATA, cfg["data"])
cap(resource.RLIMIT_FSIZE, cfg["fsize"])
cap(resource.RLIMIT_NOFILE, cfg["nofile"])
cap(resource.RLIMIT_CORE, 0)
cap(resource.RLIMIT_NPROC, cfg["nproc"])
env = cfg["env"] if cfg["clear_env"] else dict(os.environ)
os.execvpe(argv[0], argv, env)
"""
