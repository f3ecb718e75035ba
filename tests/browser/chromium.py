"""Debian's Chromium for the browser tests: where it is, how it starts, and why a test skips.

A test that needs it skips with the reason (never fails) on a machine without a Chromium that
starts: none installed, or one that cannot run (issue 20: the suite must pass or skip there).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@functools.cache
def missing(*modules: str) -> str | None:
    """Why the browser tests cannot run here (None when they can): Chromium, then ``modules``."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not found or not executable (apt-get install chromium)"
    try:
        out = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{CHROMIUM} does not start ({exc})"
    if out.returncode != 0:
        return f"{CHROMIUM} --version failed (exit {out.returncode}): {(out.stderr or out.stdout)[-200:]}"
    for module in ("playwright", *modules):
        if importlib.util.find_spec(module) is None:
            return f"python package {module} not installed (pip install {module})"
    return None
