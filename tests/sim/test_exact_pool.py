"""A service's connection pool to a database in the exact engine (twin.sim.exact.pool).

Two connections in front of a database of four servers taking 0.1 s each: the pool, not the
database, is the limit, at 2 / 0.1 = 20 requests/s. Offered 30 requests/s, the database
never holds more than two requests, serves 20 a second, and the requests that waited past
the acquire timeout fail: a third of them. Offered 10 requests/s the pool is an M/D/2
queue at 50 %, where nothing times out.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from twin.config.network import RateSchedule, ServiceTime
from twin.sim.distributions import service_sampler
from twin.sim.exact.pool import ConnectionPool
from twin.sim.exact.source import poisson_source
from twin.sim.exact.station import DROPPED, Station

DURATION = 600.0


def _run(rate: float) -> tuple[ConnectionPool, Station, list[int], dict[str, int]]:
    env = simpy.Environment()
    rng = np.random.default_rng(11)
    counts = {"done": 0, "failed": 0}
    held: dict[int, ConnectionPool] = {}
    pools: list[ConnectionPool] = []
    most = [0]

    def leave(request: list, where: int) -> None:
        pool = held.pop(id(request), None)
        if pool is not None:
            pool.release()
        counts["failed" if where == DROPPED else "done"] += 1

    db = Station(
        env,
        servers=4,
        sampler=service_sampler(ServiceTime(dist="deterministic", mean_s=0.1), rng),
        queue_capacity=None,
        index=1,
        on_leave=leave,
    )
    service = Station(
        env,
        servers=2,
        sampler=service_sampler(ServiceTime(dist="deterministic", mean_s=0.001), rng),
        queue_capacity=None,
        index=0,
        on_leave=leave,
    )

    def enter(request: list) -> None:
        db.arrive(request)
        most[0] = max(most[0], db.in_system)

    pools.append(
        ConnectionPool(
            env,
            service=service,
            servers_per_instance=1,
            size_per_instance=1,
            acquire_timeout_s=1.0,
            enter=enter,
            on_leave=leave,
            held=held,
        )
    )
    env.process(
        poisson_source(
            env,
            RateSchedule(points=((0.0, rate),)),
            rng,
            lambda: pools[0].acquire([0, env.now, env.now, 0]),
        )
    )
    env.run(until=DURATION)
    return pools[0], db, most, counts


def test_the_pool_not_the_database_limits_throughput_in_overload() -> None:
    pool, _db, most, counts = _run(30.0)
    assert most[0] == 2  # never more than the pool's connections at the database
    assert pool.size == 2
    assert counts["done"] / DURATION == pytest.approx(20.0, rel=0.02)
    assert counts["failed"] / (counts["done"] + counts["failed"]) == pytest.approx(1 / 3, abs=0.03)


def test_below_its_size_the_pool_refuses_nothing() -> None:
    pool, _db, most, counts = _run(10.0)
    assert counts["failed"] == 0 and pool.refused == 0
    assert most[0] <= 2
    assert counts["done"] / DURATION == pytest.approx(10.0, rel=0.05)
