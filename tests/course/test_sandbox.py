"""The jail of a grading kernel, probed from inside by a Python process started like the kernel.

Needs Debian's ``bubblewrap`` (``.ci/run`` installs it); without it the jailed cases are skipped
with the reason and the unjailed fallback is still tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reference_solution.course import sandbox
from reference_solution.course.sandbox import Jail, Limits

REPO = Path(__file__).resolve().parents[2]
# the top-level host folder holding this checkout (e.g. /work): a second copy of the course or of
# the instructor package could lie anywhere below it, so none of it may be visible
REPO_TOP = Path(*REPO.parts[:2])
JAILED = pytest.mark.skipif(not sandbox.availability()[0], reason=f"no jail here: {sandbox.availability()[1]}")

PROBE = r"""
import json, os, resource, socket, sys
out = {}
def attempt(key, fn):
    try:
        out[key] = ["ok", fn()]
    except BaseException as exc:
        out[key] = ["error", type(exc).__name__]
attempt("import_package", lambda: __import__("reference_solution") and "imported")
attempt("list_course", lambda: sorted(os.listdir(sys.argv[1])))
attempt("write_course", lambda: open(os.path.join(sys.argv[1], "pwned"), "w").write("x"))
if sys.argv[4] == "jailed":  # unjailed, this would really write into the host's / and /dev
    attempt("write_root", lambda: open("/pwned", "w").write("x"))
    attempt("write_dev", lambda: open("/dev/pwned", "w").write("x"))
    attempt("write_shm", lambda: open("/dev/shm/x", "w").write("x"))
    attempt("shm_bytes", lambda: os.statvfs("/dev/shm").f_blocks * os.statvfs("/dev/shm").f_frsize)
