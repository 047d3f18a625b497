"""Who is still riding in the fluid engine: riders who gave up leave the offered load.

The compile's demand counts every session the population starts. In the exact engine a
rider who gives up joining never rides, and one who loses the stream for good stops riding
(no segments, batches, polls or workout after). Here the same happens in expectation:
`Riding.leave(k, n)` takes n riders out from tick k + 1 for the rest of the session each
would have ridden, by the survival law of a session starting at tick k (`survival`):
a live rider rides to the end of the class they picked (classes in proportion to their
joiners at that tick, as `twin.sim.sessions.draw_sessions` picks them), an on-demand one
a length from the library's law. `keep(k)` is the share of the compile's riding riders
still riding at tick k: the factor on every request type a riding rider makes (`RIDING`),
and on the ingest flows behind the telemetry.

Riders still trying their first join (`joining`) or joining again (`reconnecting`) do not
ride either, until they are in.

A rider who loses the stream mid-session is taken out with the survival of a new session
at that tick: for a live class the same (they would have ridden to its end); for on demand
it overstates what was left of the session by the length bias (a first-order reading).
"""

from __future__ import annotations

import numpy as np

from twin.sim.sessions import LIVE, SessionFlows

__all__ = ["RIDING", "Riding"]

# Request types a riding rider makes (not `recommend` and `join`, which come before riding).
RIDING = frozenset(
    {"playlist", "segment", "telemetry", "leaderboard", "workout", "feedback", "tempo"}
)


class Riding:
    """Riders out of the offered load per tick, from give-ups (see the module's docstring),
    kept apart as live and on-demand riders (a live class's joiners who gave up leave the live
    riders, whose players need the origin)."""

    def __init__(self, flows: SessionFlows, active: np.ndarray) -> None:
        self.flows = flows
        self.tick_s = float(flows.tick_s)
        self.active = np.asarray(active, dtype=float)
        self.ticks = len(self.active)
        self.away_live = np.zeros(self.ticks + 1)  # live riders who would ride at tick k but left
        self.away_od = np.zeros(self.ticks + 1)
        self.left = 0.0
        self.reconnecting = 0.0  # riders joining again after losing the stream (not riding)
        self.joining = (0.0, 0.0)  # (live, on-demand) riders still trying their first join
        self.joining_at = np.zeros(self.ticks)  # riders still trying their first join, per tick
        self._od = _od_survival(flows.od_pmf, self.tick_s)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def away(self) -> np.ndarray:
        """Riders who would ride at tick k but left (live and on demand)."""
        return self.away_live + self.away_od

    def keep(self, k: int) -> float:
        """Share of the compile's riding riders still riding at tick k (not gone, and neither
        reconnecting nor still joining just now)."""
        active = float(self.active[k])
        if active <= 0.0:
            return 1.0
        gone = float(self.away_live[k] + self.away_od[k]) + self.reconnecting + sum(self.joining)
        return max(0.0, 1.0 - gone / active)

    def live_start_share(self, k: int) -> float:
        """Share of the sessions starting at tick k that are live."""
        starts = np.maximum(self.flows.starts[:, :, k], 0.0)
        total = float(starts.sum())
        return float(starts[LIVE].sum()) / total if total > 0 else 0.0

    def join_step(self, k: int, started: float, done: float) -> None:
        """Tick k's first joins: `started` riders began joining, `done` finished (joined, or
        gave up); the rest wait, not riding yet."""
        live, od = self.joining
        total = live + od + started
        share = self.live_start_share(k)
        live, od = live + started * share, od + started * (1.0 - share)
        left = max(total - done, 0.0) / total if total > 0 else 0.0
        self.joining = (live * left, od * left)
        if k < self.ticks:
            self.joining_at[k] = sum(self.joining)

    def leave(
        self, k: int, count: float, live_share: float | None = None, started: int | None = None
    ) -> None:
        """`count` riders give up at tick k: out of the load from tick k + 1. They are live
        riders in `live_share` (default: the share of the sessions starting at tick `started`,
        itself k by default), for what is left at k + 1 of a session begun at `started` (a
        rider who gave up joining started trying the patience before: the live class they
        meant to join, not the one starting as they give up)."""
        if count <= 0.0 or k + 1 >= self.ticks:
            return
        self.left += count
        began = k if started is None else min(max(started, 0), k)
        live, od = self.survival_parts(began)
        live, od = live[k - began :], od[k - began :]
        if live_share is not None:
            total_live, total_od = _start_value(live), _start_value(od)
            live = live / total_live * live_share if total_live > 0 else live * 0.0
            od = od / total_od * (1.0 - live_share) if total_od > 0 else od * 0.0
        span = self.ticks - k - 1
        for away, part in ((self.away_live, live), (self.away_od, od)):
            alive = part[:span]
            away[k + 1 : k + 1 + len(alive)] += count * alive

    def survival(self, k: int) -> np.ndarray:
        """Share of the sessions starting at tick k still riding 1, 2, ... ticks later."""
        live, od = self.survival_parts(k)
        return live + od

    def survival_parts(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """`survival(k)` split into its live and on-demand parts (they add up to it)."""
        cached = self._cache.get(k)
        if cached is None:
            cached = self._survival(k)
            self._cache[k] = cached
        return cached

    def _survival(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        f = self.flows
        starts = np.maximum(f.starts[:, :, k], 0.0)
        total = float(starts.sum())
        if total <= 0.0:
            return np.zeros(len(self._od)), self._od
        live_classes = self._live_classes(starts[LIVE], k)
        live_total = float(live_classes.sum())
        ends = f.class_end_s - f.t[k]
        length = max(len(self._od), int(np.ceil(max(ends.max(initial=0.0), 0.0) / self.tick_s)))
        od = np.zeros(length)
        od[: len(self._od)] += (1.0 - live_total / total) * self._od
        live = np.zeros(length)
        after = np.arange(1, length + 1) * self.tick_s
        for share, end in zip(live_classes / total, ends, strict=True):
            if share > 0.0 and end > 0.0:
                live += share * (after < end)
        return live, od

    def _live_classes(self, live_starts: np.ndarray, k: int) -> np.ndarray:
        """Live starts per second at tick k by the class they join (device by device, as the
        sessions are drawn); starts with no class taking joiners ride on demand."""
        if self.flows.class_weight.classes == 0:
            return np.zeros(0)
        weights = self.flows.class_weight.at(k)
        totals = weights.sum(axis=1, keepdims=True)
        shares = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
        return (live_starts[:, None] * shares).sum(axis=0)


def _start_value(part: np.ndarray) -> float:
    return float(part[0]) if len(part) else 0.0


def _od_survival(pmf: np.ndarray, tick_s: float) -> np.ndarray:
    """P(an on-demand session lasts longer than 1, 2, ... ticks), lengths in whole minutes."""
    pmf = np.asarray(pmf, dtype=float)
    if pmf.sum() <= 0:
        return np.zeros(0)
    pmf = pmf / pmf.sum()
    tail = np.cumsum(pmf[::-1])[::-1]  # tail[j] = P(length >= j minutes)
    longest = (len(pmf) - 1) * 60.0
    after = np.arange(1, int(np.ceil(longest / tick_s)) + 1) * tick_s
    first_longer = np.floor(after / 60.0).astype(int) + 1  # the first whole minute > a
    return np.where(first_longer < len(pmf), tail[np.minimum(first_longer, len(pmf) - 1)], 0.0)
