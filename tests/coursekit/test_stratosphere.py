"""The synthetic stratosphere: geometry, physics, labels, calibration and the course files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reference_solution.coursekit.course_files import EVENTS_FILE, GH_FILE, PV_FILE, find_course_files, mask_file
from reference_solution.coursekit.stratosphere import (
    DAYS_PER_WINTER,
    EARTH_RADIUS,
    F0,
    GRAVITY,
    StratosphereConfig,
    coriolis,
    disk_mask,
    event_summary,
    generate,
    make_grid,
    read_events,
    sphere_laplacian,
    wave_amplitudes,
)
from reference_solution.coursekit.synthetic_files import write_course_files


@pytest.fixture(scope="module")
def data64():
    return generate(winters=30, size=64, seed=0)


@pytest.fixture(scope="module")
def data32():
    return generate(winters=4, size=32, seed=0)


# ----------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("size", [32, 64])
def test_mask_is_the_inscribed_disk(size):
    mask = disk_mask(size)
    assert mask.shape == (size, size) and mask.dtype == np.float32
    centre = (np.arange(size) + 0.5 - size / 2)
    inside = np.hypot(*np.meshgrid(centre, centre)) <= size / 2
    assert np.array_equal(mask > 0, inside)
    assert mask[size // 2, 0] == 1 and mask[size // 2, -1] == 1 and mask[0, size // 2] == 1
    assert mask[0, 0] == 0 and mask[-1, -1] == 0
    assert mask.mean() == pytest.approx(np.pi / 4, abs=0.02)


def test_grid_puts_the_pole_at_the_centre_and_40n_at_the_edge():
    grid = make_grid(64)
    assert grid.lat.max() > 88.5 and np.unravel_index(grid.lat.argmax(), grid.lat.shape) in {
        (31, 31), (31, 32), (32, 31), (32, 32)}
    edge = grid.lat[32, 0]  # pixel centre half a pixel inside the edge
    assert 40.0 < edge < 41.0
    assert grid.lat[disk_mask(64) > 0].min() > 40.0
    assert grid.lon[32, -1] == pytest.approx(0.0, abs=0.05)  # 0 to the right, pi/2 up
    assert grid.lon[0, 32] == pytest.approx(np.pi / 2, abs=0.05)


@pytest.mark.parametrize("degree, field", [
    (1, lambda lat, lon: np.sin(lat)),  # Y_1^0
    (2, lambda lat, lon: np.sin(lat) * np.cos(lat) * np.cos(lon)),  # Y_2^1
    (3, lambda lat, lon: np.cos(lat) ** 2 * np.sin(lat) * np.sin(2 * lon)),  # Y_3^2
])
def test_sphere_laplacian_matches_spherical_harmonics(degree, field):
    errors = []
    for size in (32, 64):
        grid = make_grid(size, pad=1)
        z = field(np.radians(grid.lat), grid.lon)
        exact = -degree * (degree + 1) / EARTH_RADIUS ** 2 * z[1:-1, 1:-1]
        inside = disk_mask(size) > 0
        error = np.abs(sphere_laplacian(z, size) - exact)[inside].max()
        errors.append(error / np.abs(exact[inside]).max())
    assert errors[1] < 0.01
    assert errors[1] < errors[0] / 3  # second-order convergence


# ----------------------------------------------------------------------------- arrays


@pytest.mark.parametrize("fixture, size, winters", [("data32", 32, 4), ("data64", 64, 30)])
def test_shapes_dtypes_and_ranges(request, fixture, size, winters):
    data = request.getfixturevalue(fixture)
    days = winters * DAYS_PER_WINTER
    for name in ("pv", "gh"):
        array = getattr(data, name)
        assert array.shape == (days, size, size) and array.dtype == np.float32
        assert array.min() == 0.0 and array.max() == 1.0
        inside = array[:, data.mask > 0]
        assert inside.min() == 0.0 and inside.max() == 1.0  # scaled over the disk
    assert data.mask.shape == (size, size)
    assert data.dates.shape == (days,) and data.dates.dtype == np.dtype("datetime64[D]")
    for name in ("ssw", "central"):
        assert getattr(data, name).shape == (days,) and getattr(data, name).dtype == bool
    assert data.event_type.shape == (days,) and data.event_type.dtype.kind == "U"
    assert data.u60.shape == (days,) and data.u60.dtype == np.float32


def test_dates_are_nov_to_mar_without_feb_29(data64):
    winters = data64.dates.reshape(30, DAYS_PER_WINTER).astype(str)
    assert winters[0, 0] == "1979-11-01" and winters[0, -1] == "1980-03-31"
    assert all(w[0].endswith("-11-01") and w[-1].endswith("-03-31") for w in winters)
    assert not np.any(np.char.endswith(winters, "-02-29"))


def test_same_seed_same_bytes_other_seed_differs(data32):
    again = generate(winters=4, size=32, seed=0)
    for name in ("pv", "gh", "u60", "ssw", "central", "event_type", "dates"):
        assert np.array_equal(getattr(again, name), getattr(data32, name)), name
    assert again.pv.tobytes() == data32.pv.tobytes()
    other = generate(winters=4, size=32, seed=1)
    assert not np.array_equal(other.gh, data32.gh)
    assert not np.array_equal(other.u60, data32.u60)


def test_each_winter_is_its_own_stream_and_labels_do_not_depend_on_size(data32, data64):
    prefix = generate(winters=2, size=32, seed=0)
    assert np.array_equal(prefix.u60, data32.u60[:2 * DAYS_PER_WINTER])
    assert np.array_equal(prefix.event_type, data32.event_type[:2 * DAYS_PER_WINTER])
    # the winds come from the analytic field at 60N, so 32 and 64 px share their labels
    assert np.array_equal(data32.u60, data64.u60[:4 * DAYS_PER_WINTER])


def test_config_is_frozen_and_bad_sizes_are_refused():
    with pytest.raises(dataclasses.FrozenInstanceError):
        StratosphereConfig().z_ring = 0.0
    with pytest.raises(ValueError, match="size"):
        generate(winters=1, size=4)
    with pytest.raises(ValueError, match="winters"):
        generate(winters=0, size=32)


# ----------------------------------------------------------------------------- course files


def test_chunked_files_equal_in_memory_generation(tmp_path, data32, capsys):
    files = write_course_files(tmp_path, winters=4, size=32, seed=0, progress=False)
    assert capsys.readouterr().err == ""  # progress=False is silent
    assert files.pv.name == PV_FILE and files.gh.name == GH_FILE
    assert files.mask.name == mask_file(32) and files.events.name == EVENTS_FILE
    assert find_course_files(tmp_path) == files
    assert not list(tmp_path.glob("*.partial"))
    pv = np.load(files.pv, mmap_mode="r")
    assert pv.dtype == np.float32 and pv.shape == data32.pv.shape
    assert np.array_equal(pv, data32.pv)
    assert np.array_equal(np.load(files.gh), data32.gh)
    assert np.array_equal(np.load(files.mask), data32.mask)
    events = read_events(files.events)
    assert np.array_equal(events["date"], data32.dates)
    for name in ("ssw", "central", "event_type"):
        assert np.array_equal(events[name], getattr(data32, name)), name
    np.testing.assert_allclose(events["u60"], data32.u60, atol=6e-4)
    assert event_summary(events) == event_summary(data32)


# ----------------------------------------------------------------------------- physics


def test_pv_is_quasi_geostrophic_pv_of_the_height(data64):
    size = 64
    gh, pv = data64.gh_m[::7].astype(np.float64), data64.pv_si[::7].astype(np.float64)
    grid = make_grid(size)
    # An independent 5-point Laplacian of the written height on the interior pixels, times the
    # squared stereographic map factor.
    flat = (gh[:, 2:, 1:-1] + gh[:, :-2, 1:-1] + gh[:, 1:-1, 2:] + gh[:, 1:-1, :-2]
            - 4 * gh[:, 1:-1, 1:-1]) / grid.spacing ** 2
    relative = flat * grid.map_factor[1:-1, 1:-1] ** 2
    anomaly = (pv - coriolis(grid.lat))[:, 1:-1, 1:-1] * F0 / GRAVITY
    # pixels whose neighbours all lie in the disk (outside it the scaled files are clipped)
    interior = grid.radius[1:-1, 1:-1] < 1 - 2 / size
    a, b = anomaly[:, interior], relative[:, interior]
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.999
    day_a, day_b = a - a.mean(0), b - b.mean(0)  # day-to-day anomalies too
    assert np.corrcoef(day_a.ravel(), day_b.ravel())[0, 1] > 0.99
    np.testing.assert_allclose(a, b, atol=2e-3 * np.abs(b).max())


def test_polar_low_means_high_pv_at_the_pole(data64):
    quiet = ~data64.ssw
    grid = make_grid(64)
    pole, ring = grid.radius < 0.1, (grid.radius > 0.9) & (grid.radius <= 1)
    assert data64.gh[quiet][:, pole].mean() < data64.gh[quiet][:, ring].mean() - 0.2
    assert data64.pv[quiet][:, pole].mean() > data64.pv[quiet][:, ring].mean() + 0.1


def test_heights_sit_between_28_and_31_5_km_at_the_ring(data64):
    grid = make_grid(64)
    gh = data64.gh_m
    ring = gh[:, (grid.radius > 0.95) & (grid.radius <= 1)].mean(axis=1)  # 40-41N zonal mean
    assert 30_500 < ring.min() and ring.max() < 31_500
    cap = gh[~data64.ssw][:, grid.radius < 0.2].mean(axis=1)  # polar low on quiet days
    assert 27_500 < cap.min() and cap.mean() < 30_000
    assert 27_500 < data64.gh_range[0] and data64.gh_range[1] < 33_500


def test_u60_labels_agree_with_the_gridded_height(data64):
    north = wave_amplitudes(data64.gh_m, lat=60.5, waves=0)[:, 0]
    south = wave_amplitudes(data64.gh_m, lat=59.5, waves=0)[:, 0]
    u_grid = -GRAVITY / (F0 * EARTH_RADIUS) * (north - south) / np.radians(1.0)
    assert np.abs(u_grid - data64.u60).max() < 1.5
    clear = np.abs(data64.u60) > 1.5
    assert np.array_equal(u_grid[clear] < 0, data64.u60[clear] < 0)


def test_seasonal_cycle_peaks_in_midwinter(data64):
    u = data64.u60.reshape(30, DAYS_PER_WINTER)
    nov, jan, mar = u[:, :30].mean(), u[:, 61:92].mean(), u[:, 120:].mean()
    assert jan > nov and jan > mar and 25 < jan < 55 and mar > 5


# ----------------------------------------------------------------------------- labels


def test_calibration_over_30_winters(data64):
    summary = event_summary(data64)
    assert 0.45 <= summary["events_per_winter"] <= 0.75, summary
    assert 0.30 <= summary["split_share"] <= 0.60, summary


def test_calibration_over_500_winters():
    summary = event_summary(generate(winters=500, size=8, seed=7))
    assert summary["events_per_winter"] == pytest.approx(0.6, abs=0.07), summary
    assert summary["split_share"] == pytest.approx(0.46, abs=0.07), summary


def test_flags_are_easterly_spells(data64):
    assert np.all(data64.u60[data64.ssw] < 0)
    assert np.all(data64.ssw[data64.central])
    assert np.array_equal(data64.event_type != "", data64.ssw)
    assert set(np.unique(data64.event_type[data64.ssw])) <= {"displacement", "split"}
    starts = np.flatnonzero(data64.ssw & ~np.roll(data64.ssw, 1))
    assert np.array_equal(starts, np.flatnonzero(data64.central))  # one spell per event


def test_central_dates_are_separated_and_not_final_warmings(data64):
    u = data64.u60.reshape(30, DAYS_PER_WINTER)
    central = data64.central.reshape(30, DAYS_PER_WINTER)
    spell = data64.ssw.reshape(30, DAYS_PER_WINTER)
    for w in range(30):
        days = np.flatnonzero(central[w])
        for first, second in zip(days, days[1:]):
            assert second - first >= 20
            westerly = u[w, first:second] >= 0
            runs = np.diff(np.flatnonzero(np.concatenate([[True], ~westerly, [True]]))) - 1
            assert runs.max() >= 20  # the wind was westerly 20 days in a row in between
        for day in days:
            end = day + np.flatnonzero(~spell[w, day:])[0]
            westerly = np.concatenate([u[w, end:] >= 0, [False]])
            runs = np.diff(np.flatnonzero(~np.concatenate([[False], westerly]))) - 1
            assert runs.max() >= 10  # recovered before the winter ended: not a final warming


def test_event_types_show_in_the_waves(data64):
    amplitudes = wave_amplitudes(data64.gh[data64.central])  # (E, 3) waves 0, 1, 2 on 60N
    kinds = data64.event_type[data64.central]
    field_kind = np.where(amplitudes[:, 2] > amplitudes[:, 1], "split", "displacement")
    assert np.mean(field_kind == kinds) >= 0.8
    quiet = wave_amplitudes(data64.gh[~data64.ssw][::5])
    assert np.median(amplitudes[kinds == "displacement", 1]) > 2 * np.median(quiet[:, 1])
    assert np.median(amplitudes[kinds == "split", 2]) > 2 * np.median(quiet[:, 2])


def test_warming_days_differ_from_climatology(data64):
    grid = make_grid(64)
    cap = grid.radius < 0.3
    gh_cap = data64.gh[:, cap].mean(axis=1)
    pv_cap = data64.pv[:, cap].mean(axis=1)
    assert gh_cap[data64.ssw].mean() > gh_cap[~data64.ssw].mean() + 0.15  # the cap warms
    assert pv_cap[data64.ssw].mean() < pv_cap[~data64.ssw].mean() - 0.05  # the vortex weakens


def test_rewriting_a_folder_at_another_size_removes_the_stale_mask(tmp_path):
    from reference_solution.coursekit.course_files import find_course_files

    write_course_files(tmp_path, winters=1, size=16, seed=0, progress=False)
    write_course_files(tmp_path, winters=1, size=32, seed=0, progress=False)
    assert find_course_files(tmp_path).mask.name == "mask_32.npy"
