# GENERATED from reference_solution/coursekit/stratosphere.py by `python -m reference_solution release`; edit the original
"""The synthetic 10 hPa winter stratosphere: daily fields plus the ground truth they lack.

Each winter (Nov 1 - Mar 31, 151 days; Feb 29 is skipped so every winter has the same length)
is a sum of fixed spatial patterns with daily coefficients, ``Z(t, x) = sum_k c_k(t) B_k(x)``:
a constant (the height on 40N), a polar low (``-h``, zero on 40N, one at the pole) whose depth
follows a seasonal cycle, planetary waves 1 and 2 and small waves 3-4 whose amplitudes and
phases are red noise. A sudden warming is a pulse that amplifies wave 1 (displacement) or wave 2
(split) and then collapses the polar low, which recovers exponentially over weeks.

Because the field is linear in its coefficients, everything derived from it is exact and cheap:
the gridded height is one matrix product, the quasi-geostrophic PV ``q = f + (g/f0) lap(Z)`` is
``f + (g/f0) C @ lap(B)`` with the spherical Laplacian taken by finite differences on the
stereographic grid (map factor included), and the geostrophic wind at 60N is the same ``Z``
evaluated on circles at 60N +- 0.25 deg (waves average out of a zonal mean). Labels therefore do
not depend on the grid size: one seed gives the same events at 32 and 256 pixels.

Scaling: each field is mapped to [0, 1] by its min and max over the disk and the whole set;
pixels outside the disk (south of 40N, where heights keep rising) are clipped to [0, 1].
Calibration: forced warmings are scheduled by a seeded low-discrepancy sequence (about 0.75 a
winter, 46% of them wave-2), about 15% fail to reverse the wind, and C&P detection on the
resulting winds gives 0.61 events a winter and 47% splits over 500 winters (seed 0).

The grid is ``polar_grid``; writing the fields as course files is ``synthetic_files``. Course
support code: numpy, the standard library, tqdm and sibling support modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .polar_grid import (  # noqa: F401
    EARTH_RADIUS,
    EDGE_LAT,
    F0,
    GRAVITY,
    OMEGA,
    Grid,
    coriolis,
    disk_mask,
    make_grid,
    sphere_laplacian,
)
from .warmings import (  # noqa: F401
    EVENT_COLUMNS,
    detect_warmings,
    event_summary,
    read_events,
    wave_amplitudes,
    winter_events,
    write_events,
)

DAYS_PER_WINTER = 151
_GOLDEN = (np.sqrt(5.0) - 1) / 2  # Weyl-sequence step: the most evenly spread irrational


@dataclass(frozen=True)
class StratosphereConfig:
    """Physics knobs of the synthetic stratosphere (defaults calibrated to C&P 2007 figures)."""

    first_year: int = 1979  # the first winter is Nov first_year - Mar first_year + 1
    z_ring: float = 31_000.0  # m, zonal-mean height on 40N
    ring_noise: float = 40.0  # m, red-noise spread of the 40N height (moves the whole field)
    vortex_depth: float = 2_400.0  # m, pole-to-40N drop of the zonal mean at the seasonal peak
    edge_lat: float = 68.0  # deg, latitude of the vortex edge (steepest height gradient)
    edge_width: float = 0.06  # width of the edge in sin(lat); smaller = sharper PV edge
    edge_share: float = 0.3  # share of the drop taken at the edge; the rest is a broad slope
    season_peak: float = 68.0  # day of the strongest vortex (Jan 7)
    season_width: float = 75.0  # days, e-folding half-width of the Gaussian seasonal cycle
    winter_spread: float = 0.08  # interannual relative spread of the vortex strength
    strength_noise: float = 0.08  # red-noise spread of the relative vortex strength
    strength_tau: float = 10.0  # days, decorrelation time of that noise
    wave_lat: float = 60.0  # deg, where planetary waves peak (their amplitude is quoted there)
    wave_width: float = 0.2  # latitudinal half-width of the waves in sin(lat)
    wave1: float = 350.0  # m, median background wave-1 amplitude at 60N
    wave2: float = 150.0  # m, median background wave-2 amplitude at 60N
    wave_spread: float = 0.4  # log-normal spread of the background wave amplitudes
    wave_tau: float = 8.0  # days, decorrelation time of the wave amplitudes
    wave1_phase: float = 2.6  # rad, climatological longitude of the wave-1 ridge (~150E)
    wave2_phase: float = 0.6  # rad, climatological longitude of a wave-2 ridge
    phase_spread: float = 0.5  # rad, red-noise spread of the wave phases
    phase_tau: float = 10.0  # days, decorrelation time of the phases
    small_waves: float = 50.0  # m, spread of the waves 3-4 that make day-to-day noise
    small_tau: float = 2.0  # days, decorrelation time of waves 3-4
    forcing_rate: float = 0.72  # scheduled forced warmings per winter (low-discrepancy schedule)
    extra_rate: float = 0.03  # chance per winter of one more forcing, drawn independently
    split_share: float = 0.46  # share of forcings that amplify wave 2
    forcing_days: tuple[float, float] = (15.0, 130.0)  # window of forcing peaks (Beta(2, 2) in it)
    depth_ratio: tuple[float, float] = (0.95, 1.7)  # polar-low collapse / vortex strength; < 1 fails
    rise_days: tuple[float, float] = (4.0, 10.0)  # days the collapse takes
    recovery_days: tuple[float, float] = (20.0, 40.0)  # e-folding time of the vortex recovery
    displacement_amplitude: tuple[float, float] = (800.0, 1300.0)  # m, forced wave-1 peak
    split_amplitude: tuple[float, float] = (600.0, 1000.0)  # m, forced wave-2 peak
    wave_decay: tuple[float, float] = (5.0, 10.0)  # days, e-folding decay of the forced wave
    wave_lead: float = 2.0  # days the wave peak leads the collapse peak (waves drive the warming)
    suppression: float = 0.8  # how much a forced wave damps the other planetary wave
    easterly_limit: float = 0.5  # floor of the relative strength (caps easterlies near 20 m/s)


@dataclass
class Stratosphere:
    """An in-memory synthetic data set (N = winters * 151 days)."""

    pv: np.ndarray  # (N, S, S) float32, QG PV scaled to [0, 1] over the disk, clipped outside
    gh: np.ndarray  # (N, S, S) float32, height scaled the same way
    mask: np.ndarray  # (S, S) float32, 1 inside the 40N disk
    dates: np.ndarray  # (N,) datetime64[D]
    ssw: np.ndarray  # (N,) bool, day in a C&P easterly spell (central date to wind turning back)
    central: np.ndarray  # (N,) bool, C&P central dates
    event_type: np.ndarray  # (N,) str, 'displacement' | 'split' on ssw days, '' otherwise
    u60: np.ndarray  # (N,) float32, zonal-mean geostrophic zonal wind at 60N, m/s
    winter: np.ndarray  # (N,) int, winter index of each day
    gh_range: tuple[float, float] = field(default=(0.0, 1.0))  # metres mapped to 0 and 1
    pv_range: tuple[float, float] = field(default=(0.0, 1.0))  # 1/s mapped to 0 and 1

    # Physical fields are recovered from the scaled ones rather than stored twice; exact to
    # float32 rounding inside the disk (outside, the scaled fields were clipped).
    @property
    def gh_m(self) -> np.ndarray:
        """(N, S, S) float32 height in metres (valid inside the disk)."""
        return self.gh * np.float32(self.gh_range[1] - self.gh_range[0]) + np.float32(self.gh_range[0])

    @property
    def pv_si(self) -> np.ndarray:
        """(N, S, S) float32 QG PV in 1/s (valid inside the disk)."""
        return self.pv * np.float32(self.pv_range[1] - self.pv_range[0]) + np.float32(self.pv_range[0])


# ----------------------------------------------------------------------------- basis patterns


def _polar_low(lat_deg: np.ndarray, cfg: StratosphereConfig) -> np.ndarray:
    """``h``: 0 on 40N, 1 at the pole; a broad slope plus a tanh edge, both smooth in sin(lat)."""
    def raw(lat):
        s = np.sin(np.radians(lat))
        broad = (s - np.sin(np.radians(EDGE_LAT))) / (1 - np.sin(np.radians(EDGE_LAT)))
        edge = np.tanh((s - np.sin(np.radians(cfg.edge_lat))) / cfg.edge_width)
        return (1 - cfg.edge_share) * broad + cfg.edge_share * edge
    lo, hi = raw(EDGE_LAT), raw(90.0)
    return (raw(lat_deg) - lo) / (hi - lo)


def _wave_shape(lat_deg: np.ndarray, m: int, cfg: StratosphereConfig) -> np.ndarray:
    """Latitudinal structure of wave ``m``: 1 at ``wave_lat``, vanishing like cos(lat)^m at the pole."""
    def raw(lat):
        s, c = np.sin(np.radians(lat)), np.cos(np.radians(lat))
        return c ** m * np.exp(-((s - np.sin(np.radians(cfg.wave_lat))) / cfg.wave_width) ** 2)
    return raw(lat_deg) / raw(cfg.wave_lat)


def basis(lat_deg: np.ndarray, lon: np.ndarray, cfg: StratosphereConfig) -> np.ndarray:
    """The ``K = 10`` spatial patterns at the given points -> ``(10, *lat.shape)``.

    Order: constant, ``-h`` (polar low), then cos/sin of waves 1, 2, 3, 4.
    """
    patterns = [np.ones_like(lat_deg), -_polar_low(lat_deg, cfg)]
    for m in (1, 2, 3, 4):
        shape = _wave_shape(lat_deg, m, cfg)
        patterns += [shape * np.cos(m * lon), shape * np.sin(m * lon)]
    return np.stack(patterns)


def wind_per_coefficient(cfg: StratosphereConfig, points: int = 360, dlat: float = 0.25) -> np.ndarray:
    """``(K,)`` zonal-mean geostrophic wind at 60N (m/s) per unit coefficient of each pattern.

    ``u = -(g / f a) dZ/dlat``, the zonal mean taken on ``points`` longitudes and the derivative
    by a centred difference over +- ``dlat`` degrees of the same analytic field.
    """
    lon = 2 * np.pi * np.arange(points) / points
    north = basis(np.full(points, 60.0 + dlat), lon, cfg).mean(axis=1)
    south = basis(np.full(points, 60.0 - dlat), lon, cfg).mean(axis=1)
    dz_dlat = (north - south) / np.radians(2 * dlat)
    return -GRAVITY / (F0 * EARTH_RADIUS) * dz_dlat


# ----------------------------------------------------------------------------- one winter


def winter_dates(winter: int, cfg: StratosphereConfig) -> np.ndarray:
    """``(151,)`` datetime64[D]: Nov 1 to Mar 31 of winter ``winter``, Feb 29 left out."""
    year = cfg.first_year + winter
    days = np.arange(np.datetime64(f"{year}-11-01"), np.datetime64(f"{year + 1}-04-01"))
    return days[np.char.endswith(days.astype(str), "-02-29") == False]  # noqa: E712


def _red_noise(rng: np.random.Generator, days: int, tau: float, shape: tuple = ()) -> np.ndarray:
    """``(days, *shape)`` stationary unit-variance AR(1) (a sampled Ornstein-Uhlenbeck process)."""
    rho = np.exp(-1.0 / tau)
    eps = rng.standard_normal((days, *shape))
    out = np.empty_like(eps)
    out[0] = eps[0]
    for t in range(1, days):
        out[t] = rho * out[t - 1] + np.sqrt(1 - rho ** 2) * eps[t]
    return out


def _scheduled_kinds(winter: int, seed: int, cfg: StratosphereConfig) -> list[str]:
    """Types of the scheduled forcings of ``winter``.

    A seeded Weyl sequence (``floor(w * rate + u0)`` forcings before winter ``w``; type split
    when ``frac(j * golden + v0) < split_share`` for the j-th forcing) spreads forcings and types
    evenly over any run of winters, so 30 winters already show the calibrated frequency and split
    share; it needs only the winter index, so chunked generation stays exact.
    """
    u0, v0 = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))).random(2)
    first = int(np.floor(winter * cfg.forcing_rate + u0))
    last = int(np.floor((winter + 1) * cfg.forcing_rate + u0))
    return ["split" if (j * _GOLDEN + v0) % 1.0 < cfg.split_share else "displacement"
            for j in range(first, last)]


@dataclass
class _Winter:
    coefficients: np.ndarray  # (T, K) daily coefficients of the basis patterns
    u60: np.ndarray  # (T,) m/s
    ssw: np.ndarray  # (T,) bool
    central: np.ndarray  # (T,) bool
    event_type: np.ndarray  # (T,) '<U12'
    forced_kinds: list[str]  # types of this winter's forcings, whether or not they reversed u60


def _pulse(t: np.ndarray, peak: float, rise: float, decay: float) -> np.ndarray:
    """0 before ``peak - rise``, a sin^2 rise to 1 at ``peak``, exponential decay after."""
    up = np.sin(np.pi / 2 * np.clip((t - peak + rise) / rise, 0.0, 1.0)) ** 2
    return np.where(t <= peak, up, np.exp(-(t - peak) / decay))


def _winter(winter: int, seed: int, cfg: StratosphereConfig, wind: np.ndarray) -> _Winter:
    """Daily coefficients and C&P labels of one winter, from its own seeded stream."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, winter)))
    t = np.arange(DAYS_PER_WINTER, dtype=np.float64)
    kinds = _scheduled_kinds(winter, seed, cfg)
    extra, extra_split = rng.random(2)
    if extra < cfg.extra_rate:
        kinds.append("split" if extra_split < cfg.split_share else "displacement")

    base = np.exp(-((t - cfg.season_peak) / cfg.season_width) ** 2)
    base *= 1 + cfg.winter_spread * rng.standard_normal()
    strength = base + cfg.strength_noise * _red_noise(rng, t.size, cfg.strength_tau)
    log_amp = cfg.wave_spread * _red_noise(rng, t.size, cfg.wave_tau, (2,))
    amp = np.array([cfg.wave1, cfg.wave2]) * np.exp(log_amp)  # (T, 2) background waves 1, 2
    phase = np.array([cfg.wave1_phase, cfg.wave2_phase]) + cfg.phase_spread * _red_noise(
        rng, t.size, cfg.phase_tau, (2,))
    small = cfg.small_waves * _red_noise(rng, t.size, cfg.small_tau, (4,))
    ring = cfg.z_ring + cfg.ring_noise * _red_noise(rng, t.size, cfg.strength_tau)

    collapse = np.zeros((len(kinds), t.size))  # (F, T) polar-low collapse of each forcing
    for k, kind in enumerate(kinds):
        peak = cfg.forcing_days[0] + np.diff(cfg.forcing_days)[0] * rng.beta(2.0, 2.0)
        ratio, rise, recovery, decay = (rng.uniform(*r) for r in (
            cfg.depth_ratio, cfg.rise_days, cfg.recovery_days, cfg.wave_decay))
        forced = rng.uniform(*(cfg.split_amplitude if kind == "split"
                               else cfg.displacement_amplitude))
        collapse[k] = ratio * base[int(round(peak))] * _pulse(t, peak, rise, recovery)
        wave = _pulse(t, peak - cfg.wave_lead, rise + 3.0, decay)
        m = 1 if kind == "split" else 0
        amp[:, 1 - m] *= 1 - cfg.suppression * wave
        amp[:, m] += forced * wave
    strength -= collapse.sum(axis=0)
    # Overlapping collapses would add up to unphysical easterlies; a tanh floor keeps the sign
    # (so the labels) and bounds the magnitude.
    negative = strength < 0
    strength[negative] = -cfg.easterly_limit * np.tanh(-strength[negative] / cfg.easterly_limit)

    coefficients = np.column_stack([
        ring, cfg.vortex_depth * strength,
        amp[:, 0] * np.cos(phase[:, 0]), amp[:, 0] * np.sin(phase[:, 0]),
        amp[:, 1] * np.cos(2 * phase[:, 1]), amp[:, 1] * np.sin(2 * phase[:, 1]), small])
    u60 = coefficients @ wind

    ssw = np.zeros(t.size, dtype=bool)
    central = np.zeros(t.size, dtype=bool)
    event_type = np.full(t.size, "", dtype="<U12")
    for start, end in winter_events(u60):
        # The forcing whose collapse is strongest on the central date made the event; a reversal
        # no forcing explains (noise on a weak vortex) takes its type from the waves that day.
        if kinds and collapse[:, start].max() > 0.05:
            kind = kinds[int(np.argmax(collapse[:, start]))]
        else:
            kind = "split" if amp[start, 1] > amp[start, 0] else "displacement"
        central[start] = True
        ssw[start:end] = True
        event_type[start:end] = kind
    return _Winter(coefficients, u60.astype(np.float32), ssw, central, event_type, kinds)


