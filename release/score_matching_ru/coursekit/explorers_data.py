# GENERATED from reference_solution/coursekit/explorers_data.py by `python -m reference_solution release`; edit the original
"""The view of the data: ``explore_dataset`` (day slider, one-day buttons, date picker, ground
truth, wind at 60N).

Course support code (see ``widgets``): datasets are duck-typed (``len``, ``ds[i]`` a ``(2, S, S)``
day, optional ``.mask``), ground truth is an events table or arrays.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .plotting import CMAPS, draw_state
from .views import View, agg_figure, control, has_widgets, numpy


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
    """Day slider (+ one-day buttons, date picker) over pv and gh; ground truth and u60 when
    ``events`` exist."""

    name = "dataset"

    def __init__(self, ds, events=None, day: int = 0, static: bool = False):
        n = len(ds)
        if not 0 <= day < n:  # a slider would clip it silently and show another day
            raise ValueError(f"explore_dataset expected 0 <= day < {n} (the dataset's days), "
                             f"found day={day}")
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
        if has_widgets():  # the default ~120 px track moves ~7 days a pixel over 906 days
            self.day.layout.width = "100%"
        # A pixel of the slider is still about a day: these step exactly one.
        self.previous = control("Button", description="< previous day", tooltip="day - 1")
        self.next = control("Button", description="next day >", tooltip="day + 1")
        self.previous.on_click(lambda _: self.step_day(-1))
        self.next.on_click(lambda _: self.step_day(+1))
        self.controls = [self.day, self.previous, self.next]
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

    def step_day(self, delta: int) -> None:
        """Move ``delta`` days, held inside the dataset (what the previous / next buttons do)."""
        self.day.value = int(np.clip(int(self.day.value) + delta, 0, self.n - 1))

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
        self.previous.disabled, self.next.disabled = i == 0, i == self.n - 1
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
