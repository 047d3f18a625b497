"""From a station's per-tick flows to its per-tick latency law (pointwise-stationary + fluid).

At each tick the admitted arrival rate lam gives a utilization rho = lam / (c mu). Below
saturation the wait is the stationary M/M/c one at that rho (Erlang C; for other service laws
Allen-Cunneen's factor (1 + cs^2) / 2 stretches the exponential wait, which is exact in mean
for M/G/1 and a close approximation for M/G/c). When more arrives than the servers can take,
the excess is the fluid backlog B, which every arrival waits behind: a delay of
B / (c mu). The stationary part is taken at the tick's own admitted load, capped below 1
so the formulas stay finite (`RHO_CAP`); the mean wait is the larger of the two, not their
sum (both describe the one queue: a standing backlog is what the stationary law would build),
and never more than a full finite queue's. A finite queue below saturation follows M/M/c/K:
its blocking drops arrivals (twin.sim.fluid.flow) and its wait is the truncated one.

A station that sleeps while idle (`wake`: penalty W, time constant tau) adds, to every
request, the mean of what waking it costs: an arrival finds its one server idle with chance
1 - rho, after an idle period that Poisson arrivals make exponential at rate lam, so it waits
W / (1 + lam tau) on average (with c servers, (1 - rho)^c stands for all of them idle). The
exact engine draws it per request (`twin.sim.exact.station`); the fluid engine shifts the
tick's latency by the mean, as it does the backlog's delay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from twin.analytic.erlang_batch import erlang_c_many
from twin.sim.fluid.flow import TickLog
from twin.sim.fluid.service import ServiceShape

__all__ = ["RHO_CAP", "StationTicks", "station_ticks"]

RHO_CAP = 0.99


@dataclass(frozen=True)
class StationTicks:
    """A station's latency law and occupancy at every tick (arrays of one length).

    `arrivals` and `dropped` are counts per tick; `p`, `theta`, `d`: see
    twin.sim.fluid.service. `admitted` requests arrived at the tick and were not dropped;
    `wait_mean` and `latency_mean` are theirs; `queue` and `busy` are time averages over the
    tick, `in_system_end` the count at its end; `drop_fraction` is the chance an arrival at
    that tick is dropped. Where a finite queue's `room` truncates the wait, `ratio` holds its
    r = load / c (0 elsewhere) and `rate` the drain rate c mu of the waiting line. `servers`
    are whole servers (at least one); `capacity` the servers' worth the station could serve,
    fewer where a stream's or a database's cap binds (`twin.sim.caps`): utilization reads
    against it, as the exact engine's does.
    """

    arrivals: np.ndarray
    dropped: np.ndarray
    p: np.ndarray
    theta: np.ndarray
    d: np.ndarray
    admitted: np.ndarray
    wait_mean: np.ndarray
    latency_mean: np.ndarray
    queue: np.ndarray
    busy: np.ndarray
    servers: np.ndarray
    capacity: np.ndarray
    in_system_end: np.ndarray
    drop_fraction: np.ndarray
    ratio: np.ndarray
    rate: np.ndarray
    room: int


def _finite_queue(
    p: np.ndarray,
    theta: np.ndarray,
    c: np.ndarray,
    load: np.ndarray,
    room: int,
    *,
    mu: float,
    factor: float,
    calm: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """M/M/c/K's chance to wait and mean wait (for admitted requests) where the room matters.

    With x = 1/B - 1 the states below c, G0 = sum r^j and G1 = sum j r^j over the room
    (j = 0..K), the law in units of p_c gives P(wait | admitted) = (G0 - r^K) / (x + G0) /
    (1 - P(full)) and Lq = G1 / (x + G0); the wait keeps its exponential shape, at the rate
    giving this mean (times Allen-Cunneen's `factor`), and the third array returned is r where
    the law is truncated (twin.sim.fluid.service draws its exact shape from it). Only ticks
    below saturation with no fluid backlog, where r^K is not negligible, change.
    """
    r = load / c
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        rk = r**room
        use = calm & (r < 1.0) & (rk > 1e-9) & (load > 0)
        if not use.any():
            return p, theta, np.zeros_like(p)
        pmf = np.exp(special.xlogy(c, load) - load - special.gammaln(c + 1.0))
        z = special.pdtr(c, load) / pmf - 1.0 + (1.0 - rk * r) / (1.0 - r)
        g1 = r * (1.0 - (room + 1) * rk + room * rk * r) / (1.0 - r) ** 2
        admitted = 1.0 - rk / z
        wait_p = ((1.0 - rk * r) / (1.0 - r) - rk) / z / admitted
        wait_mean = factor * g1 / z / (load * mu * admitted)
        new_theta = wait_p / wait_mean
    return np.where(use, wait_p, p), np.where(use, new_theta, theta), np.where(use, r, 0.0)


def _beyond_fluid(p: np.ndarray, theta: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The chance to wait, lowered so that the mean wait is the larger of the fluid delay `d`
    and the stationary wait, not their sum: both describe the one queue (a standing backlog
    is the queue the stationary law would build), so the stationary part only adds what it
    holds beyond the backlog (none once the backlog is long)."""
    wait = p / theta
    with np.errstate(all="ignore"):
        keep = np.where(wait > 0, np.clip((wait - d) / wait, 0.0, 1.0), 1.0)
    return p * keep


def _within_room(p: np.ndarray, theta: np.ndarray, d: np.ndarray, most: np.ndarray) -> np.ndarray:
    """The chance to wait, lowered where the fluid delay `d` plus the stationary wait would
    pass `most`, the wait of a full queue (room / drain): a queue held at its room by the
    fluid backlog has no room to fluctuate above it (its wait keeps its shape, less often)."""
    wait = p / theta
    limit = np.maximum(most - d, 0.0)
    with np.errstate(all="ignore"):
        return np.where(wait > limit, p * np.where(wait > 0, limit / wait, 0.0), p)


def _woken(
    wake: tuple[float, float] | None, lam: np.ndarray, rho: np.ndarray, c: np.ndarray
) -> np.ndarray | float:
    """The mean time waking the idle station adds to a request at each tick."""
    if wake is None:
        return 0.0
    penalty, tau = wake
    return (1.0 - rho) ** c * penalty / (1.0 + lam * tau)


def station_ticks(
    log: TickLog,
    shape: ServiceShape,
    tick_s: float,
    queue_capacity: int | None = None,
    waiting_most: np.ndarray | None = None,
    wake: tuple[float, float] | None = None,
) -> StationTicks:
    """The per-tick latency law of one station from its `TickLog`; `waiting_most` bounds the
    requests that can wait there per tick (a database behind connection pools)."""
    arrivals = log.arrivals[: len(log.served)]
    admitted = np.maximum(arrivals - log.dropped, 0.0)
    mu = 1.0 / shape.mean
    c = np.maximum(np.rint(log.servers), 1).astype(np.int64)
    drain = c * mu
    rho = np.minimum(admitted / (tick_s * drain), RHO_CAP)
    p = erlang_c_many(c, rho * c)
    theta = drain * (1.0 - rho) * 2.0 / (1.0 + shape.scv)
    before = np.concatenate(([0.0], log.backlog[:-1]))
    ratio = np.zeros(len(arrivals))
    if queue_capacity is not None:
        offered = arrivals / (tick_s * mu)
        p, theta, ratio = _finite_queue(
            p, theta, c, offered, queue_capacity,
            mu=mu, factor=(1.0 + shape.scv) / 2.0, calm=before == 0,
        )  # fmt: skip
    backlog_mean = (before + log.backlog) / 2.0
    # the backlog drains at the station's real rate: a cap (a stream's shards, a database's
    # writes) can leave less than one server's worth, which the whole servers `c` round up
    flowing = np.where(log.servers > 0, log.servers, c) * mu
    d = backlog_mean / flowing
    p = _beyond_fluid(p, theta, d)
    for room in (queue_capacity, waiting_most):  # a finite queue; a pool's waiting room
        if room is not None:
            p = _within_room(p, theta, d, room / drain)
    stationary_wait = p / theta
    woken = _woken(wake, admitted / tick_s, rho, c)
    busy = np.minimum(log.served / (mu * tick_s), c)
    queue_stat = rho * c * mu * stationary_wait
    with np.errstate(invalid="ignore", divide="ignore"):
        drop_fraction = np.where(arrivals > 0, log.dropped / arrivals, 0.0)
    return StationTicks(
        arrivals=arrivals,
        dropped=log.dropped,
        p=p,
        theta=theta,
        d=d + woken,
        admitted=admitted,
        wait_mean=d + stationary_wait,
        latency_mean=d + woken + stationary_wait + shape.mean,
        queue=queue_stat + backlog_mean,
        busy=busy,
        servers=c.astype(float),
        capacity=np.where(log.servers > 0, np.minimum(log.servers, c), 0.0),
        in_system_end=queue_stat + log.backlog + busy,
        drop_fraction=drop_fraction,
        ratio=ratio,
        rate=drain.astype(float),
        room=queue_capacity or 0,
    )
