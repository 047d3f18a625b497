"""A rate limit in front of a station: a database's write capacity, a stream's shard limits.

Requests it covers leave the gate no faster than `rate` per second (the rate may change per
tick: an incident cuts it, shards scale): each is released at the later of its arrival and
the previous release plus 1 / rate, then arrives at the station with its clock started at the
gate, so the wait for capacity is part of the station's latency (as the fluid engine drains a
backlog at the cap). A request that would wait past the station's timeout gives up at once.
This is a D/M-style pacer with no burst: at rates far above the offered load it adds no delay.
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
    ) -> None:
        self.env, self.station = env, station
        self.rate, self.tick_s = np.maximum(np.asarray(rate, dtype=float), 0.0), tick_s
        self.sources = sources
        self.timeout_s = timeout_s
        self._on_leave = on_leave
        self.free_at = 0.0
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
        release = max(now, self.free_at)
        if self.timeout_s is not None and release - now > self.timeout_s:
            self._refuse(request)
            return
        self.free_at = release + 1.0 / rate
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
