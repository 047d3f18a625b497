"""Rider sessions for the exact engine: drawn, one by one, from the demand's expected flows.

The compile (`twin.runs.compile`) states the demand as `SessionFlows`: session starts per
second by device, live or on demand, per tick; the riders already riding when the run starts;
the live classes (a joiner's weight for each per tick, and when each ends); the on-demand
length law; the renditions each device's riders watch. `draw_sessions` turns that into a
`SessionTable` with its own random stream, so each replication rides its own riders: starts
are Poisson per tick (uniform within it), a live rider picks a class in proportion to its
joiners at that tick and rides to its end (saving the workout within `end_spread_s` after),
an on-demand rider rides a length from the library's law (length-biased with the remainder
left, for a rider already riding at t = 0). In expectation the table reproduces the flows
the fluid engine runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.sim.class_weights import ClassWeights

__all__ = ["SessionFlows", "SessionTable", "draw_sessions"]

LIVE, ON_DEMAND = 0, 1


@dataclass(frozen=True)
class SessionFlows:
    """The demand as the exact engine draws riders from it (arrays over ticks `t`).

    `starts[m, d, k]`: sessions per second of mode m (0 live, 1 on demand) on device d at
    tick k; `active0[m, d]`: riders in session at t = 0. `class_weight` (devices x classes x
    ticks, kept sparse): class c's share of device d's live joiners at tick k (any scale);
    `class_weight0[d, c]` the same for riders already in class at t = 0; `class_end_s[c]` its
    end. `od_pmf[j]`: chance an on-demand
    session lasts j minutes. `rendition_shares[d, r]`: device d's riders on rendition r;
    `telemetry[d]`: whether device d sends telemetry; `music_share`: the share of sessions
    playing music that follows cadence (they send `tempo` samples).
    """

    t: np.ndarray
    tick_s: float
    starts: np.ndarray
    active0: np.ndarray
    class_weight: ClassWeights
    class_weight0: np.ndarray
    class_end_s: np.ndarray
    od_pmf: np.ndarray
    rendition_shares: np.ndarray
    telemetry: np.ndarray
    end_spread_s: float = 60.0
    music_share: float = 0.0


@dataclass(frozen=True)
class SessionTable:
    """One row per session, sorted by start: when it starts, stops riding and saves its workout
    (s from t = 0; a session in progress at t = 0 starts at 0 and is flagged), whether it is
    live, whether its device sends telemetry, the rendition its player asks for, and whether
    it plays music that follows cadence."""

    start_s: np.ndarray
    end_s: np.ndarray
    save_s: np.ndarray
    live: np.ndarray
    telemetry: np.ndarray
    rendition: np.ndarray
    in_progress: np.ndarray
    music: np.ndarray

    def __len__(self) -> int:
        return len(self.start_s)


def _new_starts(flows: SessionFlows, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """(start time, mode, device, tick) of every session starting during the run."""
    counts = rng.poisson(np.maximum(flows.starts, 0.0) * flows.tick_s)
    mode, device, tick = (
        np.repeat(a, counts.ravel()) for a in np.indices(counts.shape).reshape(3, -1)
    )
    start = flows.t[tick] + rng.random(len(tick)) * flows.tick_s
    return start, mode, device, tick


def _pick(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row of `weights` (rows: draws), in proportion to the row; -1 where
    a row has no weight."""
    total = weights.sum(axis=1)
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * total
    picked = (cum <= u[:, None]).sum(axis=1)
    return np.where(total > 0, np.minimum(picked, weights.shape[1] - 1), -1)


def _live_ends(flows: SessionFlows, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """End of the class of a live session for each row of class weights (NaN where no class
    runs)."""
    if weights.shape[1] == 0:
        return np.full(len(weights), np.nan)
    cls = _pick(weights, rng)
    return np.where(cls >= 0, flows.class_end_s[np.maximum(cls, 0)], np.nan)


def _od_lengths(
    flows: SessionFlows, n: int, rng: np.random.Generator, *, biased: bool
) -> np.ndarray:
    minutes = np.arange(len(flows.od_pmf))
    p = flows.od_pmf * (minutes if biased else 1.0)
    p = p / p.sum()
    return rng.choice(minutes, size=n, p=p) * 60.0


def _in_progress(flows: SessionFlows, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """(end, live, device) of the riders already riding at t = 0."""
    counts = rng.poisson(np.maximum(flows.active0, 0.0))
    mode, device = (np.repeat(a, counts.ravel()) for a in np.indices(counts.shape).reshape(2, -1))
    live = mode == LIVE
    end = np.full(len(mode), np.nan)
    end[live] = _live_ends(flows, flows.class_weight0[device[live]], rng)
    od = np.isnan(end)
    end[od] = _od_lengths(flows, int(od.sum()), rng, biased=True) * (
        1.0 - rng.random(int(od.sum()))
    )
    return end, live & ~od, device


def _music(flows: SessionFlows, n: int, rng: np.random.Generator) -> np.ndarray:
    """Which sessions play music that follows cadence; drawn last, and only when some do, so
    a run without music keeps every other draw."""
    if flows.music_share <= 0:
        return np.zeros(n, bool)
    return rng.random(n) < flows.music_share


def draw_sessions(flows: SessionFlows, rng: np.random.Generator) -> SessionTable:
    """The sessions of one replication (see the module's docstring)."""
    start, mode, device, tick = _new_starts(flows, rng)
    live = mode == LIVE
    end = np.full(len(start), np.nan)
    end[live] = _live_ends(flows, flows.class_weight.rows(device[live], tick[live]), rng)
    od = np.isnan(end)  # on demand, and live starts with no class taking joiners
    end[od] = start[od] + _od_lengths(flows, int(od.sum()), rng, biased=False)
    live &= ~od
    end0, live0, device0 = _in_progress(flows, rng)
    n0 = len(end0)
    devices = np.concatenate((device0, device))
    ends = np.concatenate((end0, np.maximum(end, start)))
    lives = np.concatenate((live0, live))
    table = SessionTable(
        start_s=np.concatenate((np.zeros(n0), start)),
        end_s=ends,
        save_s=ends + lives * rng.random(len(ends)) * flows.end_spread_s,
        live=lives,
        telemetry=flows.telemetry[devices],
        rendition=_pick(flows.rendition_shares[devices], rng),
        in_progress=np.concatenate((np.ones(n0, bool), np.zeros(len(start), bool))),
        music=_music(flows, len(ends), rng),
    )
    order = np.argsort(table.start_s, kind="stable")
    return SessionTable(**{k: getattr(table, k)[order] for k in table.__dataclass_fields__})