class _Fields:
    """Basis patterns on one grid, turning daily coefficients into height and PV."""

    def __init__(self, size: int, cfg: StratosphereConfig):
        if size < 8:
            raise ValueError(f"size must be at least 8 pixels; found {size}")
        padded = make_grid(size, pad=1)
        patterns = basis(padded.lat, padded.lon, cfg)  # (K, S+2, S+2)
        k = patterns.shape[0]
        self.size = size
        self.height = patterns[:, 1:-1, 1:-1].reshape(k, -1).astype(np.float32)  # (K, S*S)
        laplacian = sphere_laplacian(patterns, size).reshape(k, -1)  # (K, S*S) 1/m^2 per unit
        self.laplacian = laplacian.astype(np.float32)
        self.f = coriolis(make_grid(size).lat).reshape(-1).astype(np.float32)  # (S*S,)
        self.disk = disk_mask(size).reshape(-1) > 0

    def fill(self, coefficients: np.ndarray, gh: np.ndarray, pv: np.ndarray) -> None:
        """Write height (m) and QG PV (1/s) of ``(T, K)`` coefficients into ``(T, S, S)`` float32
        arrays (or memmap slices); float32 keeps heights to ~1 cm and halves the memory traffic."""
        c32 = coefficients.astype(np.float32)
        days = coefficients.shape[0]
        gh[...] = (c32 @ self.height).reshape(days, self.size, self.size)
        q = c32 @ self.laplacian
        q *= np.float32(GRAVITY / F0)
        q += self.f
        pv[...] = q.reshape(days, self.size, self.size)

    def extremes(self, field: np.ndarray) -> tuple[float, float]:
        """Min and max over the disk of ``(T, S, S)`` fields."""
        flat = field.reshape(field.shape[0], -1)
        return float(flat.min(axis=0)[self.disk].min()), float(flat.max(axis=0)[self.disk].max())


