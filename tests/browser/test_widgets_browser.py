"""The four views in a real browser: JupyterLab on localhost, headless Chromium, a person's moves.

The test writes a small exploration notebook, starts ``jupyter lab`` on a free port with a token,
opens the notebook in Debian's ``/usr/bin/chromium`` driven by Playwright, runs all cells from the
Run menu (a real kernel), drags each view's slider with the mouse and checks that the label
computed by Python changed and the rendered view looks different. Screenshots go to a temporary
folder, and into ``docs/screenshots/browser/`` when ``SAVE_SCREENSHOTS=1``: its inputs are
synthetic (for speed), so they never feed the README, whose pictures come from a real pipeline run
(``python -m reference_solution screenshots --run runs/quick``).

Needs ``pip install playwright jupyterlab`` (no ``playwright install``: the system browser is used)
and ``apt-get install chromium``; skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import chromium  # tests/browser/chromium.py
import nbformat
import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = chromium.CHROMIUM
CHROMIUM_ARGS = chromium.ARGS + ["--disable-quic", "--disable-background-networking", "--disable-component-update",
                                 "--disable-sync"]
TOKEN = "coursekit-browser-test"
# view name, how far to drag its slider (pixels), text the label must show afterwards (or None)
MOVES = [("dataset", 120, None), ("anomalies", -30, None), ("latent", 40, "ANOMALOUS"),
         ("langevin", -50, None)]

CELLS = [
    f"""import sys, tempfile
sys.path.insert(0, {str(REPO)!r})
import numpy as np, torch
from reference_solution.coursekit import synthetic_files
from reference_solution.wgan_anomalies.dataset import DS
from reference_solution.coursekit.warmings import read_events
from reference_solution.wgan_anomalies.wgan import Generator
from reference_solution.score_matching import DenoisingScoreMatcher, ScoreNet, make_moons_data
from reference_solution.coursekit.widgets import (explore_dataset, explore_anomalies, explore_latent,
                                        explore_langevin)
files = synthetic_files.write_course_files(tempfile.mkdtemp(), winters=2, size=32, progress=False)
ds, events = DS(files.pv, files.gh, files.mask), read_events(files.events)""",
    "explore_dataset(ds, events)",
    """rng = np.random.default_rng(0)
scores = 0.3 * rng.random(len(ds))
scores[events["ssw"]] += rng.uniform(0.2, 0.7, events["ssw"].sum())
explore_anomalies(scores, ds, events, threshold=0.5)""",
    """torch.manual_seed(0)
explore_latent(Generator(n_inputs=128, size=32), mask=ds.mask)""",
    """moons = torch.from_numpy(make_moons_data(2000)[0])
matcher = DenoisingScoreMatcher(ScoreNet(hidden_size=64), (2,), sigma=0.2)
opt = torch.optim.Adam(matcher.parameters(), lr=3e-3)
for _ in range(300):  # a second or two: enough for a recognisable score field
    opt.zero_grad()
    matcher.loss(moons[torch.randint(0, len(moons), (256,))])["total_loss"].backward()
    opt.step()
explore_langevin(matcher, moons, eta=0.01, num_steps=200, n_particles=500)""",
]


def _missing() -> str | None:
    return chromium.missing("jupyterlab", "jupyterlab_widgets")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = folder / "explore.ipynb"
    nbformat.write(nb, path)
    return path


def _start_lab(root: Path, port: int) -> subprocess.Popen:
    settings = root / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"checkForUpdates": False, "fetchNews": "false"}))
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={TOKEN}",
           f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={root / '.settings'}",
           f"--LabApp.workspaces_dir={root / '.workspaces'}", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(root / "server.log", "wb")
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_for_server(port: int, server: subprocess.Popen, root: Path, timeout: float = 90) -> None:
    url = f"http://127.0.0.1:{port}/api/status?token={TOKEN}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"jupyter lab exited: {(root / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"jupyter lab did not answer in {timeout} s: "
                f"{(root / 'server.log').read_text()[-2000:]}")


def _wait_for_new_text(locator, old: str, timeout: float = 60.0, settle: float = 1.0) -> str:
    """The label's text once it differs from ``old`` and has stopped changing for ``settle`` s
    (a drag sends intermediate values first)."""
    deadline = time.monotonic() + timeout
    text, since = old, time.monotonic()
    while time.monotonic() < deadline:
        now = locator.inner_text()
        if now != text:
            text, since = now, time.monotonic()
        elif text != old and time.monotonic() - since >= settle:
            return text
        time.sleep(0.1)
    if text != old:
        return text
    raise AssertionError(f"the label stayed {old!r} for {timeout} s after the slider moved")


def _run_all_cells(page, folder: Path, attempts: int = 4) -> None:
    """Run > Run All Cells, again if the first cell does not start (clicked before the kernel
    connection was ready: the cells stay ``[ ]``)."""
    prompt = page.locator(".jp-Cell .jp-InputArea-prompt").first
    for attempt in range(attempts):
        page.keyboard.press("Escape")  # close a stray dialog or menu
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if prompt.inner_text().strip() not in ("[ ]:", ""):
                page.locator(".coursekit-dataset").wait_for(timeout=90_000)
                return
            time.sleep(0.3)
        page.screenshot(path=str(folder / f"not_started_{attempt}.png"), full_page=True)
    raise AssertionError(f"the cells did not run after Run All Cells; see "
                         f"{folder}/not_started_*.png and {folder / 'server.log'}")


def test_views_respond_to_sliders_in_jupyterlab(tmp_path):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    _write_notebook(tmp_path)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    port = _free_port()
    server = _start_lab(tmp_path, port)
    try:
        _wait_for_server(port, server, tmp_path)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                        headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/explore.ipynb?token={TOKEN}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                   timeout=90_000)
            _run_all_cells(page, tmp_path)
            # a kernel still running later cells answers no slider until it is done: on a loaded
            # machine that takes longer than any label timeout, so wait for it to be idle first
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-Cell .jp-InputArea-prompt')]"
                ".every(p => !p.innerText.includes('*'))", timeout=300_000)
            for name, drag, expected in MOVES:
                view = page.locator(f".coursekit-{name}")
                view.wait_for(timeout=90_000)
                view.scroll_into_view_if_needed()
                image = view.locator("img").first
                page.wait_for_function("img => img.naturalWidth > 0", arg=image.element_handle(),
                                       timeout=30_000)
                label = view.locator(".widget-html-content").first
                before_text, before_shot = label.inner_text(), view.screenshot()
                handle = view.locator(".widget-slider .noUi-handle").first
                box = handle.bounding_box()
                x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
                page.mouse.move(x, y)
                page.mouse.down()
                page.mouse.move(x + drag, y, steps=8)
                page.mouse.up()
                after_text = _wait_for_new_text(label, before_text)
                if expected:
                    assert expected in after_text, after_text
                time.sleep(0.3)  # let the new frame decode before the screenshot
                after_shot = view.screenshot(path=str(shots / f"{name}.png"))
                assert after_shot != before_shot, f"{name}: the view looks the same after the move"
            browser.close()
        if os.environ.get("SAVE_SCREENSHOTS") == "1":
            target = REPO / "docs" / "screenshots" / "browser"
            target.mkdir(parents=True, exist_ok=True)
            for shot in shots.glob("*.png"):
                shutil.copy(shot, target / shot.name)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
