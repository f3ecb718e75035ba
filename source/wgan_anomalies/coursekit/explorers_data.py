# GENERATED from reference_solution/explorers_data.py by `python -m reference_solution sync-support`; edit the original
"""Views of the data and of a detector's scores: ``explore_dataset``, ``explore_anomalies``.

Course support code (see ``widgets``): datasets are duck-typed (``len``, ``ds[i]`` a ``(2, S, S)``
day, optional ``.mask``), scores and ground truth are arrays.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .plotting import CMAPS, close, draw_state, state_grid
from .widgets import View, agg_figure, control, has_widgets, numpy, png


def _events(events: Any, n_days: int) -> dict[str, np.ndarray]:
    if events is None:
        return {}
    if isinstance(events, (str, Path)):
        from .warmings import read_events  # only the wgan assignment ships ground truth
        events = read_events(events)
    out = {k: np.asarray(v) for k, v in dict(events).items()}
    for k, v in out.items():
        if len(v) != n_days:
            raise ValueError(f"events[{k!r}] has {len(v)} days but the dataset has {n_days}; "
                             "expected one row per day (events.csv of the same data)")
    return out


def _winter_span(dates: np.ndarray | None, day: int, n: int) -> tuple[int, int]:
    """First and one-past-last day of the run of consecutive dates holding ``day``."""
    if dates is None:
        return max(0, day - 75), min(n, day + 76)
    gaps = np.flatnonzero(np.diff(dates.astype("datetime64[D]").astype(np.int64)) != 1) + 1
    starts = np.concatenate([[0], gaps, [n]])
    k = np.searchsorted(starts, day, side="right") - 1
    return int(starts[k]), int(starts[k + 1])


class DatasetView(View):
    """Day slider (+ date picker) over pv and gh; ground truth and u60 when ``events`` exist."""

    name = "dataset"

    def __init__(self, ds, events=None, day: int = 0, static: bool = False):
        n = len(ds)
        self.ds, self.n = ds, n
        self.events = _events(events, n)
        self.dates = self.events.get("date")
        self.mask = None if getattr(ds, "mask", None) is None else numpy(ds.mask)
        u60 = self.events.get("u60")
        fig = agg_figure(6.4, 5.0 if u60 is not None else 3.2)
        rows = 2 if u60 is not None else 1
        grid = fig.add_gridspec(rows, 2, height_ratios=[3, 1.3][:rows])
        axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]
        first = numpy(ds[day])
        self.images = draw_state(axes, first, self.mask)
        for ax, im, name in zip(axes, self.images, ("pv", "gh")):
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=7)
            ax.set_title(f"{name} ({CMAPS[name]}, scaled to [0, 1])", fontsize=8)
        self.wind_axes = None
        if u60 is not None:
            ax = self.wind_axes = fig.add_subplot(grid[1, :])
            days = np.arange(n)
            ax.plot(days, u60, color="k", lw=1)
            ax.axhline(0, color="0.5", lw=0.8, ls=":")
            if "ssw" in self.events:
                ax.fill_between(days, 0, 1, where=self.events["ssw"].astype(bool), color="tab:red",
                                alpha=0.2, transform=ax.get_xaxis_transform(), label="SSW days")
                ax.legend(fontsize=7, loc="lower left")
            self.marker_line = ax.axvline(day, color="tab:blue", lw=1.5)
            (self.marker,) = ax.plot([day], [u60[day]], "o", color="tab:blue")
            ax.set_ylabel("u60 (m/s)", fontsize=8)
            ax.tick_params(labelsize=7)
        fig.tight_layout()
        super().__init__(fig, static)
        self.day = control("IntSlider", value=day, min=0, max=n - 1, description="day",
                           continuous_update=True)
        self.controls = [self.day]
        self.date = None
        if self.dates is not None and len(self.dates):
            self.date = control("DatePicker", value=self._date(day), description="date")
            self.date.observe(self._on_date, names="value")
            self.controls.append(self.date)
        self.animated = list(self.images)
        if self.wind_axes is not None:
            self.animated += [self.marker_line, self.marker]
        self._watch(self.day)
        self._finish()

    def background_key(self):
        return _winter_span(self.dates, int(self.day.value), self.n)

    def _date(self, day: int) -> datetime.date:
        return self.dates[day].astype("datetime64[D]").astype(datetime.date)

    def _on_date(self, change) -> None:
        if change["new"] is None:
            return
        target = np.datetime64(change["new"], "D")
        gaps = np.abs(self.dates.astype("datetime64[D]") - target).astype(np.int64)
        self.day.value = int(np.argmin(gaps))  # nearest day held (winters only)

    def key(self):
        return int(self.day.value)

    def compute(self) -> np.ndarray:
        return numpy(self.ds[int(self.day.value)])  # (2, S, S), already masked by the dataset

    def draw(self, item: np.ndarray) -> None:
        i = int(self.day.value)
        for im, field in zip(self.images, item):
            im.set_data(field if self.mask is None else np.ma.masked_where(self.mask < 0.5, field))
        parts = [f"day {i} of {self.n}"]
        if self.date is not None:
            parts.append(str(self.dates[i]))
            if self.date.value != self._date(i):
                self.date.value = self._date(i)
        if "ssw" in self.events:
            ssw = bool(self.events["ssw"][i])
            kind = str(self.events["event_type"][i]) if ssw and "event_type" in self.events else ""
            central = "central" in self.events and bool(self.events["central"][i])
            parts.append("SSW: " + ("yes" + (f" ({kind})" if kind else "")
                                    + (", central date" if central else "") if ssw else "no"))
        if self.wind_axes is not None:
            u = float(self.events["u60"][i])
            parts.append(f"u60 = {u:+.1f} m/s")
            self.marker_line.set_xdata([i, i])
            self.marker.set_data([i], [u])
            lo, hi = _winter_span(self.dates, i, self.n)
            self.wind_axes.set_xlim(lo - 0.5, hi - 0.5)
            self.wind_axes.set_title(f"zonal-mean wind at 60N, days {lo}-{hi - 1}", fontsize=8)
        self.item = item
        self.label_text = " | ".join(parts)


def explore_dataset(ds, events=None, day: int = 0, static: bool = False) -> DatasetView:
    """Browse ``ds`` day by day: pv and gh (masked), the date, and with ``events`` (the dict of
    ``read_events`` or the path of ``events.csv``) the SSW flag, event type and u60."""
    return DatasetView(ds, events, day=day, static=static)


class AnomalyView(View):
    """Threshold slider over a score histogram; counts, galleries and metrics at the threshold."""

    name = "anomalies"

    def __init__(self, scores, dataset=None, truth=None, threshold: float = 0.5,
                 n_gallery: int = 6, static: bool = False):
        self.scores = np.asarray(numpy(scores), dtype=np.float64).reshape(-1)
        if not np.isfinite(self.scores).all() or self.scores.size == 0:
            raise ValueError(f"explore_anomalies expected finite scores, found {self.scores.size} "
                             f"values with {int((~np.isfinite(self.scores)).sum())} NaN/inf")
        dates = None
        if isinstance(truth, Mapping):  # the events dict: its ssw flags and dates
            dates, truth = truth.get("date"), truth.get("ssw")
        self.truth = None if truth is None else np.asarray(truth).astype(bool).reshape(-1)
        if self.truth is not None and self.truth.shape != self.scores.shape:
            raise ValueError(f"truth has {self.truth.size} days, scores {self.scores.size}; "
                             "expected one flag per score")
        has_roc = self.truth is not None and 0 < self.truth.sum() < self.truth.size
        fig = agg_figure(10.5 if has_roc else 5.2, 3.0)
        axes = fig.subplots(1, 3 if has_roc else 1, squeeze=False)[0]
        ax = axes[0]
        s, lo, hi = self.scores, float(self.scores.min()), float(self.scores.max())
        if lo >= 0 and hi <= 1:
            lo, hi = 0.0, 1.0
        edges = np.linspace(lo, hi if hi > lo else lo + 1, 51)
        if self.truth is None:
            ax.hist(s, bins=edges, color="tab:blue", alpha=0.8)
        else:
            ax.hist(s[~self.truth], bins=edges, color="tab:blue", alpha=0.7, label="no SSW (truth)")
            ax.hist(s[self.truth], bins=edges, color="tab:red", alpha=0.7, label="SSW (truth)")
            ax.legend(fontsize=7)
        ax.set_yscale("log")
        ax.set_xlabel("score", fontsize=8)
        ax.set_ylabel("days", fontsize=8)
        self.hist_axes = ax
        self.line = ax.axvline(threshold, color="k", ls="--", lw=1)
        self.roc_point = self.pr_point = None
        self.roc_auc = self.average_precision = None
        if has_roc:
            from sklearn.metrics import (average_precision_score, precision_recall_curve,
                                         roc_auc_score, roc_curve)
            fpr, tpr, _ = roc_curve(self.truth, s)
            precision, recall, _ = precision_recall_curve(self.truth, s)
            self.roc_auc = float(roc_auc_score(self.truth, s))
            self.average_precision = float(average_precision_score(self.truth, s))
            axes[1].plot(fpr, tpr, color="k", lw=1)
            axes[1].plot([0, 1], [0, 1], color="0.6", ls=":", lw=0.8)
            (self.roc_point,) = axes[1].plot([0], [0], "o", color="tab:orange")
            axes[1].set(xlabel="false positive rate", ylabel="recall (true positive rate)",
                        title=f"ROC, AUC {self.roc_auc:.3f}")
            axes[2].plot(recall, precision, color="k", lw=1, drawstyle="steps-post")
            (self.pr_point,) = axes[2].plot([0], [0], "o", color="tab:orange")
            axes[2].set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.05),
                        title=f"precision-recall, AP {self.average_precision:.3f}")
            for a in axes[1:]:
                a.title.set_fontsize(9)
                a.xaxis.label.set_fontsize(8)
                a.yaxis.label.set_fontsize(8)
        fig.tight_layout()
        super().__init__(fig, static)
        step = (hi - lo) / 1000 if hi > lo else 1e-3
        self.threshold = control("FloatSlider", value=float(np.clip(threshold, lo, hi)), min=lo,
                                 max=hi, step=step, description="threshold",
                                 readout_format=".3f", continuous_update=True)
        self.controls = [self.threshold]
        self.top_days = np.argsort(-s, kind="stable")[:n_gallery]
        self.normal_days = np.argsort(s, kind="stable")[:n_gallery]
        self.gallery_top = self.gallery_normal = None
        if dataset is not None:
            self._galleries(dataset, dates)
        self.animated = [self.line, self.hist_axes.title]
        if self.roc_point is not None:
            self.animated += [self.roc_point, self.pr_point]
        self._watch(self.threshold)
        self._finish()

    def _galleries(self, dataset, dates) -> None:
        mask = None if getattr(dataset, "mask", None) is None else numpy(dataset.mask)
        frames = []
        for title, days in (("most anomalous days", self.top_days),
                            ("most normal days", self.normal_days)):
            labels = [(str(dates[i]) if dates is not None else f"day {i}")
                      + f" {self.scores[i]:.2f}" + (" SSW" if self.truth is not None
                                                      and self.truth[i] else "") for i in days]
            fig = state_grid(np.stack([numpy(dataset[int(i)]) for i in days]), mask, labels,
                             ncols=3, title=f"{title} (score)", panel=1.5)
            fig.set_dpi(70)
            frames.append(png(fig))
            close(fig)
        self.gallery_top = control("Image", value=frames[0], format="png")
        self.gallery_normal = control("Image", value=frames[1], format="png")
        if has_widgets():
            import ipywidgets as W

            self.extras = [W.HBox([self.gallery_top, self.gallery_normal],
                                  layout=W.Layout(flex_flow="row wrap"))]

    def key(self):
        return round(float(self.threshold.value), 9)

    def compute(self) -> dict:
        t = float(self.threshold.value)
        flagged = self.scores > t  # as detection.idx_anomalies: strictly above
        out: dict[str, Any] = {"threshold": t, "anomalous": int(flagged.sum()),
                               "normal": int((~flagged).sum())}
        if self.truth is not None:
            tp = int((flagged & self.truth).sum())
            fp = int((flagged & ~self.truth).sum())
            positives, negatives = int(self.truth.sum()), int((~self.truth).sum())
            out["precision"] = tp / (tp + fp) if tp + fp else 0.0
            out["recall"] = tp / positives if positives else 0.0
            out["fpr"] = fp / negatives if negatives else 0.0
            p, r = out["precision"], out["recall"]
            out["f1"] = 2 * p * r / (p + r) if p + r else 0.0
            out["roc_auc"], out["average_precision"] = self.roc_auc, self.average_precision
        return out

    def draw(self, m: dict) -> None:
        t = m["threshold"]
        self.line.set_xdata([t, t])
        self.hist_axes.set_title(f"threshold {t:.3f}: {m['anomalous']} anomalous, "
                                 f"{m['normal']} normal", fontsize=9)
        self.metrics = m
        self.counts = {"anomalous": m["anomalous"], "normal": m["normal"]}
        self.flagged = np.flatnonzero(self.scores > t)
        text = (f"threshold {t:.3f}: {m['anomalous']} anomalous (score > threshold), "
                f"{m['normal']} normal")
        if "precision" in m:
            text += (f" | precision {m['precision']:.3f} | recall {m['recall']:.3f} | "
                     f"F1 {m['f1']:.3f} | false positive rate {m['fpr']:.3f}")
        if self.roc_point is not None:
            self.roc_point.set_data([m["fpr"]], [m["recall"]])
            self.pr_point.set_data([m["recall"]], [m["precision"]])
        self.label_text = text


def explore_anomalies(scores, dataset=None, truth=None, threshold: float = 0.5,
                      n_gallery: int = 6, static: bool = False) -> AnomalyView:
    """Choose a threshold on ``scores`` (one per day, higher = more anomalous): histogram,
    counts, galleries of the extreme days of ``dataset``, and with ``truth`` (per-day SSW flags
    or the events dict) precision, recall and ROC / precision-recall curves at the threshold."""
    return AnomalyView(scores, dataset, truth, threshold=threshold, n_gallery=n_gallery,
                       static=static)
