"""Logic of the interactive views, without a front end: setting a control's value changes what
the view shows (figure data, counts, metrics, labels), checked against independent oracles."""

from __future__ import annotations

import datetime
import io

import matplotlib.image as mimg
import numpy as np
import pytest
import torch
from torch import nn

from reference_solution.coursekit import synthetic_files, views
from reference_solution.coursekit.warmings import read_events
from reference_solution.coursekit.widgets import explore_anomalies, explore_dataset, explore_langevin, explore_latent
from reference_solution.score_matching import DenoisingScoreMatcher
from reference_solution.wgan_anomalies.dataset import DS
from reference_solution.wgan_anomalies.detection import detection_metrics
from reference_solution.wgan_anomalies.latent import chi_quantile
from reference_solution.wgan_anomalies.wgan import Generator

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    files = synthetic_files.write_course_files(tmp_path_factory.mktemp("data"), winters=2, size=32,
                                            progress=False)
    return DS(files.pv, files.gh, files.mask), files.events, read_events(files.events)


def _pixels(png: bytes) -> np.ndarray:
    return mimg.imread(io.BytesIO(png), format="png")


# --- dataset --------------------------------------------------------------------------------------

def test_dataset_day_slider_shows_that_day(course):
    ds, events_path, events = course
    view = explore_dataset(ds, events_path)
    first = view.png
    view.day.value = 240  # an SSW day of the synthetic winters
    pv, gh = ds[240].numpy()
    shown = view.images[0].get_array()
    assert np.allclose(shown.data[~shown.mask], pv[ds.mask.numpy() > 0.5])
    assert shown.mask[ds.mask.numpy() < 0.5].all()  # outside the disk is blank
    assert np.allclose(view.images[1].get_array().data, gh)
    assert view.date.value == datetime.date.fromisoformat(str(events["date"][240]))
    assert str(events["date"][240]) in view.label.value
    assert f"SSW: yes ({events['event_type'][240]})" in view.label.value
    assert f"u60 = {events['u60'][240]:+.1f}" in view.label.value
    assert view.marker.get_xdata()[0] == 240
    lo, hi = view.wind_axes.get_xlim()
    assert lo < 240 < hi and hi - lo <= 152  # the current winter only
    assert view.png != first and view.png.startswith(PNG_MAGIC)
    view.day.value = 3
    assert "SSW: no" in view.label.value


def test_dataset_date_picker_moves_the_day(course):
    ds, _, events = course
    view = explore_dataset(ds, events)
    view.date.value = datetime.date.fromisoformat(str(events["date"][200]))
    assert view.day.value == 200
    view.date.value = datetime.date(1980, 7, 1)  # summer: no course day; the nearest is held
    nearest = np.argmin(np.abs(events["date"] - np.datetime64("1980-07-01")).astype(int))
    assert view.day.value == nearest


def test_dataset_without_events_and_bad_events(course):
    ds, _, events = course
    view = explore_dataset(ds)
    view.day.value = 7
    assert view.label.value == f"day 7 of {len(ds)}"
    assert view.date is None and view.wind_axes is None
    with pytest.raises(ValueError, match="one row per day"):
        explore_dataset(ds, {k: v[:10] for k, v in events.items()})


def test_blitted_frame_equals_a_full_redraw(course):
    ds, _, events = course
    view = explore_dataset(ds, events)
    for day in (5, 140, 160, 33):  # crosses winters: the background is redrawn
        view.day.value = day
    blitted = _pixels(view.png)
    for artist in view.figure.findobj():
        artist.set_animated(False)
    view.figure.canvas.draw()
    full = np.asarray(view.figure.canvas.buffer_rgba()) / 255.0
    assert blitted.shape == full.shape
    assert np.abs(blitted - full).max() < 1e-6


