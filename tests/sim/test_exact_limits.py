"""A station's limits against queueing theory: a timeout (M/M/1+D) and a rate gate (M/D/1),
and a platform gate's token bucket (a tick's worth at once, then the rate).

A station with a timeout: requests that would wait longer give up, as M/M/1+D says.

In M/M/1 with deterministic patience tau (a request leaves when its wait would pass tau),
the virtual waiting time has an atom p0 at zero and density lambda p0 e^{-(mu - lambda) v}
up to tau, so P(abandon) = rho a (1 - rho) / (1 - rho^2 a) with a = e^{-(mu - lambda) tau}
(Zeltyn and Mandelbaum, "Call centers with impatient customers", 2005, for n = 1). It holds in
overload too (rho > 1), which is where platforms time out: the check runs at rho 0.8 and 1.2.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from tests.factories import single_queue
from twin.sim.exact.engine import run_model
from twin.sim.exact.model import from_network


def abandon_probability(lam: float, mu: float, tau: float) -> float:
    rho, a = lam / mu, math.exp(-(mu - lam) * tau)
    return rho * a * (1.0 - rho) / (1.0 - rho * rho * a)


@pytest.mark.parametrize("rho", [0.8, 1.2])
def test_share_of_requests_that_give_up_matches_m_m_1_plus_d(rho: float) -> None:
    tau = 2.0
    model = from_network(single_queue(rate=rho, duration_s=100_000.0, warmup_s=2_000.0, seed=5))
    station = replace(model.stations[0], timeout_s=tau)
    summary = run_model(replace(model, stations=(station,)), replications=4).summary
    q = summary["services"]["q"]
    gave_up = q["dropped"] / q["arrivals"]
    theory = abandon_probability(rho, 1.0, tau)
    assert gave_up == pytest.approx(theory, abs=0.005)
    # nobody who was served waited past the timeout: the sojourn's p99 is under tau + service
    assert q["wait_ms"]["mean"] < tau * 1000.0


def test_a_rate_gate_holds_requests_as_an_m_d_1_queue_at_its_rate() -> None:
    """Poisson arrivals at 8/s through a gate of 10/s into a station with no wait of its own:
    the gate spaces releases 1/10 s apart, an M/D/1 queue with Wq = rho / (2 mu (1 - rho)) =
    0.2 s, and the station's latency counts it (its service is a microsecond)."""
    duration = 15_000.0
    base = from_network(
        single_queue(rate=8.0, servers=50, mean_s=1e-6, dist="deterministic",
                     duration_s=duration, warmup_s=1_000.0, seed=9)
    )  # fmt: skip
    ticks = int(duration)
    station = replace(base.stations[0], gate_rate=np.full(ticks, 10.0), gate_sources=("arrivals",))
    summary = run_model(replace(base, stations=(station,)), replications=4).summary
    q = summary["services"]["q"]
    rho, mu = 0.8, 10.0
    assert q["latency_ms"]["mean"] / 1000.0 == pytest.approx(rho / (2 * mu * (1 - rho)), rel=0.05)
    assert q["completed"] == pytest.approx(q["arrivals"], rel=1e-3)  # nothing lost below the rate


def test_a_gate_at_a_rate_of_zero_refuses_every_request() -> None:
    base = from_network(single_queue(rate=5.0, duration_s=200.0, seed=2))
    station = replace(base.stations[0], gate_rate=np.zeros(200), gate_sources=("arrivals",))
    q = run_model(replace(base, stations=(station,))).summary["services"]["q"]
    assert q["arrivals"] > 0 and q["dropped"] == q["arrivals"] and q["completed"] == 0


def test_a_platform_gate_lets_a_ticks_worth_through_at_once() -> None:
    """A token bucket of rate 10/s and a 1 s burst (a platform's gate, as the fluid engine
    drains a tick's worth per tick): after a quiet spell, 10 requests arriving together all
    pass at once, the 11th waits 1/10 s, the 12th 2/10 s; and in overload no more than 10 a
    second pass in the long run."""
    import simpy

    from twin.sim.exact.gate import RateGate

    env = simpy.Environment()
    passed: list[float] = []

    class _Into:
        arrivals = dropped = 0

        def arrive(self, request: list, since: float | None = None) -> None:
            passed.append(env.now)

    gate = RateGate(
        env, _Into(), rate=np.full(100, 10.0), tick_s=1.0, sources=frozenset({0}),
        timeout_s=None, on_leave=lambda _r, _w: None, burst_s=1.0,
    )  # fmt: skip

    def burst(at: float, n: int):  # type: ignore[no-untyped-def]
        yield env.timeout(at - env.now)
        for _ in range(n):
            gate.arrive([0, env.now, env.now, 0])

    env.process(burst(5.0, 12))
    env.run(until=6.0)
    assert passed[:10] == [5.0] * 10
    assert passed[10:] == pytest.approx([5.1, 5.2])
    passed.clear()
    env.process(burst(10.0, 300))  # 30 s of capacity at once
    env.run(until=40.0)
    assert len(passed) == 300
    assert sum(t <= 20.0 + 1e-9 for t in passed) == 10 + 100  # the burst, then 10 a second
    assert passed[-1] == pytest.approx(10.0 + 290 / 10.0)