def rescale(field: np.ndarray, low: float, high: float) -> None:
    """Map ``[low, high]`` to ``[0, 1]`` in place (float32); values outside the range, only
    pixels outside the disk where heights keep rising south of 40N, are clipped."""
    field -= np.float32(low)
    field /= np.float32(high - low)
    np.maximum(field, np.float32(0.0), out=field)
    np.minimum(field, np.float32(1.0), out=field)


def _fill_scaled(gh: np.ndarray, pv: np.ndarray, winters: int, seed: int,
                 cfg: StratosphereConfig, fields: _Fields, bar) -> tuple[list[_Winter], dict]:
    """Generate winter by winter into ``(N, S, S)`` arrays, then rescale them in place.

    ``generate`` (arrays) and ``write_course_files`` (memmaps) both run this, one winter at a
    time with the same float32 operations, so their outputs agree bit for bit.
    """
    wind = wind_per_coefficient(cfg)
    ranges = {"gh": (np.inf, -np.inf), "pv": (np.inf, -np.inf)}
    parts = []
    for w in range(winters):
        part = _winter(w, seed, cfg, wind)
        span = slice(w * DAYS_PER_WINTER, (w + 1) * DAYS_PER_WINTER)
        windows = {"gh": gh[span], "pv": pv[span]}
        fields.fill(part.coefficients, windows["gh"], windows["pv"])
        for name, window in windows.items():
            low, high = fields.extremes(window)
            ranges[name] = (min(ranges[name][0], low), max(ranges[name][1], high))
        del windows
        parts.append(part)
        bar.update(1)
    for w in range(winters):
        span = slice(w * DAYS_PER_WINTER, (w + 1) * DAYS_PER_WINTER)
        rescale(gh[span], *ranges["gh"])
        rescale(pv[span], *ranges["pv"])
        bar.update(1)
    return parts, ranges


