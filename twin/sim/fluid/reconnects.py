"""Players who lose the stream join again: the fluid engine's reconnect flows.

In the exact engine a player whose segments stall `reconnect_after` times in a row drops the
stream and the rider joins again, retrying until the join patience runs out, then gives up
the rest of the class (`twin.sim.exact.riders`). Here the same happens in expectation:

- a watching rider's segment stalls with the tick's stall chance p: the share of the
  segment client's attempts that failed (lost on the route, or later than the segment's
  duration), and for a live rider every segment while the CDN's origin is down (a live
  segment nobody made cannot be cached);
- with stalls independent from segment to segment, a player reaches `r` stalls in a row at
  the rate (1 - p) p^r / (1 - p^r) per segment period (the stationary run-length law of the
  counter that resets on a good segment; 1 / r per period when every segment stalls):
  `reconnect_rate`;
- the live riders are the compile's less the live riders who left (a live class's joiners
  who gave up are live riders: `Riding.away_live`), and likewise on demand;
- those riders leave the watching riders (`Riding.reconnecting`) and send a join, a first
  attempt of a second join client (`rejoin`) that retries like the first joins; when a join
  is answered they watch again, when it gives up they have lost the stream for the rest of
  their session (`Riding.leave`).

After an outage the riders still inside their patience all retry at once: the reconnect
storm on the join route.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from twin.sim.fluid.clients import FluidClient
from twin.sim.fluid.riding import Riding

__all__ = ["Reconnects", "reconnect_process", "reconnect_rate"]


def reconnect_rate(p: float, after: int, segment_s: float) -> float:
    """Reconnects per watching rider per second when each segment stalls with chance `p`."""
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0 / (after * segment_s)
    return (1.0 - p) * p**after / (1.0 - p**after) / segment_s


class Reconnects:
    """The reconnect flows of one run (see the module's docstring)."""

    def __init__(
        self,
        compiled: Any,
        join: FluidClient,
        segment: FluidClient,
        rejoin: FluidClient,
        riding: Riding,
        origin_up: np.ndarray | None,
    ) -> None:
        self.join, self.segment, self.rejoin, self.riding = join, segment, rejoin, riding
        self.after = int(compiled.clients.reconnect_after)
        self.segment_s = float(compiled.journey.segment_s)
        self.tick_s = float(compiled.tick_s)
        self.watchers = compiled.riders_by_rendition.sum(axis=0)
        self.live = np.asarray(compiled.live_segment_share, dtype=float)
        self.origin_up = origin_up
        ticks = len(self.watchers)
        self.reconnecting = (0.0, 0.0)  # (live, on-demand) riders joining again
        self.stall = np.zeros(ticks)  # chance a watching rider's segment stalls, per tick
        self.started = np.zeros(ticks)  # riders who dropped the stream, per tick
        self.away = np.zeros(ticks)  # riders reconnecting, per tick

    def stall_chances(self, k: int) -> tuple[float, float]:
        """(live, on-demand) chance a segment of tick k stalls."""
        attempts = float(self.segment.pending[:, k].sum())
        p = min(float(self.segment.failed[k]) / attempts, 1.0) if attempts > 0 else 0.0
        origin_down = self.origin_up is not None and self.origin_up[k] <= 0.0
        return (1.0 if origin_down else p), p

    def watching(self, k: int) -> tuple[float, float]:
        """(live, on-demand) riders watching at tick k: the compile's, less those who left or
        are reconnecting."""
        riding = self.riding
        total = float(self.watchers[k])
        live = float(self.live[k]) * total - float(riding.away_live[k]) - self.reconnecting[0]
        od = (1.0 - float(self.live[k])) * total - float(riding.away_od[k]) - self.reconnecting[1]
        return max(live - riding.joining[0], 0.0), max(od - riding.joining[1], 0.0)

    def step(self, k: int) -> None:
        """At tick k: settle the rejoins of tick k - 1, send tick k's (new and retried)."""
        rejoin = self.rejoin
        if k > 0:
            j = k - 1
            rejoin.settle(j)
            join = self.join
            self.riding.join_step(
                j, float(join.pending[0, j]), join.succeeded(j) + float(join.gave_up_at[j])
            )
            live_p, od_p = self.stall_chances(j)
            live, od = self.watching(j)
            if live + od > 0:
                self.stall[j] = (live * live_p + od * od_p) / (live + od)
            dropped = (
                min(live * reconnect_rate(live_p, self.after, self.segment_s) * self.tick_s, live),
                min(od * reconnect_rate(od_p, self.after, self.segment_s) * self.tick_s, od),
            )
            self._return(rejoin.succeeded(j) + float(rejoin.gave_up_at[j]))
            live_r, od_r = self.reconnecting
            self.reconnecting = (live_r + dropped[0], od_r + dropped[1])
            self.started[j] = sum(dropped)
            self.away[j] = sum(self.reconnecting)
            self.riding.reconnecting = self.away[j]
            rejoin.pending[0, k] += sum(dropped)
        rejoin.deliver(k)

    def give_up(self, k: int, count: float) -> None:
        """Reconnecting riders who gave up: they lost the stream for the rest of the session."""
        self.riding.leave(k, count, live_share=self.live_share())

    def live_share(self) -> float:
        total = sum(self.reconnecting)
        return self.reconnecting[0] / total if total > 0 else 0.0

    def _return(self, count: float) -> None:
        """`count` reconnecting riders are done (back, or gone): out of both kinds by share."""
        total = sum(self.reconnecting)
        if total <= 0:
            return
        left = max(total - count, 0.0) / total
        self.reconnecting = (self.reconnecting[0] * left, self.reconnecting[1] * left)


def reconnect_process(
    env: simpy.Environment, reconnects: Reconnects, ticks: int, tick_s: float
) -> Generator[simpy.Event, Any, None]:
    """Step the reconnect flows once per tick, after the clients settled the tick before."""
    for k in range(ticks):
        yield env.timeout(k * tick_s - env.now)
        reconnects.step(k)
