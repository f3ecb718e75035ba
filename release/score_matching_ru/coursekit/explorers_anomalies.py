# GENERATED from reference_solution/coursekit/explorers_anomalies.py by `python -m reference_solution release`; edit the original
"""The view of a detector's scores: ``explore_anomalies`` (histogram, threshold, counts,
galleries, precision / recall / ROC).

Course support code (see ``widgets``): scores and ground truth are arrays, the dataset is
duck-typed (``len``, ``ds[i]`` a ``(2, S, S)`` day, optional ``.mask``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .plotting import close, state_grid
from .views import View, agg_figure, control, has_widgets, numpy, png

# Threshold slider positions over the scores' range: on ~900 days about one day a step, where a
# [0, 1] slider over a classifier's scores (spanning ~0.04) flagged every day within a few steps.
STEPS = 1000


class AnomalyView(View):
    """Threshold slider over a score histogram; counts, galleries and metrics at the threshold.

    ``scores`` is one array (one score a day, higher = more anomalous) or a mapping of named
    arrays, one per detector: then a ``detector`` menu switches between them, the ROC panel
    shows every detector's curve (the chosen one in black) and a switch keeps the number of
    flagged days, so detectors are compared at the same workload.
    """

    name = "anomalies"

    def __init__(self, scores, dataset=None, truth=None, threshold: float = 0.5,
                 n_gallery: int = 6, static: bool = False, detector: str | None = None):
        self.score_sets = _score_sets(scores)
        names = list(self.score_sets)
        self.current = names[0] if detector is None else detector
        if self.current not in self.score_sets:
            raise ValueError(f"detector {detector!r} is not one of the scores given: {names}")
        self.scores = self.score_sets[self.current]
        dates = None
        if isinstance(truth, Mapping):  # the events dict: its ssw flags and dates
            dates, truth = truth.get("date"), truth.get("ssw")
        self.truth = None if truth is None else np.asarray(truth).astype(bool).reshape(-1)
        if self.truth is not None and self.truth.shape != self.scores.shape:
            raise ValueError(f"truth has {self.truth.size} days, scores {self.scores.size}; "
                             "expected one flag per score")
        self.dataset, self.dates, self.n_gallery = dataset, dates, n_gallery
        has_roc = self.truth is not None and 0 < self.truth.sum() < self.truth.size
        fig = agg_figure(10.5 if has_roc else 5.2, 3.0)
        axes = fig.subplots(1, 3 if has_roc else 1, squeeze=False)[0]
        self.hist_axes = axes[0]
        self.hist_axes.set_yscale("log")
        self.hist_axes.set_ylabel("days", fontsize=8)
        self.line = self.hist_axes.axvline(threshold, color="k", ls="--", lw=1)
        self._bars: list = []
        self.roc_point = self.pr_point = None
        self.roc_auc = self.average_precision = None
        self._curves: dict[str, dict] = {}
        if has_roc:
            self._roc_axes(axes[1], axes[2])
        self._drawn = None
        self._static(self.current)
        fig.tight_layout()
        super().__init__(fig, static)
        lo, hi, step = threshold_range(self.scores)
        self.threshold = control("FloatSlider", value=float(np.clip(threshold, lo, hi)), min=lo,
                                 max=hi, step=step, description="threshold",
                                 readout_format=f".{readout_digits(step)}f",
                                 continuous_update=True)
        if has_widgets():  # a default ~120 px track would move ~8 steps a pixel
            self.threshold.layout.width = "100%"
        self.controls = [self.threshold]
        self.detector = None
        if len(names) > 1:
            self.detector = control("Dropdown", options=names, value=self.current,
                                    description="detector")
            self.detector.observe(self._switch, names="value")
            self.controls.insert(0, self.detector)
        self._gallery_frames: dict[str, tuple[bytes, bytes]] = {}
        self.gallery_top = self.gallery_normal = None
        self._days()
        if dataset is not None:
            self._galleries()
        self.animated = [self.line, self.hist_axes.title]
        if self.roc_point is not None:
            self.animated += [self.roc_point, self.pr_point]
        self._watch(self.threshold)
        self._finish()

    def _roc_axes(self, roc_ax, pr_ax) -> None:
        from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve
        for k, (name, s) in enumerate(self.score_sets.items()):
            fpr, tpr, _ = roc_curve(self.truth, s)
            precision, recall, _ = precision_recall_curve(self.truth, s)
            auc = float(roc_auc_score(self.truth, s))
            (line,) = roc_ax.plot(fpr, tpr, lw=1, color=f"C{k % 10}",
                                  label=f"{name} {auc:.2f}" if len(self.score_sets) > 1 else None)
            self._curves[name] = {"roc": line, "auc": auc, "pr": (recall, precision),
                                  "ap": float(average_precision_score(self.truth, s))}
        roc_ax.plot([0, 1], [0, 1], color="0.6", ls=":", lw=0.8)
        (self.roc_point,) = roc_ax.plot([0], [0], "o", color="tab:orange", zorder=5)
        (self.pr_line,) = pr_ax.plot([0], [0], color="k", lw=1, drawstyle="steps-post")
        (self.pr_point,) = pr_ax.plot([0], [0], "o", color="tab:orange", zorder=5)
        roc_ax.set(xlabel="false positive rate", ylabel="recall (true positive rate)")
        pr_ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.05))
        if len(self.score_sets) > 1:
            roc_ax.legend(fontsize=5.5, loc="lower right", title="ROC-AUC", title_fontsize=6)
        for a in (roc_ax, pr_ax):
            a.xaxis.label.set_fontsize(8)
            a.yaxis.label.set_fontsize(8)
        self.roc_axes, self.pr_axes = roc_ax, pr_ax

    def _static(self, name: str) -> None:
        """Redraw the parts that depend on the detector: histogram, curves, titles."""
        ax, s = self.hist_axes, self.score_sets[name]
        for bar in self._bars:
            bar.remove()
        lo, hi, _ = threshold_range(s)  # the histogram spans what the slider does
        edges = np.linspace(lo, hi, 51)
        if self.truth is None:
            bars = [ax.hist(s, bins=edges, color="tab:blue", alpha=0.8)[2]]
        else:
            bars = [ax.hist(s[~self.truth], bins=edges, color="tab:blue", alpha=0.7,
                            label="no SSW (truth)")[2],
                    ax.hist(s[self.truth], bins=edges, color="tab:red", alpha=0.7,
                            label="SSW (truth)")[2]]
            if self._drawn is None:
                ax.legend(fontsize=7)
        self._bars = [patch for group in bars for patch in group]
        ax.set_xlim(edges[0], edges[-1])
        ax.relim()
        ax.autoscale_view(scalex=False)
        ax.set_xlabel("score" if len(self.score_sets) == 1 else f"score: {name}", fontsize=8)
        if self._curves:
            c = self._curves[name]
            self.roc_auc, self.average_precision = c["auc"], c["ap"]
            for other, oc in self._curves.items():
                oc["roc"].set(lw=1.6 if other == name else 0.8, alpha=1.0 if other == name else 0.45,
                              zorder=3 if other == name else 2)
            self.pr_line.set_data(*c["pr"])
            self.roc_axes.set_title(f"ROC, AUC {c['auc']:.3f}", fontsize=9)
            self.pr_axes.set_title(f"precision-recall, AP {c['ap']:.3f}", fontsize=9)
        self._drawn = name

    def _switch(self, change) -> None:
        """Another detector: same number of flagged days, its own histogram, curves, galleries."""
        flagged = int((self.scores > float(self.threshold.value)).sum())
        self.current = str(change["new"])
        self.scores = self.score_sets[self.current]
        lo, hi, step = threshold_range(self.scores)
        ranked = np.sort(self.scores)[::-1]
        t = hi if flagged == 0 else float(ranked[min(flagged, len(ranked) - 1)])
        if flagged >= len(ranked):
            t = lo
        self._days()
        self._static(self.current)
        if self.dataset is not None:
            self._galleries()
        # Widen first, so that no intermediate value is clipped by the old range.
        self.threshold.min, self.threshold.max = min(lo, self.threshold.min), max(hi, self.threshold.max)
        self.threshold.step = step
        self.threshold.readout_format = f".{readout_digits(step)}f"
        self.threshold.value = float(np.clip(t, lo, hi))  # updates the view (if it moved)
        self.threshold.min, self.threshold.max = lo, hi
        self.update()

    def _days(self) -> None:
        self.top_days = np.argsort(-self.scores, kind="stable")[:self.n_gallery]
        self.normal_days = np.argsort(self.scores, kind="stable")[:self.n_gallery]

    def _galleries(self) -> None:
        if self.current not in self._gallery_frames:
            mask = None if getattr(self.dataset, "mask", None) is None else numpy(self.dataset.mask)
            frames = []
            for title, days in (("most anomalous days", self.top_days),
                                ("most normal days", self.normal_days)):
                labels = [(str(self.dates[i]) if self.dates is not None else f"day {i}")
                          + f" {self.scores[i]:.2f}" + (" SSW" if self.truth is not None
                                                          and self.truth[i] else "") for i in days]
                fig = state_grid(np.stack([numpy(self.dataset[int(i)]) for i in days]), mask,
                                 labels, ncols=3, title=f"{title} (score)", panel=1.5)
                fig.set_dpi(70)
                frames.append(png(fig))
                close(fig)
            self._gallery_frames[self.current] = (frames[0], frames[1])
        top, normal = self._gallery_frames[self.current]
        if self.gallery_top is None:
            self.gallery_top = control("Image", value=top, format="png")
            self.gallery_normal = control("Image", value=normal, format="png")
            if has_widgets():
                import ipywidgets as W

                self.extras = [W.HBox([self.gallery_top, self.gallery_normal],
                                      layout=W.Layout(flex_flow="row wrap"))]
        else:
            self.gallery_top.value, self.gallery_normal.value = top, normal

    def background_key(self):
        return self.current

    def key(self):
        return self.current, round(float(self.threshold.value), 9)

    def compute(self) -> dict:
        t = float(self.threshold.value)
        flagged = self.scores > t  # as detection.idx_anomalies: strictly above
        out: dict[str, Any] = {"threshold": t, "anomalous": int(flagged.sum()),
                               "normal": int((~flagged).sum()), "detector": self.current}
        if self.truth is not None:
            tp = int((flagged & self.truth).sum())
            fp = int((flagged & ~self.truth).sum())
            positives, negatives = int(self.truth.sum()), int((~self.truth).sum())
            out["precision"] = tp / (tp + fp) if tp + fp else 0.0
            out["recall"] = tp / positives if positives else 0.0
            out["fpr"] = fp / negatives if negatives else 0.0
            p, r = out["precision"], out["recall"]
            out["f1"] = 2 * p * r / (p + r) if p + r else 0.0
            c = self._curves.get(self.current, {})
            out["roc_auc"], out["average_precision"] = c.get("auc"), c.get("ap")
        return out

    def draw(self, m: dict) -> None:
        if self._drawn != self.current:
            self._static(self.current)
        t = m["threshold"]
        shown = f"{t:.{readout_digits(float(self.threshold.step))}f}"  # as the slider reads it
        self.line.set_xdata([t, t])
        self.hist_axes.set_title(f"threshold {shown}: {m['anomalous']} anomalous, "
                                 f"{m['normal']} normal", fontsize=9)
        self.metrics = m
        self.counts = {"anomalous": m["anomalous"], "normal": m["normal"]}
        self.flagged = np.flatnonzero(self.scores > t)
        text = (f"threshold {shown}: {m['anomalous']} anomalous (score > threshold), "
                f"{m['normal']} normal")
        if len(self.score_sets) > 1:
            text = f"{self.current}: " + text
        if "precision" in m:
            text += (f" | precision {m['precision']:.3f} | recall {m['recall']:.3f} | "
                     f"F1 {m['f1']:.3f} | false positive rate {m['fpr']:.3f}")
        if self.roc_point is not None:
            self.roc_point.set_data([m["fpr"]], [m["recall"]])
            self.pr_point.set_data([m["recall"]], [m["precision"]])
        self.label_text = text


def threshold_range(scores: np.ndarray) -> tuple[float, float, float]:
    """``(min, max, step)`` of the threshold slider: the scores' own range in ``STEPS`` steps,
    from one step below the lowest score (days strictly above are flagged, so the slider's
    minimum flags every day) to the highest (flags none)."""
    lo, hi = float(scores.min()), float(scores.max())
    if hi - lo <= 1e-9 * max(abs(lo), abs(hi)):  # all equal: a window either side flags all or none
        pad = 0.01 * (abs(lo) or 1.0)
        lo, hi = lo - pad, hi + pad
    step = (hi - lo) / STEPS
    return lo - step, hi, step


def readout_digits(step: float) -> int:
    """Decimals that tell one slider step from the next (3 at least, 12 at most)."""
    return int(np.clip(np.ceil(-np.log10(step)), 3, 12))


def _score_sets(scores) -> dict[str, np.ndarray]:
    """``{name: (N,) float64}`` from one array or a mapping of named arrays, all checked."""
    named = dict(scores) if isinstance(scores, Mapping) else {"score": scores}
    if not named:
        raise ValueError("explore_anomalies expected scores, found an empty mapping")
    out = {}
    for name, values in named.items():
        s = np.asarray(numpy(values), dtype=np.float64).reshape(-1)
        if not np.isfinite(s).all() or s.size == 0:
            raise ValueError(f"explore_anomalies expected finite scores, found {s.size} values "
                             f"with {int((~np.isfinite(s)).sum())} NaN/inf ({name})")
        out[str(name)] = s
    sizes = {len(s) for s in out.values()}
    if len(sizes) > 1:
        raise ValueError(f"every detector needs one score a day; found lengths "
                         f"{ {k: len(v) for k, v in out.items()} }")
    return out


def explore_anomalies(scores, dataset=None, truth=None, threshold: float = 0.5,
                      n_gallery: int = 6, static: bool = False,
                      detector: str | None = None) -> AnomalyView:
    """Choose a threshold on ``scores`` (one per day, higher = more anomalous): histogram,
    counts, galleries of the extreme days of ``dataset``, and with ``truth`` (per-day SSW flags
    or the events dict) precision, recall and ROC / precision-recall curves at the threshold.

    ``scores`` may also map detector names to arrays (e.g. ``{"classifier": probs, "critic":
    d, "f-AnoGAN": a}``): a menu then switches detectors (``detector`` names the first shown),
    keeping the number of flagged days, and the ROC panel compares them all."""
    return AnomalyView(scores, dataset, truth, threshold=threshold, n_gallery=n_gallery,
                       static=static, detector=detector)
