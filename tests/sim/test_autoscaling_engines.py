"""Reactive autoscaling, one policy in both engines (twin.sim.autoscaling).

A service of 2 one-server instances (10 requests/s each) takes 27 requests/s: 135 % of its
capacity. Target tracking at 60 % with a 120 s provisioning delay and a 300 s cooldown must,
by the policy's own arithmetic, ask at t = 60 s for ceil(2 x 1.0 / 0.6) = 4 instances
(serving from 180 s); at 240 s the backlog of the first 180 s (7/s x 180 s) is still
draining (at 13/s, until about 277 s), so the window reads 100 % and it asks for
ceil(4 / 0.6) = 7 (serving from 360 s); from 300 s it measures 27 / 70 = 39 % and wants 5,
but scales in only once the cooldown since its last change (240 s) has passed: at 540 s.
The exact engine measures utilization as busy server-seconds of a SimPy station fed by
Poisson arrivals; the fluid engine as served share of its fluid station's capacity. Both
must follow that trajectory.
"""

from __future__ import annotations

import numpy as np
import simpy

from twin.config.architecture import Autoscaling
from twin.config.network import RateSchedule, ServiceTime
from twin.sim.autoscaling import Autoscaler
from twin.sim.distributions import service_sampler
from twin.sim.exact.autoscale import Scaling, scaler_process
from twin.sim.exact.source import poisson_source
from twin.sim.exact.station import Station
from twin.sim.fluid.autoscale import autoscaler_process
from twin.sim.fluid.flow import FluidStation, source_process, station_process

TICKS = 600
POLICY = Autoscaling(
    min=1, max=10, target_utilization=0.6, provisioning_delay_s=120, cooldown_s=300
)
EXPECTED = {100: 2, 179: 2, 181: 4, 359: 4, 361: 7, 539: 7, 541: 5, 599: 5}


def test_the_exact_engine_scales_by_the_policy() -> None:
    env = simpy.Environment()
    rng = np.random.default_rng(3)
    station = Station(
        env,
        servers=2,
        sampler=service_sampler(ServiceTime(dist="exponential", mean_s=0.1), rng),
        queue_capacity=None,
        index=0,
        on_leave=lambda _request, _where: None,
        timeout_s=None,
    )
    scaling = Scaling(POLICY, 2.0, 1, np.ones(TICKS), 1.0)
    scaler = scaling.scaler()
    env.process(scaler_process(env, station, scaling, scaler))
    env.process(
        poisson_source(
            env, RateSchedule(points=((0.0, 27.0),)), rng, lambda: station.arrive([0, 0.0, 0.0, 0])
        )
    )
    env.run(until=TICKS)
    assert {t: int(scaler.instances[t]) for t in EXPECTED} == EXPECTED
    assert station.servers == 5


def test_the_fluid_engine_scales_by_the_same_policy() -> None:
    env = simpy.Environment()
    scaler = Autoscaler(POLICY, 2.0, TICKS, 1.0)
    station = FluidStation(
        ticks=TICKS,
        tick_s=1.0,
        mean_s=0.1,
        queue_capacity=None,
        servers=lambda _k: scaler.in_service,
    )
    env.process(source_process(env, np.full(TICKS, 27.0), 1.0, station.receive))
    env.process(autoscaler_process(env, scaler, station, TICKS))
    env.process(station_process(env, station, TICKS))
    env.run()
    assert {t: int(scaler.instances[t]) for t in EXPECTED} == EXPECTED
