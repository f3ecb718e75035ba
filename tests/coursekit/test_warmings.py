"""Charlton & Polvani (2007) detection, wave diagnostics, events.csv I/O, event counts."""

from __future__ import annotations

import numpy as np
import pytest

from reference_solution.coursekit.stratosphere import make_grid
from reference_solution.coursekit.warmings import (
    EVENT_COLUMNS,
    detect_warmings,
    event_summary,
    read_events,
    wave_amplitudes,
    winter_events,
    write_events,
)


def _wind(spells: list[tuple[int, int]], days: int = 151) -> np.ndarray:
    """A westerly winter (20 m/s) with easterly (-5 m/s) days ``[start, end)`` for each spell."""
    u = np.full(days, 20.0)
    for start, end in spells:
        u[start:end] = -5.0
    return u


def test_single_event_flags_its_easterly_spell():
    assert winter_events(_wind([(50, 60)])) == [(50, 60)]
    ssw, central = detect_warmings(_wind([(50, 60)]), 151)
    assert central.sum() == 1 and central[50]
    assert np.array_equal(np.flatnonzero(ssw), np.arange(50, 60))


def test_events_need_twenty_westerly_days_between_them():
    # 19 westerly days between spells: the second reversal belongs to the first event.
    assert winter_events(_wind([(40, 45), (64, 70)])) == [(40, 45)]
    # exactly 20: a second event.
    assert winter_events(_wind([(40, 45), (65, 70)])) == [(40, 45), (65, 70)]


def test_a_short_westerly_break_does_not_reset_the_separation():
    # westerly 10 days, easterly 2 days, westerly 15 days: never 20 in a row, so one event.
    u = _wind([(40, 45), (55, 57), (72, 75)])
    assert winter_events(u) == [(40, 45)]


def test_final_warmings_are_excluded():
    assert winter_events(_wind([(120, 151)])) == []  # never recovers
    assert winter_events(_wind([(130, 142)])) == []  # recovers for 9 days only
    assert winter_events(_wind([(130, 141)])) == [(130, 141)]  # 10 days: a sudden warming
    # an early event still counts when the winter ends in a final warming
    assert winter_events(_wind([(30, 40), (120, 151)])) == [(30, 40)]


def test_detection_never_crosses_winters():
    u = np.concatenate([_wind([(140, 151)]), _wind([(0, 5)])])
    ssw, central = detect_warmings(u, 151)
    assert central.sum() == 1 and central[151]  # first winter: final warming; second: event
    with pytest.raises(ValueError, match="multiple of 151"):
        detect_warmings(np.zeros(100), 151)


def test_wave_amplitudes_recover_known_waves():
    grid = make_grid(64)
    field = 3.0 + 2.0 * np.cos(grid.lon - 0.4) + 0.5 * np.cos(2 * grid.lon - 1.0)
    amplitudes = wave_amplitudes(field)
    assert amplitudes.shape == (3,)
    np.testing.assert_allclose(amplitudes, [3.0, 2.0, 0.5], rtol=0.03)
    stacked = wave_amplitudes(np.stack([field, 2 * field]))
    assert stacked.shape == (2, 3)
    np.testing.assert_allclose(stacked[1], 2 * stacked[0], rtol=1e-9)


def test_event_summary_counts_and_shares():
    central = np.zeros(302, bool)
    central[[10, 100, 200]] = True
    kinds = np.full(302, "", dtype="<U12")
    kinds[[10, 100, 200]] = ["split", "displacement", "split"]
    summary = event_summary(central, kinds)
    assert summary["events"] == 3 and summary["winters"] == 2
    assert summary["events_per_winter"] == 1.5
    assert summary["split_share"] == pytest.approx(2 / 3)
    assert event_summary({"central": central, "event_type": kinds}, winters=3)["winters"] == 3
    assert np.isnan(event_summary(np.zeros(151, bool), np.full(151, ""))["split_share"])
    with pytest.raises(ValueError, match="event_type"):
        event_summary(central)


def test_events_csv_round_trip(tmp_path):
    dates = np.arange(np.datetime64("1980-11-01"), np.datetime64("1980-11-05"))
    ssw = np.array([0, 1, 1, 0], bool)
    central = np.array([0, 1, 0, 0], bool)
    kinds = np.array(["", "split", "split", ""])
    u60 = np.array([3.25, -1.5, -0.125, 4.0], np.float32)
    path = tmp_path / "events.csv"
    write_events(path, dates, ssw, central, kinds, u60)
    assert path.read_text().splitlines()[0] == ",".join(EVENT_COLUMNS)
    assert path.read_text().splitlines()[2] == "1980-11-02,1,1,split,-1.500"
    back = read_events(path)
    assert back["date"].dtype == np.dtype("datetime64[D]") and back["ssw"].dtype == bool
    assert back["u60"].dtype == np.float32
    for name, expected in zip(EVENT_COLUMNS, (dates, ssw, central, kinds, u60)):
        assert np.array_equal(back[name], expected), name


def test_read_events_names_the_file_on_bad_input(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("day,flag\n1980-11-01,0\n")
    with pytest.raises(ValueError, match="bad.csv"):
        read_events(path)
    path.write_text(",".join(EVENT_COLUMNS) + "\n1980-11-01,0,0\n")
    with pytest.raises(ValueError, match="line 2"):
        read_events(path)