attempt("see_repo_top", lambda: sorted(os.listdir(sys.argv[5])))
attempt("see_repo", lambda: sorted(os.listdir(sys.argv[6])))
attempt("write_home", lambda: open(os.path.expanduser("~/note"), "w").write("x"))
attempt("write_cwd", lambda: open("note.txt", "w").write("x"))
attempt("write_outbox", lambda: open(os.path.join(sys.argv[2], "r.json"), "w").write("{}"))
attempt("write_inbox", lambda: open(os.path.join(sys.argv[3], "c.json"), "w").write("{}"))
attempt("network", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2) and "connected")
attempt("processes", lambda: len([p for p in os.listdir("/proc") if p.isdigit()]))
attempt("raise_data_limit", lambda: resource.setrlimit(resource.RLIMIT_DATA, (resource.RLIM_INFINITY,) * 2))
attempt("data_limit", lambda: resource.getrlimit(resource.RLIMIT_DATA)[1])
attempt("shadow", lambda: len(open("/etc/shadow").read()))
attempt("cwd", os.getcwd)
attempt("env_has_course", lambda: any(sys.argv[1] in v for v in os.environ.values()))
print(json.dumps(out))
"""


def run_probe(tmp_path: Path, use_bwrap: bool) -> tuple[dict, Jail]:
    course_root = tmp_path / "course"
    (course_root / "source").mkdir(parents=True)
    (course_root / "gradebook.db").write_text("grades")
    base = tmp_path / "grading"
    folders = {name: base / name for name in ("work", "in", "out", "sockets")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    jail = Jail(workdir=folders["work"], inbox=folders["in"], outbox=folders["out"],
                sockets=folders["sockets"], hidden=[course_root, REPO / "reference_solution", REPO],
                limits=Limits(memory_bytes=2 * 2**30, processes=64), use_bwrap=use_bwrap)
    cmd = jail.command([sys.executable, "-c", PROBE, str(course_root), str(folders["out"]),
                        str(folders["in"]), "jailed" if use_bwrap else "open", str(REPO_TOP), str(REPO)])
    done = subprocess.run(cmd, cwd=folders["work"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), jail


@JAILED
def test_jail_hides_the_course_and_the_instructor_package(tmp_path):
    out, jail = run_probe(tmp_path, use_bwrap=True)
    assert out["import_package"][0] == "error"
    # the course is not there at all (or, inside an exposed folder, an empty read-only stand-in)
    assert out["list_course"] in (["ok", []], ["error", "FileNotFoundError"])
    assert out["write_course"][0] == "error" and out["write_root"][0] == "error"
    assert not (tmp_path / "course" / "pwned").exists()
    assert out["env_has_course"] == ["ok", False]
    # a whitelist, not a blocklist: the checkout's top-level folder is absent or holds only the
    # interpreter's own install (a venv next to the checkout)
    # (or, when the checkout lies in /tmp, the mount points of the jail's own folders there)
    allowed = {p.parts[2] for p in [*sandbox._python_paths(), tmp_path] if _under_top(p)}
    assert out["see_repo_top"][0] == "error" or set(out["see_repo_top"][1]) <= allowed, out["see_repo_top"]
    # and nothing of the checkout itself (a venv inside it would be the only thing)
    assert out["see_repo"][0] == "error" or set(out["see_repo"][1]) <= {
        p.parts[len(REPO.parts)] for p in [*sandbox._python_paths(), tmp_path]
        if len(p.parts) > len(REPO.parts) and p.parts[:len(REPO.parts)] == REPO.parts}, out["see_repo"]
    assert out["shadow"] in (["ok", 0], ["error", "PermissionError"])


@JAILED
def test_jail_allows_only_its_own_folders_and_no_network(tmp_path):
    out, jail = run_probe(tmp_path, use_bwrap=True)
    for key in ("write_home", "write_cwd", "write_outbox"):
        assert out[key][0] == "ok", key
    assert out["write_inbox"][0] == "error"  # challenges are read-only in the jail
    # /dev is read-only; its /dev/shm is a tmpfs of the jail's /tmp size (no unsized folder)
    assert out["write_dev"][0] == "error" and out["write_shm"][0] == "ok"
    assert out["shm_bytes"] == ["ok", Limits().tmp_bytes]
    assert out["network"][0] == "error"
    assert out["cwd"] == ["ok", jail.cwd_inside]
    assert (tmp_path / "grading" / "work" / "note.txt").is_file()


@JAILED
def test_jail_limits_hold_and_cannot_be_raised(tmp_path):
    out, _ = run_probe(tmp_path, use_bwrap=True)
    assert out["data_limit"] == ["ok", 2 * 2**30]
    assert out["raise_data_limit"][0] == "error"
    assert out["processes"][0] == "ok" and out["processes"][1] < 10  # its own PID namespace


@JAILED
def test_fork_bomb_stops_at_the_process_limit(tmp_path):
    work, inbox, outbox, sockets = (tmp_path / n for n in ("w", "i", "o", "s"))
    for folder in (work, inbox, outbox, sockets):
        folder.mkdir()
    jail = Jail(workdir=work, inbox=inbox, outbox=outbox, sockets=sockets,
                limits=Limits(processes=32), use_bwrap=True)
    jail.create_cgroups()
    bomb = ("import os, time\nn = 0\nfor _ in range(200):\n    try:\n        if os.fork() == 0:\n"
            "            time.sleep(5); os._exit(0)\n        n += 1\n    except OSError:\n        break\nprint(n)")
    try:
        done = subprocess.run(jail.command([sys.executable, "-c", bomb]), cwd=work, capture_output=True,
                              text=True, timeout=60)
    finally:
        jail.remove_cgroups()
    if not jail_limits_processes():
        pytest.skip("neither a pids cgroup nor RLIMIT_NPROC applies here (root without cgroups)")
    assert int(done.stdout.strip().splitlines()[-1]) < 32, done.stdout + done.stderr


def _under_top(path: Path) -> bool:
    return len(path.parts) > 2 and path.parts[:2] == REPO_TOP.parts


def jail_limits_processes() -> bool:
    return os.geteuid() != 0 or any(Path("/sys/fs/cgroup/pids").glob("cgroup.procs"))


def test_without_bwrap_the_limits_still_apply_and_the_warning_says_so(tmp_path):
    out, jail = run_probe(tmp_path, use_bwrap=False)
    assert out["data_limit"] == ["ok", 2 * 2**30]
    assert out["cwd"] == ["ok", str(tmp_path / "grading" / "work")]
    assert "NO SANDBOX" in sandbox.UNPROTECTED and "gradebook" in sandbox.UNPROTECTED


def test_environment_of_the_kernel_names_no_grader_path(tmp_path):
    work = tmp_path / "w"
    jail = Jail(workdir=work, inbox=tmp_path / "i", outbox=tmp_path / "o", sockets=tmp_path / "s")
    env = jail.environment()
    assert env["HOME"] == sandbox.JAIL_HOME and env["MPLBACKEND"].endswith("backend_inline")
    # Compared path by path, not as substrings: a virtual environment at /x/repo-venv sits
    # beside the course at /x/repo, not in it. The interpreter's own folder must stay on PATH
    # even when an instructor keeps the environment inside the course directory.
    interpreter = Path(sys.executable).parent
    entries = [Path(e) for v in env.values() for e in v.split(os.pathsep)]
    inside = [e for e in entries if e.is_absolute() and e != interpreter
              and (e == REPO or REPO in e.parents)]
    assert not inside
    assert os.environ.get("HOME", "") not in env.values() or os.environ.get("HOME") == sandbox.JAIL_HOME


# -- the disk quota of the host folders the jail can write ----------------------------------------

WRITER = r"""
import os, sys, time
chunk = os.urandom(1 << 20)
for i in range(int(sys.argv[2])):
    if sys.argv[1] == "bytes":  # 1 MiB files, at most about 200 MiB/s
        with open(f"f{i}", "wb") as f:
            f.write(chunk)
        time.sleep(0.005)
    else:  # empty files, as fast as it can
        os.close(os.open(f"e{i}", os.O_CREAT | os.O_WRONLY))