# ----------------------------------------------------------------------------- public API


def generate(winters: int = 30, size: int = 64, seed: int = 0,
             config: StratosphereConfig = StratosphereConfig(), progress: bool = False) -> Stratosphere:
    """Generate ``winters`` winters on a ``size x size`` grid in memory (for small sizes;
    use ``write_course_files`` for the full 256 px data)."""
    if winters < 1:
        raise ValueError(f"winters must be at least 1; found {winters}")
    fields = _Fields(size, config)
    days = winters * DAYS_PER_WINTER
    gh = np.empty((days, size, size), dtype=np.float32)
    pv = np.empty((days, size, size), dtype=np.float32)
    bar = _progress(progress, 2 * winters, "stratosphere")
    parts, ranges = _fill_scaled(gh, pv, winters, seed, config, fields, bar)
    bar.close()
    return Stratosphere(
        pv=pv, gh=gh, mask=disk_mask(size),
        dates=np.concatenate([winter_dates(w, config) for w in range(winters)]),
        ssw=np.concatenate([p.ssw for p in parts]),
        central=np.concatenate([p.central for p in parts]),
        event_type=np.concatenate([p.event_type for p in parts]),
        u60=np.concatenate([p.u60 for p in parts]),
        winter=np.repeat(np.arange(winters), DAYS_PER_WINTER),
        gh_range=ranges["gh"], pv_range=ranges["pv"])


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(enabled: bool, total: int, desc: str):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="pass")
