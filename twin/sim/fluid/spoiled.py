"""Sessions the fluid engine's riders lived through: how many, and how many were spoiled.

The exact engine counts spoiled sessions rider by rider (`twin.sim.exact.rider_experience`):
the rider gave up joining, lost the stream for good, or had `SPOILED_STALL_SHARE` or more of
their segments stall. Here the same counts, in expectation:

- sessions: the session starts of the run, plus the riders riding at t = 0;
- gave up joining: the first joins' give-ups; lost the stream: the reconnects' give-ups
  (`twin.sim.fluid.reconnects`);
- stalled: a session's segments stall independently with the chance of the ticks they fall
  in (the stall chance per tick, `Reconnects.stall`, plus the share of riders away
  reconnecting); a session of n segments whose mean chance is q is spoiled with the binomial
  chance of at least max(share x n, 1) stalls, summed over the sessions starting at each
  minute by their lengths (a live rider rides to the end of the class they join; an
  on-demand one a length from the library's law; a rider riding at t = 0 the rest of a
  class, or half an on-demand length). Sessions of riders who gave up are left out.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from twin.sim.sessions import LIVE, SessionFlows

__all__ = ["SPOILED_STALL_SHARE", "session_count", "stalled_sessions"]

SPOILED_STALL_SHARE = 0.10  # a session with this share of its segments stalled is spoiled
_STEP_S = 60.0  # sessions are grouped by the minute they start


def session_count(flows: SessionFlows) -> float:
    """Expected sessions of the run: the starts, and the riders riding at t = 0."""
    return float(np.maximum(flows.starts, 0.0).sum() * flows.tick_s + flows.active0.sum())


def stalled_sessions(
    flows: SessionFlows, stall: np.ndarray, segment_s: float, rode: np.ndarray
) -> float:
    """Expected sessions with `SPOILED_STALL_SHARE` or more of their segments stalled, given
    the chance a segment stalls per tick and the share of each tick's starters who joined
    (the first join, or one of its retries, answered)."""
    tick = float(flows.tick_s)
    ticks = len(stall)
    area = np.concatenate(([0.0], np.cumsum(np.clip(stall, 0.0, 1.0))))
    step = max(1, round(_STEP_S / tick))
    groups = np.arange(0, ticks, step)
    starts = np.add.reduceat(np.maximum(flows.starts, 0.0) * rode, groups, axis=2) * tick
    total = 0.0
    od_ticks, od_weight = _od_lengths(flows, tick)
    for g, k in enumerate(groups.tolist()):
        live = _live_lengths(flows, starts[LIVE, :, g], k)
        od = float(starts[:, :, g].sum()) - float(live[1].sum())
        total += _spoiled(area, k, live[0], live[1], segment_s, tick)
        total += _spoiled(area, k, od_ticks, od * od_weight, segment_s, tick)
    total += _at_start(flows, area, od_ticks, od_weight, segment_s, tick)
    return total


def _spoiled(
    area: np.ndarray, k: int, lengths: np.ndarray, counts: np.ndarray, segment_s: float, tick: float
) -> float:
    """Expected spoiled sessions among `counts` starting at tick k, lasting `lengths` ticks."""
    keep = (counts > 0) & (lengths > 0)
    if not keep.any():
        return 0.0
    end = np.minimum(k + lengths[keep], len(area) - 1).astype(int)
    span = end - k
    ok = span > 0
    if not ok.any():
        return 0.0
    end, span, counts = end[ok], span[ok], counts[keep][ok]
    q = (area[end] - area[k]) / span
    n = np.maximum(np.round(span * tick / segment_s), 1.0)
    need = np.maximum(np.ceil(SPOILED_STALL_SHARE * n), 1.0)
    # P(X >= need) for X ~ Bin(n, q): bdtrc(k, n, q) = P(X > k); scipy.special, not
    # scipy.stats (a second of import a run does not need)
    k, trials = (need - 1.0).astype(np.int64), n.astype(np.int64)
    return float((counts * special.bdtrc(k, trials, np.clip(q, 0.0, 1.0))).sum())


def _live_lengths(flows: SessionFlows, live_starts: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """(ticks to each class's end, live starters joining it) for starters at tick k."""
    if flows.class_weight.classes == 0:
        return np.zeros(0), np.zeros(0)
    weights = flows.class_weight.at(k)
    if weights.shape[1] == 0:
        return np.zeros(0), np.zeros(0)
    totals = weights.sum(axis=1, keepdims=True)
    shares = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
    counts = (live_starts[:, None] * shares).sum(axis=0)
    lengths = np.ceil((flows.class_end_s - flows.t[k]) / flows.tick_s)
    return lengths, counts


def _od_lengths(flows: SessionFlows, tick: float) -> tuple[np.ndarray, np.ndarray]:
    """(on-demand lengths in ticks, their chances)."""
    pmf = np.asarray(flows.od_pmf, dtype=float)
    if pmf.sum() <= 0:
        return np.zeros(0), np.zeros(0)
    return np.arange(len(pmf)) * 60.0 / tick, pmf / pmf.sum()


def _at_start(
    flows: SessionFlows,
    area: np.ndarray,
    od_ticks: np.ndarray,
    od_weight: np.ndarray,
    segment_s: float,
    tick: float,
) -> float:
    """The riders riding at t = 0: the rest of their class, or half an on-demand length."""
    live0 = flows.active0[LIVE]
    weights = flows.class_weight0
    total = 0.0
    if weights.size and weights.shape[1]:
        totals = weights.sum(axis=1, keepdims=True)
        shares = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
        counts = (live0[:, None] * shares).sum(axis=0)
        total += _spoiled(area, 0, np.ceil(flows.class_end_s / tick), counts, segment_s, tick)
        od0 = float(flows.active0.sum()) - float(counts.sum())
    else:
        od0 = float(flows.active0.sum())
    return total + _spoiled(area, 0, np.ceil(od_ticks / 2.0), od0 * od_weight, segment_s, tick)
