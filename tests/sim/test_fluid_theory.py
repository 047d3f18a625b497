"""The fluid engine against queueing theory: Erlang C, Pollaczek-Khinchine, Jackson, fluid limits.

A steady station in the fluid engine is exactly the stationary formula, so these checks are
tight (1-2 %): they pin the engine to theory at utilization 0.9 on every service law, and the
exact engine is pinned to the same theory by its own tests.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.factories import scenario, single_queue, station
from twin.analytic import analyze_network, mg1, mmc, mmck
from twin.sim.fluid import run_fluid
from twin.sim.fluid.service import ServiceShape, sojourn_histograms
from twin.sim.sketch import hist_quantile


def _q(result, name: str = "q") -> dict:
    return result.summary["services"][name]


@pytest.mark.parametrize(("servers", "rate"), [(1, 0.9), (4, 3.6), (16, 14.4)])
def test_mmc_at_utilization_09_matches_erlang_c(servers: int, rate: float) -> None:
    theory = mmc(rate, 1.0, servers)
    result = run_fluid(single_queue(rate=rate, servers=servers, duration_s=2000.0, warmup_s=100.0))
    got = _q(result)
    assert got["latency_ms"]["mean"] == pytest.approx(theory.sojourn_mean * 1e3, rel=0.005)
    assert got["wait_ms"]["mean"] == pytest.approx(theory.wait_mean * 1e3, rel=0.005)
    assert got["latency_ms"]["p99"] == pytest.approx(theory.sojourn_quantile(0.99) * 1e3, rel=0.015)
    assert got["utilization_mean"] == pytest.approx(0.9, rel=1e-9)
    # Little's law on the areas: L = lam W.
    assert got["in_system_mean"] == pytest.approx(rate * theory.sojourn_mean, rel=0.005)


@pytest.mark.parametrize(
    ("dist", "extra"), [("deterministic", {}), ("gamma", {"cv": 0.5}), ("lognormal", {"cv": 1.5})]
)
def test_mg1_mean_matches_pollaczek_khinchine(dist: str, extra: dict) -> None:
    scv = extra.get("cv", 0.0) ** 2
    theory = mg1(0.8, 1.0, scv)
    result = run_fluid(single_queue(rate=0.8, dist=dist, duration_s=2000.0, **extra))
    assert _q(result)["latency_ms"]["mean"] == pytest.approx(theory.sojourn_mean * 1e3, rel=0.005)


def test_deterministic_service_histogram_is_the_shifted_wait() -> None:
    # M/D/1 in the fluid engine: P(T <= x) = (1 - p) [x >= D] + p (1 - exp(-theta (x - D))).
    shape = ServiceShape.of(
        single_queue(rate=0.5, dist="deterministic").network.stations["q"].service
    )
    hist = sojourn_histograms(shape, np.array([0.4]), np.array([2.0]), np.array([0.0]))[0]
    assert hist.sum() == pytest.approx(1.0)
    expected = 1.0 + math.log(0.4 / 0.01) / 2.0  # p99: 1 - 0.4 e^{-2(x-1)} = 0.99
    assert hist_quantile(hist, 0.99) == pytest.approx(expected, rel=0.012)


def test_jackson_network_with_feedback_matches_traffic_equations() -> None:
    net = {
        "sources": [{"name": "web", "rate_per_s": 2.0, "to": "api"}],
        "stations": {
            "api": station(3, 1.0, routes={"db": 0.5, "exit": 0.5}),
            "db": station(1, 0.25, routes={"api": 0.4, "exit": 0.6}),
        },
    }
    sc = scenario(net, duration_s=3000.0, warmup_s=300.0)
    theory = analyze_network(sc)
    result = run_fluid(sc, replications=2)
    for name in ("api", "db"):
        got = _q(result, name)
        assert got["latency_ms"]["mean"] == pytest.approx(
            theory.stations[name].sojourn_mean * 1e3, rel=0.01
        )
        want_rate = theory.stations[name].arrival_rate
        assert got["throughput_per_s"] == pytest.approx(want_rate, rel=0.01)
    e2e = result.summary["requests"]["web"]["latency_ms"]["mean"]
    assert e2e == pytest.approx(theory.sources["web"].latency_mean * 1e3, rel=0.02)


def test_overload_builds_the_fluid_backlog_and_drains_it() -> None:
    # rho = 1.5 for 600 s on 10 req/s of capacity: 3000 requests pile up, then drain at 5/s.
    # In the minute before the surge ends the backlog grows from 2700 to 3000 (mean 2850);
    # what completes then arrived at 960-1000 s, behind (t - 600) x 5 requests: 180-200 s.
    sc = single_queue(rate=[[0, 5.0], [600, 15.0], [1200, 5.0]], servers=1, mean_s=0.1,
                      duration_s=3000.0).model_copy(update={"interval_s": 60.0})  # fmt: skip
    result = run_fluid(sc, replications=2)
    frame = result.timeseries.set_index("t_s")
    peak = frame["in_system_mean"].max()
    assert peak == pytest.approx(2850.0, rel=0.01)
    assert frame["in_system_mean"].idxmax() == 1140.0
    assert frame.loc[1140.0, "latency_ms_mean"] == pytest.approx(190_000.0, rel=0.02)
    got = _q(result)
    assert got["arrivals"] == pytest.approx(2 * (5 * 2400 + 15 * 600), rel=1e-6)  # two replications
    assert got["completed"] == got["arrivals"]  # drained before the end, nothing lost
    assert got["in_system_end"] <= 2  # back to L = rho / (1 - rho) = 1 per replication


def test_finite_queue_drops_the_overflow() -> None:
    sc = single_queue(rate=[[0, 5.0], [100, 20.0], [400, 5.0]], mean_s=0.1, queue_capacity=500,
                      duration_s=1000.0)  # fmt: skip
    got = _q(run_fluid(sc))
    # 10/s excess for 300 s = 3000 requests beyond capacity, 500 of them fit in the queue.
    assert got["dropped"] == pytest.approx(2500, abs=2)
    assert got["completed"] + got["dropped"] == pytest.approx(got["arrivals"], abs=2)


@pytest.mark.parametrize(("rate", "servers", "room"), [(0.8, 1, 5), (3.0, 4, 2), (3.9, 4, 10)])
def test_finite_queue_matches_mmck(rate: float, servers: int, room: int) -> None:
    theory = mmck(rate, 1.0, servers, room)
    sc = single_queue(rate=rate, servers=servers, queue_capacity=room, duration_s=2000.0)
    got = _q(run_fluid(sc, replications=2))
    assert got["dropped"] / got["arrivals"] == pytest.approx(theory.blocking, rel=0.005)
    assert got["latency_ms"]["mean"] == pytest.approx(theory.sojourn_mean * 1e3, rel=0.005)
    assert got["utilization_mean"] == pytest.approx(theory.utilization, rel=0.005)