def test_dataset_one_day_buttons_step_exactly_one_day_in_sync_with_the_slider(course):
    ds, _, events = course
    view = explore_dataset(ds, events, day=239)
    assert float(view.day.layout.width.rstrip("%")) >= 80  # most of the cell: ~1 day a pixel
    view.next.click()
    assert view.day.value == 240 and view.label.value.startswith(f"day 240 of {len(ds)}")
    pv, _ = ds[240].numpy()
    shown = view.images[0].get_array()
    assert np.allclose(shown.data[~shown.mask], pv[ds.mask.numpy() > 0.5])
    assert view.date.value == datetime.date.fromisoformat(str(events["date"][240]))
    assert view.marker.get_xdata()[0] == 240
    view.previous.click()
    view.previous.click()
    assert view.day.value == 238 and "day 238 " in view.label.value
    view.day.value = 100  # the slider moves the buttons' starting point
    view.next.click()
    assert view.day.value == 101
    view.date.value = datetime.date.fromisoformat(str(events["date"][50]))  # and so does the date
    view.previous.click()
    assert view.day.value == 49
    view.day.value = 0
    assert view.previous.disabled and not view.next.disabled
    view.previous.click()
    assert view.day.value == 0
    view.day.value = len(ds) - 1
    assert view.next.disabled and not view.previous.disabled
    view.next.click()
    assert view.day.value == len(ds) - 1 and f"day {len(ds) - 1} of" in view.label.value


def test_dataset_of_one_day_and_days_outside_the_data(course):
    ds, _, _ = course
    one = np.random.default_rng(0).random((1, 2, 8, 8))  # duck-typed: len and [i]
    view = explore_dataset(one)
    assert view.day.min == view.day.max == 0 and view.label.value == "day 0 of 1"
    assert view.previous.disabled and view.next.disabled
    view.next.click()
    view.previous.click()
    assert view.day.value == 0 and np.allclose(view.images[1].get_array().data, one[0, 1])
    for day in (len(ds), -1):
        with pytest.raises(ValueError, match=r"expected 0 <= day < \d+"):
            explore_dataset(ds, day=day)
    with pytest.raises(ValueError, match="0 <= day < 0"):
        explore_dataset(np.zeros((0, 2, 8, 8)))


def test_revisited_frames_come_from_the_cache(course, monkeypatch):
    ds, _, events = course
    view = explore_dataset(ds, events)
    view.day.value = 12
    frame = view.png
    view.day.value = 13
    calls = []
    monkeypatch.setattr(view, "compute", lambda: calls.append(1))
    view.day.value = 12
    assert calls == [] and view.png == frame and "day 12 " in view.label.value


# --- anomalies ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scores(course):
    _, _, events = course
    rng = np.random.default_rng(0)
    s = 0.3 * rng.random(len(events["ssw"]))
    s[events["ssw"]] += rng.uniform(0.2, 0.7, events["ssw"].sum())
    return s


def test_anomaly_threshold_updates_counts_metrics_and_curves(course, scores):
    ds, _, events = course
    view = explore_anomalies(scores, ds, events, threshold=0.5)
    for t in (0.25, 0.4, 0.6):
        view.threshold.value = t
        t = view.threshold.value
        expected = detection_metrics(events["ssw"], scores, t)
        assert view.counts == {"anomalous": expected["flagged"],
                               "normal": len(scores) - expected["flagged"]}
        for name in ("precision", "recall", "f1", "roc_auc", "average_precision"):
            assert view.metrics[name] == pytest.approx(expected[name]), name
        fpr = ((scores > t) & ~events["ssw"]).sum() / (~events["ssw"]).sum()
        assert view.roc_point.get_xdata()[0] == pytest.approx(fpr)
        assert view.roc_point.get_ydata()[0] == pytest.approx(expected["recall"])
        assert view.line.get_xdata()[0] == t
        assert f"{expected['flagged']} anomalous" in view.label.value
        assert np.array_equal(view.flagged, np.flatnonzero(scores > t))
    assert list(view.top_days) == list(np.argsort(-scores)[:6])
    assert list(view.normal_days) == list(np.argsort(scores)[:6])
    assert bytes(view.gallery_top.value).startswith(PNG_MAGIC)


