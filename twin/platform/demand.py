"""Concurrent riders over time: diurnal and weekly curves, live classes, surges and growth.

The population is reduced once to a small table (segment x time zone x device x quarter hour
of preferred start, weighted by weekly rides), so the cost does not grow with time x riders.
From it, session starts per minute follow each zone's local clock. A share of starts joins
the live class of the nearest :00 or :30 slot, arriving in a spike around the class start
and staying to its end; the rest start on-demand classes whose lengths follow the library.
Surges multiply starts (ramp, hold, exponential decay), growth multiplies riders, and the
concurrency is capped at a fraction of riders. Everything is an expected value: the engines
add the randomness of arrivals.

ASSUMPTIONS (the seeds give none of these): a rider starts within about 45 min of their
preferred local hour; weekday factors; the live share per device; the join spike (most
riders join in the two minutes around the start, a quarter trickle in over ten minutes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from scipy.special import ndtr

from twin.config.platform import DemandSpec, Surge
from twin.config.vocabulary import DEVICES
from twin.platform.catalog import EQUIPMENT, LIVE_SLOT_S, Catalog, ClassInfo, live_duration_pmf
from twin.platform.cohorts import Cohorts
from twin.platform.population import ZONES, Population

__all__ = [
    "DEFAULT_LIVE_SHARE",
    "Demand",
    "LiveClassLoad",
    "class_joiners",
    "compute_demand",
    "join_cdf",
    "od_length_pmf",
    "surge_multiplier",
]

N_DEVICES = len(DEVICES)
_BINS_PER_DAY = 96  # quarter hours of preferred start
_MINUTES_PER_DAY = 1440
_START_SD_H = 0.75  # a rider starts within ~45 min (1 sd) of their preferred hour
# Monday..Sunday, local: busier at the start of the week and on Sunday, quiet on Friday.
_WEEKDAY = np.array([1.10, 1.05, 1.00, 0.95, 0.80, 1.00, 1.10])
_WEEKDAY = _WEEKDAY / _WEEKDAY.mean()
# Share of a device's sessions taken live (the rest on demand): live leaderboards are a bike
# and tread habit; app riders mostly take on-demand classes.
DEFAULT_LIVE_SHARE: dict[str, float] = {"bike": 0.35, "tread": 0.30, "app": 0.15}
# Join spike around a live class start: 75% ~ Normal(-20 s, 45 s); 25% late, Exp(mean 150 s).
_SPIKE_SHARE, _SPIKE_MEAN_S, _SPIKE_SD_S, _LATE_MEAN_S = 0.75, -20.0, 45.0, 150.0
_JOIN_WINDOW_S = (-300.0, 1200.0)
_END_SPREAD_S = 60.0  # riders save their workout within a minute of the class end
_WARM_S = 2 * 3600  # demand starts this long before t = 0 so sessions are in progress


@dataclass(frozen=True)
class LiveClassLoad:
    """One live class in the run: when it starts (s from t = 0), its length and riders (all
    devices, and by device in DEVICES order)."""

    class_id: str
    start_s: float
    duration_s: int
    riders: float
    by_device: tuple[float, ...] = ()


@dataclass(frozen=True)
class Demand:
    """Expected session flows per tick, by device (rows in DEVICES order).

    `starts_*` and `ends_*` are sessions per second during the tick; `active_*` riders in
    session at the tick's start. `t` holds tick starts in seconds from the scenario start.
    """

    t: np.ndarray
    tick_s: float
    starts_live: np.ndarray
    starts_od: np.ndarray
    ends_live: np.ndarray
    ends_od: np.ndarray
    active_live: np.ndarray
    active_od: np.ndarray
    live_classes: tuple[LiveClassLoad, ...]
    riders: np.ndarray  # riders on the platform per tick (growth)

    @property
    def active(self) -> np.ndarray:
        """Riders in session per tick (all devices, live and on demand)."""
        return self.active_live.sum(axis=0) + self.active_od.sum(axis=0)

    @property
    def starts(self) -> np.ndarray:
        return self.starts_live.sum(axis=0) + self.starts_od.sum(axis=0)

    @property
    def ends(self) -> np.ndarray:
        return self.ends_live.sum(axis=0) + self.ends_od.sum(axis=0)


def surge_multiplier(t_s: np.ndarray, surge: Surge) -> np.ndarray:
    """1 before the surge; ramps linearly to `multiplier`, holds to end_s, decays exponentially."""
    t = np.asarray(t_s, dtype=float)
    excess = surge.multiplier - 1.0
    ramp = (
        np.clip((t - surge.start_s) / surge.ramp_s, 0.0, 1.0)
        if surge.ramp_s > 0
        else (t >= surge.start_s)
    )
    shape = np.where(t <= surge.end_s, ramp, 0.0)
    if surge.decay_s > 0:
        held = (
            float(np.clip((surge.end_s - surge.start_s) / surge.ramp_s, 0, 1))
            if surge.ramp_s > 0
            else 1.0
        )
        after = held * np.exp(-np.maximum(t - surge.end_s, 0.0) / surge.decay_s)
        shape = np.where(t > surge.end_s, after, shape)
    return 1.0 + excess * shape


def join_cdf(tau_s: np.ndarray) -> np.ndarray:
    """Share of a live class's riders who have joined `tau_s` seconds after its start."""
    tau = np.asarray(tau_s, dtype=float)
    spike = ndtr((tau - _SPIKE_MEAN_S) / _SPIKE_SD_S)
    late = np.where(tau > 0, 1.0 - np.exp(-np.maximum(tau, 0.0) / _LATE_MEAN_S), 0.0)
    cdf = _SPIKE_SHARE * spike + (1.0 - _SPIKE_SHARE) * late
    lo, hi = _JOIN_WINDOW_S
    return np.where(tau < lo, 0.0, np.where(tau >= hi, 1.0, cdf))