print("finished", flush=True)
"""


def _folders(tmp_path: Path) -> dict[str, Path]:
    folders = {name: tmp_path / name for name in ("work", "in", "out", "sockets")}
    for folder in folders.values():
        folder.mkdir()
    return folders


def _jail(tmp_path: Path, limits: Limits, use_bwrap: bool = True) -> Jail:
    f = _folders(tmp_path)
    return Jail(workdir=f["work"], inbox=f["in"], outbox=f["out"], sockets=f["sockets"], limits=limits,
                use_bwrap=use_bwrap)


def _kill_tree(pid: int) -> None:
    """What the executor's watchdog does: kill the jail's whole process tree."""
    import psutil

    root = psutil.Process(pid)
    for p in reversed([root, *root.children(recursive=True)]):
        try:
            p.kill()
        except psutil.Error:
            pass


@JAILED
@pytest.mark.parametrize("mode", ["bytes", "files"])
def test_a_jailed_writer_past_the_disk_quota_is_caught_and_killed(tmp_path, mode):
    jail = _jail(tmp_path, Limits(disk_bytes=16 * 2**20, disk_entries=1000))
    count = 512 if mode == "bytes" else 200_000
    proc = subprocess.Popen(jail.command([sys.executable, "-c", WRITER, mode, str(count)]), cwd=jail.workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reason, checks = None, []
    deadline = time.monotonic() + 60
    while reason is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.25)  # the watchdog's period
        started = time.perf_counter()
        reason = jail.over_quota()
        checks.append(time.perf_counter() - started)
    if reason is not None:
        _kill_tree(proc.pid)
    out, err = proc.communicate(timeout=30)
    assert reason is not None and "finished" not in out, (out, err[-2000:])
    assert ("MiB" if mode == "bytes" else "files and folders") in reason
    assert proc.returncode != 0
    usage = jail.disk_usage()
    # stopped long before it was done: at most a poll period of writing past the quota
    assert not usage.complete and max(checks) < 0.5, (usage, checks)
    written = sum(p.stat().st_size for p in jail.workdir.iterdir())
    assert written < 128 * 2**20 if mode == "bytes" else len(os.listdir(jail.workdir)) < count


def test_a_tree_of_many_tiny_files_costs_one_bounded_count(tmp_path):
    jail = _jail(tmp_path, Limits(disk_entries=1000), use_bwrap=False)
    many = jail.outbox / "many"
    many.mkdir()
    for i in range(20_000):
        os.close(os.open(many / str(i), os.O_CREAT | os.O_WRONLY))
    started = time.perf_counter()
    reason = jail.over_quota()
    seconds = time.perf_counter() - started
    assert reason and "more than 1000 files and folders" in reason
    usage = jail.disk_usage()
    assert usage.entries == 1001 and not usage.complete  # stopped at the bound, not at the end
    assert seconds < 0.5, seconds


def test_disk_usage_counts_every_writable_folder_and_follows_no_link(tmp_path):
    jail = _jail(tmp_path, Limits(disk_bytes=2**20, disk_entries=100, disk_depth=8), use_bwrap=False)
    assert jail.over_quota() is None and jail.disk_usage() == sandbox.DiskUsage(0, 0, 0, True)
    (jail.outbox / "r.json").write_bytes(b"x" * 300_000)
    (jail.sockets / "usr").symlink_to("/usr")  # not followed: /usr would be far over the quota
    with open(jail.workdir / "sparse", "wb") as f:  # a hole fills no disk
        f.truncate(2**40)
    usage = jail.disk_usage()
    assert usage.complete and usage.entries == 3 and 300_000 <= usage.bytes < 2**20, usage
    (jail.sockets / "more").write_bytes(b"x" * 800_000)
    assert "more than 1 MiB" in jail.over_quota()
    (jail.sockets / "more").unlink()
    deep = jail.workdir.joinpath(*["d"] * 10)
    deep.mkdir(parents=True)
    assert "nest deeper than 8 levels" in jail.over_quota()