def test_anomaly_without_truth_or_data(scores):
    view = explore_anomalies(scores * 10, threshold=2.0)  # scores beyond [0, 1]: range follows
    assert view.threshold.max == pytest.approx(scores.max() * 10)
    view.threshold.value = 1.0
    assert view.counts["anomalous"] == int((scores * 10 > view.threshold.value).sum())
    assert "precision" not in view.metrics and view.gallery_top is None
    with pytest.raises(ValueError, match="finite scores"):
        explore_anomalies(np.array([0.1, np.nan]))


def _flagged(scores, threshold) -> int:
    return int((scores > threshold).sum())


def test_anomaly_threshold_slider_follows_the_scores_range():
    """A classifier's scores span ~0.04 of [0, 1]: the slider spans them, in fine steps."""
    s = np.random.default_rng(1).uniform(0.50, 0.54, 900)
    span = s.max() - s.min()
    view = explore_anomalies(s, threshold=0.5)
    t = view.threshold
    assert s.min() - span / 100 <= t.min < s.min() and s.max() <= t.max <= s.max() + span / 100
    assert 0 < t.step <= span / 100
    assert float(t.layout.width.rstrip("%")) >= 80
    t.value = t.min
    assert view.counts["anomalous"] == 900  # the slider's ends: every day, no day
    t.value = t.max
    assert view.counts["anomalous"] == 0
    start = float(np.median(s))
    t.value = start
    counts = [view.counts["anomalous"]]
    for k in range(1, 41):  # one step at a time, as a drag or the arrow keys
        t.value = start + k * t.step
        assert view.counts["anomalous"] == _flagged(s, t.value)
        counts.append(view.counts["anomalous"])
    assert max(abs(np.diff(counts))) <= 9  # at most 1% of the days a step (was ~22 on [0, 1])
    sweep = [_flagged(s, t.min + k * t.step) for k in range(round((t.max - t.min) / t.step) + 1)]
    assert max(abs(np.diff(sweep))) <= 9 and sweep[0] == 900 and sweep[-1] == 0
    readout = t.readout_format  # the readout tells neighbouring steps apart
    assert format(start, readout) != format(start + t.step, readout)
    assert f"threshold {format(t.value, readout)}:" in view.label.value


@pytest.mark.parametrize("values", [np.full(50, 0.3), np.array([0.7]), np.zeros(20),
                                    np.full(10, -250.0)], ids=["equal", "one", "zeros", "negative"])
def test_anomaly_threshold_slider_on_equal_scores(values):
    view = explore_anomalies(values)
    t = view.threshold
    assert t.min < values[0] < t.max and t.step > 0
    t.value = t.min
    assert view.counts == {"anomalous": len(values), "normal": 0}
    t.value = t.max
    assert view.counts == {"anomalous": 0, "normal": len(values)}
    assert "0 anomalous" in view.label.value


def test_anomaly_bad_scores_say_what_was_expected():
    for bad in (np.array([0.1, np.nan, 0.3]), np.array([np.inf, 0.2]), np.array([])):
        with pytest.raises(ValueError, match="expected finite scores"):
            explore_anomalies(bad)


def test_anomaly_detector_switch_keeps_every_day_flagged(scores):
    other = -3.0 * scores  # beyond [0, 1]
    view = explore_anomalies({"a": scores, "b": other})
    view.threshold.value = view.threshold.min
    assert view.counts["anomalous"] == len(scores)
    view.detector.value = "b"
    assert view.counts["anomalous"] == len(scores)  # the minimum flags all of its scores too
    assert view.threshold.step <= (other.max() - other.min()) / 100