def class_joiners(
    classes: Sequence[LiveClassLoad], t: np.ndarray, tick_s: float
) -> tuple[np.ndarray, tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """Each live class's joiners per tick by device, kept over the ticks it takes joiners
    (the first of them, and the devices x ticks block from there: a dense devices x classes x
    ticks array is gigabytes over weeks, `twin.sim.class_weights`), its riders already in
    class at t = 0 by device (devices x classes), and its end (s): the join curve
    `_place_class` spreads the class's riders by."""
    first, blocks = np.zeros(len(classes), np.int64), []
    at0, ends = np.zeros((N_DEVICES, len(classes))), np.zeros(len(classes))
    lo_s, hi_s = _JOIN_WINDOW_S
    for c, x in enumerate(classes):
        riders = np.asarray(x.by_device or [x.riders / N_DEVICES] * N_DEVICES)[:, None]
        ends[c] = x.start_s + x.duration_s
        # only the ticks around the join window can hold joiners (a tick's margin each side)
        a = int(np.searchsorted(t, x.start_s + lo_s - 2 * tick_s))
        b = int(np.searchsorted(t, min(x.start_s + hi_s, ends[c]) + tick_s, side="right"))
        span = t[a:b]
        row = (_joined(x, span + tick_s) - _joined(x, span)) * (span < ends[c])
        nonzero = np.flatnonzero(row)
        lo, hi = (int(nonzero[0]), int(nonzero[-1]) + 1) if nonzero.size else (0, 0)
        first[c] = a + lo
        blocks.append(riders * row[lo:hi])
        at0[:, c] = riders[:, 0] * float(_joined(x, np.zeros(1))[0]) * (ends[c] > 0)
    return first, tuple(blocks), at0, ends


def _joined(x: LiveClassLoad, t: np.ndarray) -> np.ndarray:
    """Share of class `x`'s riders joined by scenario time `t` (1 at the class end)."""
    norm = float(join_cdf(np.array([float(x.duration_s)]))[0])
    return join_cdf(np.minimum(t - x.start_s, x.duration_s)) / norm


def _preference_table(
    pop: Population | Cohorts, segment: np.ndarray | None, n_segments: int, scale: np.ndarray
) -> np.ndarray:
    """Weekly rides summed by (segment, zone, device, quarter hour of preferred start)."""
    if isinstance(pop, Cohorts):  # already summed so
        return pop.rides_by_hour * scale[:, None, None, None]
    if segment is None:
        segment = np.zeros(len(pop), dtype=np.uint8)
    hbin = np.minimum((pop.preferred_hour * 4).astype(np.int64), _BINS_PER_DAY - 1)
    idx = (
        (segment.astype(np.int64) * len(ZONES) + pop.zone) * N_DEVICES + pop.device
    ) * _BINS_PER_DAY + hbin
    weights = pop.weekly_rides.astype(np.float64) * scale[segment]
    size = n_segments * len(ZONES) * N_DEVICES * _BINS_PER_DAY
    table = np.bincount(idx, weights=weights, minlength=size)
    return table.reshape(n_segments, len(ZONES), N_DEVICES, _BINS_PER_DAY)


def _daily_profile(table: np.ndarray) -> np.ndarray:
    """Starts per minute of local day (an average day), from quarter-hour preferences."""
    centres = (np.arange(_BINS_PER_DAY) + 0.5) * 15.0
    minutes = np.arange(_MINUTES_PER_DAY) + 0.5
    gap = (minutes[None, :] - centres[:, None] + 720.0) % _MINUTES_PER_DAY - 720.0
    kernel = np.exp(-0.5 * (gap / (_START_SD_H * 60.0)) ** 2)
    kernel /= kernel.sum(axis=1, keepdims=True)  # each rider's day integrates to one start
    return table @ kernel / 7.0  # weekly rides -> starts per minute of an average day


def _local_clock(zone: str, minute0: datetime, n_minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """Local minute-of-day and weekday (0 = Monday) for each UTC minute of the grid."""
    tz = ZoneInfo(zone)
    hours = np.arange(0, n_minutes + 60, 60)
    offsets = np.array([_offset_s(minute0 + timedelta(minutes=int(h)), tz) for h in hours])
    offset_min = np.repeat(offsets // 60, 60)[:n_minutes].astype(np.int64)
    utc_minute = int(minute0.timestamp() // 60) + np.arange(n_minutes)
    local = utc_minute + offset_min
    weekday = ((local // _MINUTES_PER_DAY) + 3) % 7  # 1970-01-01 was a Thursday
    return local % _MINUTES_PER_DAY, weekday


def _offset_s(moment: datetime, tz: ZoneInfo) -> float:
    offset = moment.astimezone(tz).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def _starts_per_minute(
    profile: np.ndarray, minute0: datetime, n_minutes: int, seg_mult: np.ndarray
) -> np.ndarray:
    """Session starts per minute by (segment, device) over the grid, in each zone's local time."""
    out = np.zeros((profile.shape[0], N_DEVICES, n_minutes))
    for z, zone in enumerate(ZONES):
        minute, weekday = _local_clock(zone.tz, minute0, n_minutes)
        out += profile[:, z][:, :, minute] * _WEEKDAY[weekday]
    return out * seg_mult[:, None, :]


def od_length_pmf(catalog: Catalog, n_minutes: int = 120) -> np.ndarray:
    """Probability an on-demand session lasts k minutes, popularity-weighted over the library."""
    pmf = np.zeros(n_minutes + 1)
    for c in catalog.on_demand:
        pmf[min(c.duration_s // 60, n_minutes)] += c.popularity
    if pmf.sum() == 0:
        pmf[30] = 1.0
    return pmf / pmf.sum()


def _convolve_sessions(starts: np.ndarray, pmf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Active sessions and ends per minute from starts per minute and a duration pmf."""
    survival = 1.0 - np.cumsum(pmf)  # P(D > j): a session started in minute m is active at m + j
    n = starts.shape[-1]
    active = np.stack([np.convolve(row, survival)[:n] for row in starts.reshape(-1, n)])
    ends = np.stack([np.convolve(row, pmf)[:n] for row in starts.reshape(-1, n)])
    return active.reshape(starts.shape), ends.reshape(starts.shape)


def _growth(t_s: np.ndarray, spec: DemandSpec) -> np.ndarray:
    if spec.growth is None:
        return np.ones_like(t_s, dtype=float)
    g = spec.growth
    return np.asarray(g.factor ** np.clip(np.asarray(t_s, dtype=float) / g.over_s, 0.0, 1.0))


def _segment_multipliers(
    t_s: np.ndarray, segments: Sequence[str], spec: DemandSpec, surges: Sequence[Surge]
) -> np.ndarray:
    """Growth x surges for each segment at times `t_s` (seconds from the scenario start)."""
    mult = np.tile(_growth(t_s, spec), (len(segments), 1))
    for surge in surges:
        factor = surge_multiplier(t_s, surge)
        rows = range(len(segments)) if surge.segment is None else [segments.index(surge.segment)]
        for r in rows:
            mult[r] *= factor
    return mult


def _cap_concurrency(
    starts: np.ndarray, pmf: np.ndarray, riders: np.ndarray, cap: float
) -> np.ndarray:
    """Scale starts so riders in session never exceed `cap` x riders.

    Minute by minute, new starts fill only the room that sessions still in progress leave
    (a short loop over minutes, run only when the cap binds somewhere). Sessions are counted
    with the mean length mix (`pmf`); live classes last what their slot's classes last, so
    the cap holds to within the spread of an hour's class lengths (tests: within 30%).
    """
    total = starts.sum(axis=(0, 1))
    survival = 1.0 - np.cumsum(pmf)
    limit = cap * riders
    if np.all(np.convolve(total, survival)[: total.shape[0]] <= limit):
        return starts
    capped = total.copy()
    span = survival.shape[0]
    for m in range(total.shape[0]):
        lo = max(0, m - span + 1)
        carried = float(capped[lo:m] @ survival[m - lo : 0 : -1]) if m > lo else 0.0
        capped[m] = min(total[m], max(0.0, limit[m] - carried))
    factor = np.divide(capped, total, out=np.ones_like(total), where=total > 0)
    return starts * factor


def _device_type_shares(pop: Population | Cohorts, n_types: int) -> np.ndarray:
    """Share of each device's riders preferring each class type (rows: devices)."""
    if isinstance(pop, Cohorts):
        counts = pop.device_type_counts().astype(float)
    else:
        counts = np.bincount(
            pop.device.astype(np.int64) * n_types + pop.preferred_types,
            minlength=N_DEVICES * n_types,
        )
        counts = counts.reshape(N_DEVICES, n_types).astype(float)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)


def _class_split(classes: list[ClassInfo], catalog: Catalog, type_shares: np.ndarray) -> np.ndarray:
    """How each device's live joiners split between a slot's classes (devices x classes)."""
    weights = np.zeros((N_DEVICES, len(classes)))
    for c, info in enumerate(classes):
        needs = EQUIPMENT[info.type]
        for d, device in enumerate(DEVICES):
            if needs is None or needs == device:
                weights[d, c] = (
                    type_shares[d, catalog.type_index(info.type)] + 0.05
                ) * info.popularity
    totals = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)


def _live_flows(
    live_per_minute: np.ndarray,
    grid0: datetime,
    catalog: Catalog,
    type_shares: np.ndarray,
    ticks: np.ndarray,
    tick_s: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[LiveClassLoad]]:
    """Live joins, ends and riders per tick by device, and the riders of each class.

    `ticks` are tick starts in seconds from `grid0`. A slot's joiners are the live starts of
    the half hour around it; they arrive by `join_cdf` and all leave when the class ends.
    """
    n_min = live_per_minute.shape[1]
    starts = np.zeros((N_DEVICES, ticks.size))
    ends = np.zeros_like(starts)
    active = np.zeros_like(starts)
    loads: list[LiveClassLoad] = []
    slot_minutes = range(
        int(-(-grid0.timestamp() // LIVE_SLOT_S) * LIVE_SLOT_S - grid0.timestamp()) // 60, n_min, 30
    )
    for m in slot_minutes:
        joiners = live_per_minute[:, max(m - 15, 0) : m + 15].sum(axis=1)
        slot = grid0 + timedelta(minutes=m)
        classes = catalog.live_schedule(slot, slot + timedelta(seconds=1))
        split = _class_split(classes, catalog, type_shares) * joiners[:, None]
        for c, info in enumerate(classes):
            _place_class(
                split[:, c], m * 60.0, info.duration_s, ticks, tick_s, (starts, ends, active)
            )
            loads.append(
                LiveClassLoad(
                    info.id,
                    m * 60.0,
                    info.duration_s,
                    float(split[:, c].sum()),
                    tuple(float(x) for x in split[:, c]),
                )
            )
    return starts, ends, active, loads


def _place_class(
    riders: np.ndarray,
    start: float,
    duration: int,
    ticks: np.ndarray,
    tick_s: float,
    out: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Add one class's joins (spread by join_cdf), riders and ends onto the tick arrays.

    Riders stop watching when the class ends; their sessions end (the workout is saved)
    spread evenly over the next `_END_SPREAD_S`, as they cool down and tap "end".
    """
    starts, ends, active = out
    end = start + duration
    lo = int(np.searchsorted(ticks, start + _JOIN_WINDOW_S[0] - tick_s))
    hi = int(np.searchsorted(ticks, end + _END_SPREAD_S + tick_s))
    if lo >= hi:
        return
    t = ticks[lo:hi]
    norm = float(join_cdf(np.array([duration]))[0])
    joined = join_cdf(np.minimum(t - start, duration)) / norm
    joined_next = join_cdf(np.minimum(t + tick_s - start, duration)) / norm
    inside = t < end
    starts[:, lo:hi] += riders[:, None] * ((joined_next - joined) * inside / tick_s)
    active[:, lo:hi] += riders[:, None] * (joined * inside)
    overlap = np.clip(np.minimum(t + tick_s, end + _END_SPREAD_S) - np.maximum(t, end), 0.0, None)
    ends[:, lo:hi] += riders[:, None] * (overlap / _END_SPREAD_S / tick_s)


def _per_tick(per_minute: np.ndarray, ticks_s: np.ndarray) -> np.ndarray:
    """Linear interpolation of per-minute values (minute centres) at tick times."""
    centres = (np.arange(per_minute.shape[-1]) + 0.5) * 60.0
    flat = per_minute.reshape(-1, per_minute.shape[-1])
    return np.stack([np.interp(ticks_s, centres, row) for row in flat]).reshape(
        *per_minute.shape[:-1], ticks_s.size
    )


@dataclass(frozen=True)
class _Grid:
    """The per-minute grid demand is computed on: from `grid0` (warm-up before t = 0)."""

    grid0: datetime
    offset: float  # grid seconds at scenario t = 0
    n_min: int

    @classmethod
    def around(cls, start_utc: datetime, duration_s: float) -> _Grid:
        grid0 = datetime.fromtimestamp((start_utc.timestamp() - _WARM_S) // 60 * 60, tz=UTC)
        offset = start_utc.timestamp() - grid0.timestamp()
        return cls(grid0, offset, int(np.ceil((offset + duration_s) / 60.0)) + 1)

    @property
    def minutes_t(self) -> np.ndarray:
        """Scenario time (s) of each minute's centre."""
        return (np.arange(self.n_min) + 0.5) * 60.0 - self.offset


def _live_shares(spec: DemandSpec) -> np.ndarray:
    given = spec.live_share or DEFAULT_LIVE_SHARE
    return np.array([given.get(d, DEFAULT_LIVE_SHARE[d]) for d in DEVICES])


def _capped_starts(
    starts: np.ndarray, pmf: np.ndarray, share: np.ndarray, riders: np.ndarray, cap: float
) -> np.ndarray:
    """Starts per (device, minute) after the concurrency cap, segments summed."""
    by_device = starts.sum(axis=(0, 2))
    live_part = float(share @ by_device / by_device.sum()) if by_device.sum() > 0 else 0.0
    session_pmf = (1.0 - live_part) * pmf + live_part * live_duration_pmf(pmf.size - 1)
    return _cap_concurrency(starts, session_pmf, riders, cap).sum(axis=0)


def _minute_starts(
    population: Population | Cohorts,
    spec: DemandSpec,
    grid: _Grid,
    surges: Sequence[Surge],
    segment: np.ndarray | None,
    segments: Sequence[str],
    rides_scale: Sequence[float] | None,
) -> np.ndarray:
    """Session starts per (segment, device, minute) before the cap."""
    scale = np.asarray(rides_scale or [1.0] * len(segments), dtype=float) * spec.weekly_rides_scale
    profile = _daily_profile(_preference_table(population, segment, len(segments), scale))
    mult = _segment_multipliers(grid.minutes_t, list(segments), spec, surges)
    return _starts_per_minute(profile, grid.grid0, grid.n_min, mult)


def compute_demand(
    population: Population | Cohorts,
    catalog: Catalog,
    spec: DemandSpec,
    *,
    start_utc: datetime,
    duration_s: float,
    tick_s: float = 1.0,
    surges: Sequence[Surge] = (),
    segment: np.ndarray | None = None,
    segments: Sequence[str] = ("riders",),
    segment_rides_scale: Sequence[float] | None = None,
) -> Demand:
    """Expected session flows per tick for `population` from `start_utc` for `duration_s`.

    `segment` gives each rider's segment (index into `segments`); surges may target one.
    """
    if start_utc.tzinfo is None:
        raise ValueError("start_utc must be timezone-aware")
    grid = _Grid.around(start_utc, duration_s)
    raw = _minute_starts(population, spec, grid, surges, segment, segments, segment_rides_scale)
    pmf, share = od_length_pmf(catalog, 120), _live_shares(spec)
    riders_min = len(population) * _growth(grid.minutes_t, spec)
    starts = _capped_starts(raw, pmf, share, riders_min, spec.max_concurrent_fraction)
    od_starts = starts * (1.0 - share)[:, None]
    od_active, od_ends = _convolve_sessions(od_starts, pmf)
    t = np.arange(int(np.ceil(duration_s / tick_s))) * tick_s
    ticks = t + grid.offset
    type_shares = _device_type_shares(population, len(catalog.types))
    live = _live_flows(starts * share[:, None], grid.grid0, catalog, type_shares, ticks, tick_s)
    end = grid.offset + duration_s
    loads = tuple(
        LiveClassLoad(x.class_id, x.start_s - grid.offset, x.duration_s, x.riders, x.by_device)
        for x in live[3]
        # every class with riders in the run: in class, joining early, or still saving
        if x.start_s + x.duration_s + _END_SPREAD_S > grid.offset
        and x.start_s + _JOIN_WINDOW_S[0] < end
    )
    return Demand(
        t=t,
        tick_s=float(tick_s),
        starts_live=live[0],
        starts_od=_per_tick(od_starts, ticks) / 60.0,
        ends_live=live[1],
        ends_od=_per_tick(od_ends, ticks) / 60.0,
        active_live=live[2],
        active_od=_per_tick(od_active, ticks),
        live_classes=loads,
        riders=len(population) * _growth(t, spec),
    )
