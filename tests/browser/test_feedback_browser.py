"""Feedback as a student's browser shows it: a failed check's long message wraps inside its box,
an explorer's output is its picture, every figure has alternative text.

The page is made the way ``nbgrader generate_feedback`` makes it (nbgrader's feedback template,
the preprocessors of ``nbgrader_config.py`` that shape the page: ``CSSHTMLHeaderPreprocessor``
then ``FeedbackLayout``) from a small graded notebook, opened as a file in Debian's
``/usr/bin/chromium`` (Playwright), and measured there. The same page without ``FeedbackLayout``
must show the defects, so the test can fail.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import chromium  # noqa: E402  (tests/browser/chromium.py)
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
from nbconvert.exporters import HTMLExporter  # noqa: E402
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from traitlets.config import Config  # noqa: E402

from reference_solution.course.feedback import WIDGET_VIEW, FeedbackLayout  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = chromium.ARGS
CHROMIUM = chromium.CHROMIUM
MESSAGE = ("AssertionError: Hidden check failed: samples_land_near_the_moons: samples are too far from the "
           "moons' shape: sliced-Wasserstein distance 0.412 (each sample against the moon it lies nearest to), "
           "needed below 0.15. The grader draws these samples with its own Langevin sampler from its network "
           "trained by your train_model with your DenoisingScoreMatcher's loss")


def _missing() -> str | None:
    return chromium.missing()


def _png() -> str:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [1, 0])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def graded_notebook() -> nbformat.NotebookNode:
    """A figure cell, an explorer cell (widget view + picture) and a test cell with a failed check."""
    png = _png()
    figure = nbformat.v4.new_code_cell("plt.plot(x)", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": png, "text/plain": "<Figure size 300x200 with 1 Axes>"})])
    explorer = nbformat.v4.new_code_cell("explore_anomalies(probs, ds_test)", execution_count=22, outputs=[
        nbformat.v4.new_output("execute_result", execution_count=22, data={
            WIDGET_VIEW: {"model_id": "0123", "version_major": 2, "version_minor": 0},
            "image/png": png, "text/plain": "AnomalyView: ..."})])
    test = nbformat.v4.new_code_cell('"""Samples land near the moons."""', outputs=[
        nbformat.v4.new_output("error", ename="AssertionError", evalue=MESSAGE, traceback=[MESSAGE])])
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "samples_land_near_the_moons",
                                "points": 3, "score": 0.0}  # what GetGrades writes
    nb = nbformat.v4.new_notebook(cells=[figure, explorer, test])
    # nbclient stores the widgets' state (as nbgrader's execution does): nbconvert then draws the view
    # with the widget manager's JavaScript from a CDN, an empty "Out[22]:" offline
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {"0123": {"model_name": "VBoxModel", "model_module": "@jupyter-widgets/controls",
                           "model_module_version": "2.0.0", "state": {}}},
        "version_major": 2, "version_minor": 0}}
    return nb


def feedback_page(folder: Path, layout: bool) -> Path:
    import nbgrader.server_extensions.formgrader as formgrader

    here = Path(formgrader.__file__).parent  # as nbgrader's GenerateFeedback sets its exporter up
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [str(here / "templates")]
    config.HTMLExporter.extra_template_paths = [str(here / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    exporter = HTMLExporter(config=config)
    exporter.register_preprocessor(CSSHTMLHeaderPreprocessor(config=config), enabled=True)
    if layout:
        exporter.register_preprocessor(FeedbackLayout(config=config), enabled=True)
    resources = {"nbgrader": {"notebook": "n", "score": 0, "max_score": 3, "late_penalty": 0}}
    body, _ = exporter.from_notebook_node(graded_notebook(), resources=resources)
    path = folder / f"feedback_{'layout' if layout else 'plain'}.html"
    path.write_text(body)
    return path


def measure(page_path: Path) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 900})  # a laptop window's half
            page.route("**/*", lambda route: route.abort() if not route.request.url.startswith(("file:", "data:"))
                       else route.continue_())  # offline, as a student may be
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            return page.evaluate("""() => {
                const pres = [...document.querySelectorAll('pre')].filter(p => p.innerText.includes('Hidden check'));
                const imgs = [...document.querySelectorAll('img')];
                return {
                    overflowing: pres.filter(p => p.scrollWidth > p.clientWidth + 1).length,
                    messages: pres.length,
                    visible_text: pres.map(p => p.innerText).join(' '),
                    images: imgs.length,
                    without_alt: imgs.filter(i => !i.alt || i.alt.startsWith('No description')).length,
                    drawn: imgs.filter(i => i.naturalWidth > 0).length,
                };
            }""")
        finally:
            browser.close()


def test_feedback_wraps_messages_and_shows_every_figure_with_alt_text(tmp_path):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    plain, laid_out = measure(feedback_page(tmp_path, False)), measure(feedback_page(tmp_path, True))
    # without FeedbackLayout: the message runs past its box, the explorer draws nothing, and the
    # figure's alt is nbconvert's "No description has been provided for this image"
    assert plain["overflowing"] >= 1 and plain["images"] == 1 and plain["without_alt"] == 1, plain
    assert laid_out["messages"] >= 1 and laid_out["overflowing"] == 0, laid_out
    assert "needed below 0.15" in laid_out["visible_text"]
    assert laid_out["images"] == 2 and laid_out["drawn"] == 2 and laid_out["without_alt"] == 0, laid_out