def test_anomaly_detector_menu_switches_scores_at_the_same_workload(course, scores):
    ds, _, events = course
    rng = np.random.default_rng(5)
    other = -3.0 * scores + 0.1 * rng.standard_normal(len(scores))  # an inverted, noisier detector
    view = explore_anomalies({"good": scores, "bad": other}, ds, events, threshold=0.45)
    assert view.detector.value == "good" and len(view.roc_axes.lines) == 2 + 2  # 2 curves, diagonal, point
    view.threshold.value = 0.45
    flagged = view.counts["anomalous"]
    good_top, good_gallery = list(view.top_days), bytes(view.gallery_top.value)
    view.detector.value = "bad"
    assert view.counts["anomalous"] == flagged  # the same number of days flagged
    t = view.threshold.value
    assert view.threshold.min < other.min()  # re-ranged: one step below the new scores
    assert view.threshold.min + view.threshold.step == pytest.approx(other.min())
    assert view.threshold.max == pytest.approx(other.max())
    assert view.threshold.step == pytest.approx((other.max() - other.min()) / 1000)
    expected = detection_metrics(events["ssw"], other, t)
    for name in ("precision", "recall", "roc_auc", "average_precision"):
        assert view.metrics[name] == pytest.approx(expected[name]), name
    assert view.metrics["detector"] == "bad" and view.label.value.startswith("bad: ")
    assert list(view.top_days) == list(np.argsort(-other, kind="stable")[:6]) != good_top
    assert bytes(view.gallery_top.value) != good_gallery
    assert view.hist_axes.get_xlabel() == "score: bad"
    view.detector.value = "good"
    assert view.counts["anomalous"] == flagged and list(view.top_days) == good_top
    assert explore_anomalies({"a": scores}, detector="a").detector is None  # one detector: no menu
    with pytest.raises(ValueError, match="one score a day"):
        explore_anomalies({"a": scores, "b": scores[:10]})
    with pytest.raises(ValueError, match="not one of"):
        explore_anomalies({"a": scores}, detector="z")


# --- latent ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    g = Generator(n_inputs=16, size=32)
    g.train()
    return g


def test_latent_norm_slider_shows_g_of_z_and_the_verdict(generator):
    view = explore_latent(generator, seed=3)
    q = chi_quantile(0.98, 16)
    assert view.radius_inner == pytest.approx(q)
    cases = ((0.5, "normal"), (0.99, "normal"), (1.01, "anomalous"), (1.8, "anomalous"))
    for norm, verdict in cases:
        view.norm.value = norm
        assert np.linalg.norm(view.z) == pytest.approx(norm * q, rel=1e-6)
        assert view.status == verdict and verdict.upper() in view.label.value
        generator.eval()
        with torch.no_grad():
            expected = generator(torch.as_tensor(view.z[None], dtype=torch.float32))[0].numpy()
        generator.train()
        assert np.allclose(view.images[0].get_array(), expected[0], atol=1e-6)
        assert view.norm_line.get_xdata()[0] == pytest.approx(norm * q)
    assert generator.training  # the view leaves the model's mode as it found it


def test_latent_new_direction_and_strip(generator):
    view = explore_latent(generator, seed=0)
    u0 = view.z / np.linalg.norm(view.z)
    strip0 = view.strip.copy()
    view.new_direction.click()
    assert view.seed.value == 1
    u1 = view.z / np.linalg.norm(view.z)
    assert abs(u0 @ u1) < 0.99
    assert view.strip.shape == (7, 2, 32, 32) and not np.allclose(view.strip, strip0)
    assert np.allclose(view.strip_images[3].get_array(), view.strip[3, 0])


# --- Langevin -------------------------------------------------------------------------------------

class MinusX(nn.Module):
    """The exact score of N(0, I)."""

    def forward(self, x):
        return -x


class NoGeneratorMatcher:
    """A student's matcher whose ``langevin_dynamics`` takes no generator."""

    def __init__(self):
        self.score_model = MinusX()

    def langevin_dynamics(self, x, num_steps, eta):
        for _ in range(num_steps):
            x = x + 0.5 * eta * self.score_model(x) + eta ** 0.5 * torch.randn_like(x)
        return x


@pytest.fixture(scope="module")
def gaussian():
    return np.random.default_rng(0).standard_normal((1000, 2)).astype(np.float32)


