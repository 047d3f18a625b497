"""Sessions a stale leaderboard spoils, in expectation, for the fluid engine.

The fluid engine has no sessions, only the flows they are drawn from (`SessionFlows`: starts
per tick by mode and device, each live class's joiners and end, the on-demand length law, the
riders already riding at t = 0). Given the ticks when the leaderboard was stale
(`twin.sim.leaderboard_stale.stale_by_tick`), a session riding from a to b is spoiled when the
stale time in [a, b) is `STALE_SHARE` or more of b - a (b cut at the run's end, as the exact
engine's riders stop polling there). The expected count sums that over the flows exactly as
`twin.sim.sessions.draw_sessions` draws them: a start in the middle of its tick, a live rider in
the class chosen in proportion to its joiners and riding to its end, an on-demand rider for a
length from the law, a rider riding at t = 0 for the remainder of a length-biased ride.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from twin.sim.leaderboard_stale import STALE_SHARE
from twin.sim.sessions import LIVE, ON_DEMAND, SessionFlows

__all__ = ["expected_sessions", "expected_stale_sessions"]

_RESIDUAL_POINTS = 32  # midpoints over the remainder's uniform share for riders at t = 0


class _StaleClock:
    """Stale seconds before any time of the run (piecewise linear over the ticks)."""

    def __init__(self, stale: np.ndarray, tick_s: float) -> None:
        self.edges = np.arange(len(stale) + 1) * tick_s
        self.stale_s = np.concatenate(([0.0], np.cumsum(stale) * tick_s))
        self.end = float(self.edges[-1])

    def spoiled(self, a: np.ndarray | float, b: np.ndarray) -> np.ndarray:
        """Whether riding from `a` to `b` saw the board stale for STALE_SHARE or more."""
        a, b = np.broadcast_arrays(np.asarray(a, float), np.minimum(b, self.end))
        stale = np.interp(b, self.edges, self.stale_s) - np.interp(a, self.edges, self.stale_s)
        length = b - a
        return (length > 0) & (stale > 0) & (stale >= STALE_SHARE * np.maximum(length, 1e-9))


def _normalized(weights: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(`weights` as shares along `axis`, whether there was any weight)."""
    total = weights.sum(axis=axis, keepdims=True)
    shares = np.divide(weights, total, out=np.zeros_like(weights, float), where=total > 0)
    return shares, np.squeeze(total > 0, axis=axis)


def _on_demand(clock: _StaleClock, flows: SessionFlows, starts: np.ndarray) -> float:
    """Expected spoiled sessions among `starts` (per tick) riding a length from the law."""
    a = flows.t + flows.tick_s / 2
    minutes = np.flatnonzero(flows.od_pmf > 0)
    p = flows.od_pmf[minutes] / flows.od_pmf.sum()
    hit = clock.spoiled(a[None, :], a[None, :] + minutes[:, None] * 60.0)
    return float(p @ hit @ starts)


def _live(clock: _StaleClock, flows: SessionFlows) -> tuple[float, np.ndarray]:
    """(expected spoiled live sessions, live starts per tick with no class: on demand)."""
    weights = flows.class_weight
    starts = flows.starts[LIVE] * flows.tick_s  # (device, tick)
    totals = weights.totals()  # (device, tick): every class's joiners
    a = flows.t + flows.tick_s / 2
    spoiled = 0.0
    for c, (lo, block) in enumerate(zip(weights.first, weights.blocks, strict=True)):
        hi = lo + block.shape[1]
        share = block / np.where(totals[:, lo:hi] > 0, totals[:, lo:hi], 1.0)
        hit = clock.spoiled(a[lo:hi], np.full(hi - lo, flows.class_end_s[c]))
        spoiled += float((share * starts[:, lo:hi]).sum(axis=0) @ hit)
    return spoiled, (starts * (totals <= 0)).sum(axis=0)


def _at_start(clock: _StaleClock, flows: SessionFlows) -> float:
    """Expected spoiled sessions among the riders riding at t = 0."""
    shares, any_class = _normalized(flows.class_weight0, axis=1)  # (device, class)
    live = flows.active0[LIVE] * any_class
    spoiled = float(live @ shares @ clock.spoiled(0.0, flows.class_end_s))
    od = float(flows.active0[ON_DEMAND].sum() + (flows.active0[LIVE] * ~any_class).sum())
    minutes = np.arange(len(flows.od_pmf))
    biased = flows.od_pmf * minutes
    if od <= 0 or biased.sum() <= 0:
        return spoiled
    u = (np.arange(_RESIDUAL_POINTS) + 0.5) / _RESIDUAL_POINTS
    hit = clock.spoiled(0.0, minutes[:, None] * 60.0 * (1.0 - u[None, :])).mean(axis=1)
    return spoiled + od * float(biased @ hit) / float(biased.sum())


def expected_stale_sessions(
    flows: SessionFlows, stale: np.ndarray, rode: np.ndarray | float = 1.0
) -> float:
    """Expected sessions whose leaderboard was stale for STALE_SHARE or more of their ride,
    among the starters of each tick who rode (`rode`: the share who joined)."""
    if not np.any(stale):
        return 0.0
    flows = replace(flows, starts=flows.starts * rode)
    clock = _StaleClock(np.asarray(stale, float), flows.tick_s)
    live, classless = _live(clock, flows)
    od_starts = flows.starts[ON_DEMAND].sum(axis=0) * flows.tick_s + classless
    return live + _on_demand(clock, flows, od_starts) + _at_start(clock, flows)


def expected_sessions(flows: SessionFlows) -> float:
    """Sessions the flows start during the run, with the riders riding at t = 0."""
    return float(flows.starts.sum() * flows.tick_s + flows.active0.sum())
