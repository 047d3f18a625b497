"""A station that sleeps while idle (`wake`) against queueing theory.

A request that finds the one server idle is served `penalty * (1 - exp(-g / tau))` longer, `g`
the idle time since the last departure: an M/G/1 queue with an exceptional first service in
each busy period (Welch, 1964). With Poisson arrivals at rate lam the idle period is
exponential at rate lam, so the extra D of a first service has, with x = lam tau,

    E[D] = penalty / (1 + x),   E[D^2] = penalty^2 (1 - 2x / (1 + x) + x / (2 + x)).

The share of requests finding the station idle is P0 = (1 - rho) / (1 - rho + lam E[S0]) with
S0 = S + D, and by PASTA and Brumelle's work equation the mean wait is

    E[Wq] = lam (P0 E[S0^2] + (1 - P0) E[S^2]) / (2 (1 - rho)),   rho = lam E[S].
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from twin.config.network import ServiceTime
from twin.sim.distributions import service_sampler
from twin.sim.exact.station import Station
from twin.sim.fluid.flow import TickLog
from twin.sim.fluid.latency import station_ticks
from twin.sim.fluid.service import ServiceShape


def _welch(lam: float, mean: float, scv: float, penalty: float, tau: float) -> dict[str, float]:
    """The mean wait, the mean time in the station and P0 of the M/G/1 queue above."""
    x = lam * tau
    d1 = penalty / (1.0 + x)
    d2 = penalty**2 * (1.0 - 2.0 * x / (1.0 + x) + x / (2.0 + x))
    s2 = mean**2 * (1.0 + scv)
    s0_1, s0_2 = mean + d1, s2 + 2.0 * mean * d1 + d2
    rho = lam * mean
    p0 = (1.0 - rho) / (1.0 - rho + lam * s0_1)
    wait = lam * (p0 * s0_2 + (1.0 - p0) * s2) / (2.0 * (1.0 - rho))
    return {"wait": wait, "time": wait + mean + p0 * d1, "p0": p0}


def _simulate(lam, service, wake, horizon, seed):
    env = simpy.Environment()
    rng = np.random.default_rng(seed)
    times: list[float] = []
    waits: list[float] = []

    def leave(request, _where):
        times.append(env.now - request[1])

    st = Station(env, servers=1, sampler=service_sampler(service, rng), queue_capacity=None,
                 index=0, on_leave=leave, wake=wake)  # fmt: skip

    def source():
        while True:
            yield env.timeout(rng.exponential(1.0 / lam))
            st.arrive([0, env.now, env.now, 0])

    env.process(source())
    env.run(until=horizon)
    waits.append(st.wait_sum / max(st.completed, 1))
    return np.array(times[200:]), waits[0]


@pytest.mark.parametrize(
    ("lam", "service", "penalty", "tau"),
    [
        (20.0, ServiceTime(dist="exponential", mean_s=0.001), 0.001, 0.01),  # a drill's light load
        (150.0, ServiceTime(dist="lognormal", mean_s=0.003, cv=0.5), 0.001, 0.01),  # rho 0.45
        (300.0, ServiceTime(dist="deterministic", mean_s=0.002), 0.002, 0.005),  # rho 0.6
    ],
)
def test_the_exact_station_matches_the_exceptional_first_service_queue(lam, service, penalty,
                                                                        tau):  # fmt: skip
    theory = _welch(lam, service.mean, service.scv, penalty, tau)
    runs = [_simulate(lam, service, (penalty, tau), 40_000 / lam, seed) for seed in range(3)]
    time = float(np.mean([t.mean() for t, _ in runs]))
    wait = float(np.mean([w for _, w in runs]))
    assert time == pytest.approx(theory["time"], rel=0.03)
    assert wait == pytest.approx(theory["wait"], rel=0.08, abs=2e-6)
    # without the wake-up the same station is plain Pollaczek-Khinchine, and the gap is real
    plain = _welch(lam, service.mean, service.scv, 0.0, tau)["time"]
    assert time - plain == pytest.approx(theory["time"] - plain, rel=0.1)


def _paced(gap: float) -> list[float]:
    """Times in a 1 ms deterministic station waking as (4 ms, 10 ms), requests `gap` apart."""
    env = simpy.Environment()
    times: list[float] = []
    st = Station(
        env, servers=1, index=0, queue_capacity=None,
        sampler=service_sampler(ServiceTime(dist="deterministic", mean_s=0.001),
                                np.random.default_rng(0)),
        on_leave=lambda r, _w: times.append(env.now - r[1]), wake=(0.004, 0.01),
    )  # fmt: skip

    def source():
        for _ in range(50):
            yield env.timeout(gap)
            st.arrive([0, env.now, env.now, 0])

    env.process(source())
    env.run()
    return times


def test_a_request_right_behind_another_finds_the_station_awake():
    # deterministic arrivals `gap` apart, 1 ms of service: each finds it idle for
    # g = gap - 1 ms - D(g) and pays D(g) = penalty (1 - e^(-g / tau)); 2 ms apart, g is
    # 0.59 ms and D 0.23 ms of the 4; 100 ms apart, nearly the whole 4 ms
    def steady(gap: float) -> float:
        extra = 0.0
        for _ in range(200):
            extra = 0.004 * -math.expm1(-(gap - 0.001 - extra) / 0.01)
        return extra

    for gap, expected in ((0.002, steady(0.002)), (0.1, steady(0.1))):
        times = _paced(gap)
        # the first one woke from the station's sleep before the run: the whole penalty
        assert times[0] == pytest.approx(0.001 + 0.004)
        # (the queue that first wake-up built, and the ripple after it, are gone by the 20th)
        assert np.mean(times[20:]) == pytest.approx(0.001 + expected, rel=1e-6)


def test_the_fluid_engine_adds_the_mean_wake_up_at_each_ticks_load():
    service = ServiceTime(dist="exponential", mean_s=0.001)
    lam = np.array([0.0, 20.0, 150.0, 600.0])
    log = TickLog.empty(len(lam))
    log.arrivals[: len(lam)] = lam
    log.served[:] = lam
    log.servers[:] = 1
    shape = ServiceShape.of(service)
    plain = station_ticks(log, shape, 1.0)
    woken = station_ticks(log, shape, 1.0, wake=(0.001, 0.01))
    rho = lam * 0.001
    expected = (1.0 - rho) * 0.001 / (1.0 + lam * 0.01)
    np.testing.assert_allclose(woken.latency_mean - plain.latency_mean, expected, rtol=1e-9)
    np.testing.assert_allclose(woken.d - plain.d, expected, rtol=1e-9)
    # the wait is the queue's: waking is service, as in the exact engine
    np.testing.assert_allclose(woken.wait_mean, plain.wait_mean)
    # at 20 requests/s a request finds it idle most of the time, after ~50 ms: nearly all of it
    assert expected[1] == pytest.approx(0.98 * 0.001 / 1.2)


def test_a_request_sent_right_behind_a_response_skips_the_wake_up():
    # two sources, 100 ms apart each: source 0 always wakes the station, source 1 (a request
    # its rider sends right behind a response: `CompiledPlatform.awake`) never, and a source
    # awake half the time pays half the penalty on average
    env = simpy.Environment()
    times: dict[int, list[float]] = {0: [], 1: [], 2: []}
    st = Station(
        env, servers=1, index=0, queue_capacity=None,
        sampler=service_sampler(ServiceTime(dist="deterministic", mean_s=0.001),
                                np.random.default_rng(0)),
        on_leave=lambda r, _w: times[r[0]].append(env.now - r[1]), wake=(0.004, 0.01),
        awake=[0.0, 1.0, 0.5], rng=np.random.default_rng(7),
    )  # fmt: skip

    def source():
        for i in range(3000):
            yield env.timeout(0.1)
            st.arrive([i % 3, env.now, env.now, 0])

    env.process(source())
    env.run()
    full = 0.004 * -math.expm1(-(0.1 - 0.001) / 0.01)
    assert np.mean(times[0][1:]) == pytest.approx(0.001 + full, rel=1e-4)  # idle 95-99 ms
    assert np.max(times[1]) == pytest.approx(0.001)
    assert np.mean(times[2]) == pytest.approx(0.001 + full / 2, rel=0.05)