def test_langevin_step_slider_scrubs_the_recorded_chain(gaussian):
    matcher = DenoisingScoreMatcher(MinusX(), (2,), sigma=0.1)
    view = explore_langevin(matcher, gaussian, eta=0.1, num_steps=300, n_particles=400, seed=1)
    view.step.value = 0
    start = view.particles
    assert np.abs(start).max() <= 1 and np.allclose(view.cloud.get_offsets(), start)
    g = torch.Generator().manual_seed(1)
    x0 = 2 * torch.rand((400, 2), generator=g) - 1
    expected = matcher.langevin_dynamics(x0, 50, 0.1, generator=g).numpy()
    view.step.value = 50
    assert np.allclose(view.particles, expected, atol=1e-5)
    assert "step 50 of 300" in view.label.value
    view.step.value = 300  # 15 time units of the OU process: the samples are N(0, I)
    assert np.std(view.particles, axis=0) == pytest.approx([1, 1], abs=0.15)
    assert view.distance < view.start_distance * 2
    points, score = view.score_field
    assert np.allclose(score, -points)


def test_langevin_eta_and_steps_rerun(gaussian):
    view = explore_langevin(NoGeneratorMatcher(), gaussian, eta=0.01, num_steps=100,
                            n_particles=200)
    assert view.step.value == 100
    before = view.particles
    view.eta.value = 0.05
    assert view.step.value == 100 and not np.allclose(view.particles, before)
    assert "eta 0.0500" in view.label.value
    view.num_steps.value = 40
    assert view.step.max == 40 and view.step.value == 40
    assert view.trajectory().shape == (41, 200, 2)
    again = explore_langevin(NoGeneratorMatcher(), gaussian, eta=0.05, num_steps=40,
                             n_particles=200)
    assert np.array_equal(again.particles, view.particles)  # seeded without a generator argument
    with pytest.raises(ValueError, match="2-D points"):
        explore_langevin(NoGeneratorMatcher(), np.zeros((5, 3)))


# --- without a front end --------------------------------------------------------------------------

def test_static_fallback_without_ipywidgets(course, monkeypatch, capsys):
    ds, _, events = course
    monkeypatch.setattr(views, "W", None)
    view = explore_dataset(ds, events)
    assert view.widget is None and isinstance(view.day, views.Plain)
    view.day.value = 240
    assert "SSW: yes" in view.label.value
    view.next.click()  # the one-day buttons work on the stand-ins too
    assert view.day.value == 241 and "day 241 " in view.label.value
    assert isinstance(explore_anomalies(np.linspace(0.5, 0.54, 90)).threshold, views.Plain)
    bundle = view._repr_mimebundle_()
    assert bundle["image/png"] == view.png
    assert "ipywidgets package is not installed" in capsys.readouterr().out


def test_display_outside_a_kernel_and_inside(course, monkeypatch, capsys):
    ds, _, _ = course
    view = explore_dataset(ds)
    assert "image/png" in view._repr_mimebundle_()  # pytest: no kernel
    assert "not running in a Jupyter kernel" in capsys.readouterr().out
    static = explore_dataset(ds, static=True)
    monkeypatch.setattr(views, "frontend_problem", lambda: None)
    assert "image/png" in static._repr_mimebundle_()
    assert "static=True" in capsys.readouterr().out
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "jupyterlab_widgets" in bundle["text/plain"]
    assert bundle["image/png"] == view.png  # the static picture beside the widget


def test_static_views_show_the_picture_not_the_hint(course, monkeypatch):
    """nbconvert (and so nbgrader's feedback) renders a widget's output as its PNG."""
    import base64

    import nbformat
    from nbconvert import HTMLExporter

    ds, _, _ = course
    monkeypatch.setattr(views, "frontend_problem", lambda: None)
    bundle = explore_dataset(ds)._repr_mimebundle_()
    data = {k: (base64.b64encode(v).decode() if isinstance(v, bytes) else v) for k, v in bundle.items()}
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("explore_dataset(ds)", outputs=[
        nbformat.v4.new_output("display_data", data=data)]))
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    assert "data:image/png;base64," + data["image/png"][:40] in html
    assert "if you read this text" not in html
