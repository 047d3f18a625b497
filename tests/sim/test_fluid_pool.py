"""Connection pools in the fluid engine (twin.sim.fluid.pools), held to the same figures as
the exact engine's pool (tests/sim/test_exact_pool.py): two connections held 0.1 s at a
database of four servers pass 20 requests/s; offered 30/s, a third fail past the acquire
timeout; offered 10/s, none. A route gets the pool between the service and the database.
Saturated behind its pools, a database waits as a closed queue of the pools' connections.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import simpy

from twin.config.architecture import ConnectionPool
from twin.config.clients import Clients
from twin.config.network import ServiceTime
from twin.sim.fluid.clients import FluidClient, client_process
from twin.sim.fluid.flow import FluidStation, station_process
from twin.sim.fluid.latency import station_ticks
from twin.sim.fluid.pools import pool_stations, waiting_bound, with_pools
from twin.sim.fluid.service import ServiceShape

TICKS = 600


def _compiled() -> SimpleNamespace:
    db = SimpleNamespace(
        connection_pool=None, service=ServiceTime(dist="deterministic", mean_s=0.1)
    )
    api = SimpleNamespace(
        connection_pool=ConnectionPool(to="db", size_per_instance=1, acquire_timeout_s=1.0),
        service=ServiceTime(dist="deterministic", mean_s=0.001),
    )
    return SimpleNamespace(
        t=np.arange(TICKS, dtype=float), tick_s=1.0, services={"api": api, "db": db}
    )


def _run(
    rate: float, *, db_servers: float = 4.0, compiled: SimpleNamespace | None = None
) -> tuple[FluidStation, FluidStation, list]:
    compiled = compiled or _compiled()
    stations = {
        "api": FluidStation(
            ticks=TICKS, tick_s=1.0, mean_s=0.001, queue_capacity=None, servers=lambda k: 2.0
        ),
        "db": FluidStation(
            ticks=TICKS, tick_s=1.0, mean_s=0.1, queue_capacity=None,
            servers=lambda k: db_servers,
        ),
    }  # fmt: skip
    pools = pool_stations(compiled, stations, {"api": lambda k: 2.0, "db": lambda k: 1.0})
    legs = [
        (stations[h] if isinstance(h, str) else h.station, share)
        for h, share in with_pools([("api", 1.0), ("db", 1.0)], pools)
    ]
    client = FluidClient("workout", np.full(TICKS, rate), legs, Clients(retries=0), 10.0, 1.0)
    env = simpy.Environment()
    env.process(client_process(env, client, TICKS, 1.0))
    for station in [*stations.values(), pools[0].station]:
        env.process(station_process(env, station, TICKS))
    env.run()
    return pools[0].station, stations["db"], pools


def test_the_route_passes_the_pool_between_service_and_database() -> None:
    pools = pool_stations(
        _compiled(), {"api": None, "db": None}, {"api": lambda k: 2.0, "db": lambda k: 1.0}
    )  # type: ignore[dict-item]
    hops = with_pools([("glb", 1.0), ("api", 1.0), ("db", 0.5)], pools)
    assert [h if isinstance(h, str) else h.name for h, _ in hops] == [
        "glb",
        "api",
        "pool:api>db",
        "db",
    ]
    assert hops[2][1] == 0.5


def test_the_pool_not_the_database_limits_throughput_in_overload() -> None:
    pool, db, _ = _run(30.0)
    late = slice(100, TICKS)
    assert pool.log.served[late].mean() == pytest.approx(20.0, rel=0.02)
    assert (pool.log.dropped[late].sum() / pool.log.arrivals[late].sum()) == pytest.approx(
        1 / 3, abs=0.02
    )
    assert db.log.served[late].mean() == pytest.approx(20.0, rel=0.05)


def test_below_its_size_the_pool_refuses_nothing() -> None:
    pool, db, _ = _run(10.0)
    assert pool.log.dropped.sum() == 0.0
    assert db.log.served[50:].mean() == pytest.approx(10.0, rel=0.01)


def test_a_saturated_database_behind_its_pools_waits_as_a_closed_queue() -> None:
    # 2 instances x 3 connections held at a database of 2 servers (0.1 s, deterministic),
    # offered 30/s against its 20/s: as in a closed queue of 6 customers at 2 servers (every
    # connection busy), each request waits (6 - 2) / 20 = 0.2 s there; an open queue's law at
    # the same utilization would not know that no more than 4 can wait
    compiled = _compiled()
    compiled.services["api"].connection_pool = ConnectionPool(
        to="db", size_per_instance=3, acquire_timeout_s=5.0
    )
    _pool, db, pools = _run(30.0, db_servers=2.0, compiled=compiled)
    shape = ServiceShape.of(ServiceTime(dist="deterministic", mean_s=0.1))
    bound = waiting_bound("db", db.log, pools)
    assert bound is not None
    late = slice(100, TICKS)
    assert db.log.served[late].mean() == pytest.approx(20.0, rel=0.05)
    bounded = station_ticks(db.log, shape, 1.0, None, bound).wait_mean[late].mean()
    assert bounded == pytest.approx(0.2, rel=0.15)
    assert station_ticks(db.log, shape, 1.0).wait_mean[late].mean() > 1.5 * bounded
