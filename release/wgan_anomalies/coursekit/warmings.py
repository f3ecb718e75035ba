# GENERATED from reference_solution/coursekit/warmings.py by `python -m reference_solution release`; edit the original
"""Sudden stratospheric warmings by the Charlton & Polvani (2007) definition.

An event's central date is the first day the zonal-mean zonal wind at 60N, 10 hPa (``u60``)
turns easterly. Another event counts only after the wind has been westerly for 20 consecutive
days, and an event whose wind never returns westerly for 10 consecutive days before the end of
the winter is a final warming, not a sudden one, and is dropped (C&P use April 30 as the end;
the course winters end on March 31, so this is stricter for late events).

This module is course support code: it is copied next to student notebooks, so it imports only
numpy and the standard library.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

MIN_SEPARATION = 20  # westerly days needed between two events (C&P 2007)
MIN_RECOVERY = 10  # westerly days needed before the winter ends, else a final warming
EVENT_TYPES = ("displacement", "split")
EVENT_COLUMNS = ("date", "ssw", "central", "event_type", "u60")  # header of events.csv


def _first_westerly_run(westerly: np.ndarray, start: int, length: int) -> int | None:
    """Index of the first day >= ``start`` that begins ``length`` consecutive westerly days."""
    run = 0
    for day in range(start, westerly.size):
        run = run + 1 if westerly[day] else 0
        if run == length:
            return day - length + 1
    return None


def winter_events(u60: np.ndarray) -> list[tuple[int, int]]:
    """C&P events of one winter as ``(central, end)`` day indices.

    ``u60`` is ``(T,)``, the wind of consecutive days of one winter. ``end`` is one past the last
    day of the easterly spell that starts at ``central`` (the days a course file flags as SSW).
    """
    u60 = np.asarray(u60, dtype=np.float64)
    westerly = u60 >= 0.0
    events: list[tuple[int, int]] = []
    day = 0
    while day < u60.size:
        if westerly[day]:
            day += 1
            continue
        end = day
        while end < u60.size and not westerly[end]:
            end += 1
        # A wind that never recovers for MIN_RECOVERY days is the seasonal final warming; every
        # later reversal is part of it too, so the search stops.
        if _first_westerly_run(westerly, end, MIN_RECOVERY) is None:
            break
        events.append((day, end))
        gap = _first_westerly_run(westerly, end, MIN_SEPARATION)
        if gap is None:
            break
        day = gap + MIN_SEPARATION
    return events


def detect_warmings(u60: np.ndarray, days_per_winter: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-day ``(ssw, central)`` boolean flags of ``u60`` ``(W * days_per_winter,)``.

    Winters are treated independently: an easterly spell never continues into the next winter.
    """
    u60 = np.asarray(u60)
    if u60.ndim != 1 or u60.size % days_per_winter:
        raise ValueError(f"u60 must be 1-D with a multiple of {days_per_winter} days; "
                         f"found shape {u60.shape}")
    ssw = np.zeros(u60.size, dtype=bool)
    central = np.zeros(u60.size, dtype=bool)
    for first in range(0, u60.size, days_per_winter):
        for start, end in winter_events(u60[first:first + days_per_winter]):
            central[first + start] = True
            ssw[first + start:first + end] = True
    return ssw, central


