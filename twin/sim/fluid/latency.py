"""From a station's per-tick flows to its per-tick latency law (pointwise-stationary + fluid).

At each tick the admitted arrival rate lam gives a utilization rho = lam / (c mu). Below
saturation the wait is the stationary M/M/c one at that rho (Erlang C; for other service laws
Allen-Cunneen's factor (1 + cs^2) / 2 stretches the exponential wait, which is exact in mean
for M/G/1 and a close approximation for M/G/c). When more arrives than the servers can take,
the excess is the fluid backlog B, which every arrival waits behind: a delay of
B / (c mu). While a backlog stands the servers are saturated and the wait is that delay; the
stationary part then reflects only the load of the tick's own arrivals, capped below 1 so
the formulas stay finite (`RHO_CAP`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.analytic.erlang_batch import erlang_c_many
from twin.sim.fluid.flow import TickLog
from twin.sim.fluid.service import ServiceShape

__all__ = ["RHO_CAP", "StationTicks", "station_ticks"]

RHO_CAP = 0.95


@dataclass(frozen=True)
class StationTicks:
    """A station's latency law and occupancy at every tick (arrays of one length).

    `arrivals` and `dropped` are counts per tick; `p`, `theta`, `d`: see twin.sim.fluid.service. `admitted` requests arrived at the tick and
    were not dropped; `wait_mean`/`latency_mean` are theirs; `queue`, `busy` and `in_system`
    are time averages over the tick (in_system_end at its end); `drop_fraction` is the chance an
    arrival at that tick is dropped.
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
    in_system_end: np.ndarray
    drop_fraction: np.ndarray


def station_ticks(log: TickLog, shape: ServiceShape, tick_s: float) -> StationTicks:
    """The per-tick latency law of one station from its `TickLog`."""
    ticks = len(log.served)
    arrivals = log.arrivals[:ticks]
    admitted = np.maximum(arrivals - log.dropped, 0.0)
    mu = 1.0 / shape.mean
    c = np.maximum(np.rint(log.servers), 1).astype(np.int64)
    drain = c * mu
    rho = np.minimum(admitted / (tick_s * drain), RHO_CAP)
    p = erlang_c_many(c, rho * c)
    theta = drain * (1.0 - rho) * 2.0 / (1.0 + shape.scv)
    before = np.concatenate(([0.0], log.backlog[:-1]))
    backlog_mean = (before + log.backlog) / 2.0
    d = backlog_mean / drain
    stationary_wait = p / theta
    busy = np.minimum(log.served / (mu * tick_s), c)
    queue_stat = rho * c * mu * stationary_wait
    with np.errstate(invalid="ignore", divide="ignore"):
        drop_fraction = np.where(arrivals > 0, log.dropped / arrivals, 0.0)
    return StationTicks(
        arrivals=arrivals,
        dropped=log.dropped,
        p=p,
        theta=theta,
        d=d,
        admitted=admitted,
        wait_mean=d + stationary_wait,
        latency_mean=d + stationary_wait + shape.mean,
        queue=queue_stat + backlog_mean,
        busy=busy,
        servers=c.astype(float),
        in_system_end=queue_stat + log.backlog + busy,
        drop_fraction=drop_fraction,
    )
