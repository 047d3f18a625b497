"""End-to-end latency by probe requests: sampled requests walking the network, all at once.

Each report interval of a source gets a few thousand probes, born at ticks in proportion to
the source's arrivals and each standing for an equal share of them. A probe at a station draws
its sojourn from that station's law at the tick it arrives (backlog delay, stationary wait,
service), may be dropped with the tick's drop fraction, then follows the routing
probabilities to the next station or out. Probes move as NumPy arrays, one step per hop for
all of them, so the cost is probes x hops whatever the number of riders they stand for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from twin.sim.fluid.collect import interval_of
from twin.sim.fluid.latency import StationTicks
from twin.sim.records import Grid, SourceRecord
from twin.sim.sketch import histogram_of

__all__ = [
    "PROBES_PER_INTERVAL",
    "ProbeNetwork",
    "births",
    "probe_route",
    "probe_source",
    "probes_per_interval",
    "walk_route",
]

PROBES_PER_INTERVAL = 2000
PROBES_PER_RUN = 200_000  # a long run's many intervals share this many (at least 200 each)
_MAX_HOPS = 10_000


@dataclass(frozen=True)
class ProbeNetwork:
    """Stations as stacked per-tick arrays (station x tick), their samplers and routing.

    `routing[j]` is the cumulative probability over next hops (stations 0..n-1, then exit);
    `samplers[j](rng, n)` draws n service times of station j.
    """

    p: np.ndarray
    theta: np.ndarray
    d: np.ndarray
    drop: np.ndarray
    ratio: np.ndarray
    rate: np.ndarray
    room: np.ndarray
    routing: np.ndarray
    samplers: Sequence[Callable[[np.random.Generator, int], np.ndarray]]
    tick_s: float

    @classmethod
    def of(
        cls,
        ticks: Sequence[StationTicks],
        routing: np.ndarray,
        samplers: Sequence[Callable[[np.random.Generator, int], np.ndarray]],
        tick_s: float,
    ) -> ProbeNetwork:
        def stack(attr: str) -> np.ndarray:
            return np.stack([getattr(t, attr) for t in ticks])

        return cls(
            p=stack("p"),
            theta=stack("theta"),
            d=stack("d"),
            drop=stack("drop_fraction"),
            ratio=stack("ratio"),
            rate=stack("rate"),
            room=np.array([t.room for t in ticks], dtype=float),
            routing=np.cumsum(routing, axis=1),
            samplers=samplers,
            tick_s=tick_s,
        )

    def sojourn(self, rng: np.random.Generator, station: np.ndarray, k: np.ndarray) -> np.ndarray:
        """One sojourn draw per probe at `station` during tick `k`."""
        waits = rng.random(len(k)) < self.p[station, k]
        wait = np.where(waits, rng.exponential(1.0, len(k)) / self.theta[station, k], 0.0)
        r = self.ratio[station, k]
        cut = np.flatnonzero(waits & (r > 0))
        if len(cut):
            wait[cut] = self._truncated(rng, r[cut], self.rate[station[cut], k[cut]], station[cut])
        service = np.empty(len(k))
        for j in np.unique(station):
            mine = station == j
            service[mine] = self.samplers[j](rng, int(mine.sum()))
        return self.d[station, k] + wait + service

    def _truncated(
        self, rng: np.random.Generator, r: np.ndarray, rate: np.ndarray, station: np.ndarray
    ) -> np.ndarray:
        """Waits in a finite queue: J ahead (geometric, ratio r, cut at the room), then
        J + 1 exponential completions at the drain rate."""
        room = self.room[station]
        u = rng.random(len(r))
        ahead = np.floor(np.log1p(-u * (1.0 - r**room)) / np.log(r))
        return rng.gamma(np.clip(ahead, 0, room - 1) + 1.0) / rate

    def next_hop(self, rng: np.random.Generator, station: np.ndarray) -> np.ndarray:
        """The next station of each probe (n = exit)."""
        u = rng.random(len(station))[:, None]
        return np.minimum((u >= self.routing[station]).sum(axis=1), self.routing.shape[1] - 1)


def probes_per_interval(grid: Grid) -> int:
    """Probes per report interval: PROBES_PER_INTERVAL, fewer when there are many intervals."""
    return max(200, min(PROBES_PER_INTERVAL, PROBES_PER_RUN // grid.n))


def births(
    rng: np.random.Generator, counts: np.ndarray, grid: Grid, tick_s: float, per: int
) -> tuple[np.ndarray, np.ndarray]:
    """Birth times and weights of `per` probes in each interval with arrivals."""
    cum = np.concatenate(([0.0], np.cumsum(counts)))
    bounds = np.searchsorted(
        np.arange(len(counts) + 1) * tick_s, np.arange(grid.n + 1) * grid.width_s - 1e-9
    )
    lo, hi = cum[bounds[:-1]], cum[bounds[1:]]
    busy = np.flatnonzero(hi > lo)
    u = lo[busy, None] + rng.random((len(busy), per)) * (hi - lo)[busy, None]
    tick = np.clip(np.searchsorted(cum, u.ravel(), side="right") - 1, 0, len(counts) - 1)
    born = (tick + rng.random(tick.size)) * tick_s
    weights = np.repeat((hi - lo)[busy] / per, per)
    return born, weights


def probe_source(
    net: ProbeNetwork,
    entry: int,
    counts: np.ndarray,
    grid: Grid,
    rng: np.random.Generator,
    per_interval: int | None = None,
) -> SourceRecord:
    """The SourceRecord of one source entering at station `entry` with `counts` per tick."""
    n, ticks, rec = grid.n, len(counts), SourceRecord.empty(grid)
    per_interval = per_interval or probes_per_interval(grid)
    here = interval_of((np.arange(ticks) + 0.5) * net.tick_s, grid.width_s, n)
    rec.arrivals[:] = np.bincount(here[here >= 0], weights=counts[here >= 0], minlength=n)[:n]
    born, weight = births(rng, counts, grid, net.tick_s, per_interval)
    t, station = born.copy(), np.full(len(born), entry)
    exit_index = net.routing.shape[0]
    alive = np.arange(len(born))
    for _ in range(_MAX_HOPS):
        k = np.floor(t[alive] / net.tick_s).astype(np.int64)
        inside = k < ticks
        alive, k = alive[inside], k[inside]
        if len(alive) == 0:
            break
        st = station[alive]
        dropped = rng.random(len(alive)) < net.drop[st, k]
        _add(rec.errors, interval_of(t[alive[dropped]], grid.width_s, n), weight[alive[dropped]])
        alive, k, st = alive[~dropped], k[~dropped], st[~dropped]
        t[alive] += net.sojourn(rng, st, k)
        station[alive] = nxt = net.next_hop(rng, st)
        leaving = nxt == exit_index
        _finish(
            rec,
            grid,
            t[alive[leaving]] - born[alive[leaving]],
            t[alive[leaving]],
            weight[alive[leaving]],
        )
        alive = alive[~leaving]
    return rec


def _add(out: np.ndarray, index: np.ndarray, weights: np.ndarray) -> None:
    keep = index >= 0
    out += np.bincount(index[keep], weights=weights[keep], minlength=len(out))[: len(out)]


def _finish(
    rec: SourceRecord, grid: Grid, latency: np.ndarray, t: np.ndarray, w: np.ndarray
) -> None:
    """File probes that left the network at times `t` with `latency`."""
    i = interval_of(t, grid.width_s, grid.n)
    f = interval_of(t, grid.fine_width_s, grid.n * grid.fine)
    _add(rec.completed, i, w)
    _add(rec.latency_sum, i, w * latency)
    _add(rec.fine_completed, f, w)
    _add(rec.fine_latency_sum, f, w * latency)
    for row in np.unique(i[i >= 0]):
        mine = i == row
        rec.latency_hist[row] += histogram_of(latency[mine], w[mine])


def walk_route(
    net: ProbeNetwork, hops: list[tuple[int, float]], born: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walk probes born at `born` along a fixed route of (station, share reaching it).

    A probe goes on from hop i to hop i+1 with probability share[i+1] / share[i] (after a
    CDN only misses go on). Returns (time it left, dropped, finished within the run).
    """
    ticks = net.p.shape[1]
    t = born.copy()
    dropped = np.zeros(len(born), dtype=bool)
    alive = np.arange(len(born))
    previous = 1.0
    for station, share in hops:
        if previous > 0 and share < previous:
            alive = alive[rng.random(len(alive)) < share / previous]
        previous = share
        k = np.floor(t[alive] / net.tick_s).astype(np.int64)
        inside = k < ticks
        alive, k = alive[inside], k[inside]
        st = np.full(len(alive), station)
        lost = rng.random(len(alive)) < net.drop[st, k]
        dropped[alive[lost]] = True
        alive, k, st = alive[~lost], k[~lost], st[~lost]
        t[alive] += net.sojourn(rng, st, k)
    finished = ~dropped & (t < ticks * net.tick_s)
    return t, dropped, finished


def probe_route(
    net: ProbeNetwork,
    hops: list[tuple[int, float]],
    counts: np.ndarray,
    grid: Grid,
    rng: np.random.Generator,
    per_interval: int | None = None,
) -> SourceRecord:
    """The SourceRecord of a request type crossing `hops` in order, `counts` per tick."""
    n, rec = grid.n, SourceRecord.empty(grid)
    per_interval = per_interval or probes_per_interval(grid)
    here = interval_of((np.arange(len(counts)) + 0.5) * net.tick_s, grid.width_s, n)
    rec.arrivals[:] = np.bincount(here[here >= 0], weights=counts[here >= 0], minlength=n)[:n]
    born, weight = births(rng, counts, grid, net.tick_s, per_interval)
    t, dropped, finished = walk_route(net, hops, born, rng)
    _add(rec.errors, interval_of(born[dropped], grid.width_s, n), weight[dropped])
    _finish(rec, grid, t[finished] - born[finished], t[finished], weight[finished])
    return rec