def wave_amplitudes(field: np.ndarray, lat: float = 60.0, waves: int = 2,
                    points: int | None = None) -> np.ndarray:
    """Amplitudes of zonal waves 0..``waves`` of gridded fields on the ``lat`` circle.

    ``field`` is ``(S, S)`` or ``(N, S, S)`` on the course grid (pole at the centre, 40N touching
    the edge); any affine rescaling of the field (e.g. the [0, 1] course files) only rescales
    waves >= 1, so their ratios are unchanged. The circle is sampled by bilinear interpolation.
    Returns ``(N, waves + 1)`` (or ``(waves + 1,)``); wave 0 is the circle mean.
    """
    field = np.asarray(field, dtype=np.float64)
    single = field.ndim == 2
    field = field[None] if single else field
    size = field.shape[-1]
    points = points or max(64, 4 * size)
    # Stereographic radius of the circle in units of the disk radius (the 40N circle).
    radius = np.tan(np.radians(90.0 - lat) / 2) / np.tan(np.radians(25.0))
    lon = 2 * np.pi * np.arange(points) / points
    col = (radius * np.cos(lon) + 1) * size / 2 - 0.5  # pixel-centre coordinates
    row = (1 - radius * np.sin(lon)) * size / 2 - 0.5
    c0, r0 = np.floor(col).astype(int), np.floor(row).astype(int)
    fc, fr = col - c0, row - r0
    samples = (field[:, r0, c0] * (1 - fr) * (1 - fc) + field[:, r0, c0 + 1] * (1 - fr) * fc
               + field[:, r0 + 1, c0] * fr * (1 - fc) + field[:, r0 + 1, c0 + 1] * fr * fc)
    spectrum = np.abs(np.fft.rfft(samples, axis=-1))[:, :waves + 1] / points
    spectrum[:, 1:] *= 2  # one-sided spectrum: a cosine of amplitude A shows as A/2 per side
    return spectrum[0] if single else spectrum


def event_summary(data: Any, event_type: np.ndarray | None = None,
                  winters: int | None = None, days_per_winter: int = 151) -> dict[str, float]:
    """Counts of events: ``events``, ``winters``, ``events_per_winter``, ``split_share``.

    ``data`` is a ``Stratosphere``, the dict of ``read_events``, or the per-day ``central`` flags
    (then ``event_type`` is required). ``winters`` defaults to days / ``days_per_winter``.
    """
    if isinstance(data, Mapping):
        central, event_type = data["central"], data["event_type"]
    elif hasattr(data, "central") and hasattr(data, "event_type"):
        central, event_type = data.central, data.event_type
    else:
        if event_type is None:
            raise ValueError("event_summary needs event_type when given the central flags alone")
        central = data
    central = np.asarray(central, dtype=bool)
    event_type = np.asarray(event_type)
    if winters is None:
        winters = central.size // days_per_winter
    kinds = event_type[central]
    events = int(central.sum())
    return {
        "events": events,
        "winters": int(winters),
        "events_per_winter": events / max(int(winters), 1),
        "split_share": float(np.mean(kinds == "split")) if events else float("nan"),
        "displacements": int(np.sum(kinds == "displacement")),
        "splits": int(np.sum(kinds == "split")),
    }


def write_events(path: str | Path, dates: np.ndarray, ssw: np.ndarray, central: np.ndarray,
                 event_type: np.ndarray, u60: np.ndarray) -> None:
    """Write ``events.csv``: one row per day, ``date,ssw,central,event_type,u60``."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EVENT_COLUMNS)
        writer.writerows(zip(np.asarray(dates, "datetime64[D]").astype(str),
                             np.asarray(ssw, bool).astype(int), np.asarray(central, bool).astype(int),
                             event_type, (f"{u:.3f}" for u in np.asarray(u60, np.float64))))


def read_events(path: str | Path) -> dict[str, np.ndarray]:
    """The columns of an ``events.csv``: date (datetime64[D]), ssw and central (bool),
    event_type (str), u60 (float32, m/s)."""
    path = Path(path)
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = tuple(next(reader, ()))
        if header != EVENT_COLUMNS:
            raise ValueError(f"{path} has header {','.join(header)!r}; expected "
                             f"{','.join(EVENT_COLUMNS)!r}")
        rows = list(reader)
    bad = [i + 2 for i, row in enumerate(rows) if len(row) != len(EVENT_COLUMNS)]
    if bad:
        raise ValueError(f"{path} line {bad[0]} has the wrong number of fields; expected "
                         f"{len(EVENT_COLUMNS)} ({','.join(EVENT_COLUMNS)})")
    columns = list(zip(*rows)) if rows else [()] * len(EVENT_COLUMNS)
    return {
        "date": np.array(columns[0], dtype="datetime64[D]"),
        "ssw": np.array(columns[1], dtype=np.int8).astype(bool),
        "central": np.array(columns[2], dtype=np.int8).astype(bool),
        "event_type": np.array(columns[3], dtype="<U12"),
        "u60": np.array(columns[4], dtype=np.float32),
    }
