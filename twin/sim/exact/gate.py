"""A rate limit in front of a station: a database's write capacity, a stream's shard limits.

Requests it covers leave the gate no faster than `rate` per second on average (the rate may
change per tick: an incident cuts it, shards scale), in bursts of at most `rate x burst_s`:
a token bucket, run as the generic cell rate algorithm. Each request's theoretical release
is the later of its arrival and the previous one's plus 1 / rate; it leaves up to
burst_s - 1 / rate before that. With `burst_s` 0 it is a pacer (an M/D/1 queue at the rate);
a platform's gates take a tick's worth at once (`burst_s` = the tick), as the fluid engine
drains up to its cap in each tick, so a capacity scaled down with `--scale` does not make
writes wait 1 / rate for each other. A request leaves the gate into the station with its
clock started at the gate, so the wait for capacity is part of the station's latency. One
that would wait past the station's timeout gives up at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np
import simpy

from twin.sim.exact.station import DROPPED, Request, Station

__all__ = ["RateGate"]


class RateGate:
    """Releases the requests of some sources into `station` at most `rate[k]` per second."""

    def __init__(
        self,
        env: simpy.Environment,
        station: Station,
        *,
        rate: np.ndarray,
        tick_s: float,
        sources: frozenset[int],
        timeout_s: float | None,
        on_leave: Callable[[Request, int], None],
        burst_s: float = 0.0,
    ) -> None:
        self.env, self.station = env, station
        self.rate, self.tick_s = np.maximum(np.asarray(rate, dtype=float), 0.0), tick_s
        self.sources = sources
        self.timeout_s = timeout_s
        self._on_leave = on_leave
        self.burst_s = burst_s
        self.free_at = 0.0  # the next request's theoretical release
        self.refused = 0

    def covers(self, request: Request) -> bool:
        return request[0] in self.sources

    def arrive(self, request: Request) -> None:
        """A covered request arrives: release it now, later, or refuse it."""
        now = self.env.now
        rate = self.rate[min(int(now / self.tick_s), len(self.rate) - 1)]
        if rate <= 0.0:
            self._refuse(request)
            return
        spacing = 1.0 / rate
        due = max(now, self.free_at)
        release = max(now, due - max(self.burst_s - spacing, 0.0))
        if self.timeout_s is not None and release - now > self.timeout_s:
            self._refuse(request)
            return
        self.free_at = due + spacing
        if release <= now:
            self.station.arrive(request)
            return
        event = self.env.timeout(release - now, value=(request, now))
        event.callbacks.append(self._release)

    def _release(self, event: simpy.Event) -> None:
        request, since = cast(tuple[Request, float], event.value)
        self.station.arrive(request, since=since)

    def _refuse(self, request: Request) -> None:
        self.refused += 1
        self.station.arrivals += 1
        self.station.dropped += 1
        self._on_leave(request, DROPPED)
