"""Arrivals at instants (`burst_source`) against the theory of a batch queue, and their part in
a tick's rate (`spread_rate`)."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from twin.sim.exact.model import spread_rate
from twin.sim.exact.source import burst_source


def _run(bursts, service_s: float, seed: int) -> tuple[list[float], list[float]]:
    """Bursts into one deterministic server: each request's arrival time and its wait."""
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    arrivals: list[float] = []
    waits: list[float] = []

    def job():
        t = env.now
        arrivals.append(t)
        with server.request() as req:
            yield req
            waits.append(env.now - t)
            yield env.timeout(service_s)

    instants = [(at, [(0, mean)]) for at, mean in bursts]
    emit = [lambda _then: env.process(job())]
    env.process(burst_source(env, instants, np.random.default_rng(seed), emit))
    env.run()
    return arrivals, waits


def test_each_burst_arrives_at_its_instant_a_poisson_number_of_requests():
    mean, count = 6.0, 4000
    bursts = tuple((10.0 * i, mean) for i in range(count))
    arrivals, _ = _run(bursts, 1e-3, seed=1)
    sizes = np.bincount(np.round(np.asarray(arrivals) / 10.0).astype(int), minlength=count)
    assert set(np.asarray(arrivals) % 10.0) == {0.0}  # nothing between the instants
    # Poisson: mean and variance both 6 (standard errors ~0.04 and ~0.2 over 4,000 bursts)
    assert sizes.mean() == pytest.approx(mean, abs=0.16)
    assert sizes.var() == pytest.approx(mean, abs=0.8)


def test_a_burst_waits_as_a_batch_queue_says():
    # N requests at once before one server of fixed time s: the k-th waits (k - 1) s, so the
    # mean wait per request is s E[N(N-1)] / (2 E[N]) = s lambda / 2 for N ~ Poisson(lambda)
    mean, service, count = 8.0, 0.01, 3000
    bursts = tuple((1.0 * i, mean) for i in range(count))  # 1 s apart: each burst drains first
    _, waits = _run(bursts, service, seed=2)
    assert np.mean(waits) == pytest.approx(service * mean / 2, rel=0.03)
    assert max(waits) < 1.0


def test_spread_rate_takes_each_burst_out_of_its_own_tick():
    t = np.arange(4, dtype=float) * 2.0  # ticks of 2 s
    rate = np.array([5.0, 5.0, 5.0, 1.0])
    out = spread_rate(t, 2.0, rate, ((2.5, 4.0), (7.9, 10.0), (0.0, 2.0)))
    assert out == pytest.approx([4.0, 3.0, 5.0, 0.0])  # never below 0


def test_each_rider_of_a_burst_sends_its_next_request_when_the_last_is_answered():
    # riders save ("a") then open the app ("b") through one server of 10 ms each: all saves
    # arrive at once; rider k's app open arrives when its save is served, at 10 k ms
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    seen: list[tuple[str, float]] = []

    def job(name, then):
        seen.append((name, env.now))
        with server.request() as req:
            yield req
            yield env.timeout(0.01)
        then(True)

    emit = [lambda then: env.process(job("a", then)), lambda then: env.process(job("b", then))]
    env.process(burst_source(env, [(1.0, [(0, 40.0), (1, 40.0)])], np.random.default_rng(5),
                             emit))  # fmt: skip
    env.run()
    saves = [t for name, t in seen if name == "a"]
    opens = [t for name, t in seen if name == "b"]
    assert len(saves) == len(opens) > 20  # every rider sends both (each step's mean is 40)
    assert set(saves) == {1.0}
    assert opens == pytest.approx([1.0 + 0.01 * k for k in range(1, len(opens) + 1)])


def test_a_step_with_fewer_requests_is_sent_by_that_share_of_riders():
    env = simpy.Environment()
    counts = [0, 0]

    def emit_for(i):
        def emit(then):
            counts[i] += 1
            then(True)

        return emit

    instants = [(float(t), [(0, 10.0), (1, 3.0)]) for t in range(2000)]
    env.process(burst_source(env, instants, np.random.default_rng(6), [emit_for(0), emit_for(1)]))
    env.run()
    assert counts[0] / 2000 == pytest.approx(10.0, abs=0.3)
    assert counts[1] / 2000 == pytest.approx(3.0, abs=0.15)
