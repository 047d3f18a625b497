"""The fluid engine agrees with the exact engine where both can run.

Per-service mean latency within 5 % and p99 within 10 %, at utilizations up to 0.9, steady
and through a surge that overloads a station for two minutes. The exact side runs enough
replications that its own 95 % interval is asserted to be well inside the tolerance first.
Fluid runs use two replications so the summary's mean is the per-replication mean of
requests (one replication would give a mean of 20 equal-time batch means, which weights a
surge's few minutes like any other).
"""

from __future__ import annotations

import pytest

from tests.factories import scenario, single_queue, station
from twin.sim.exact import run_exact
from twin.sim.fluid import run_fluid

MEAN_TOL, P99_TOL = 0.05, 0.10


def _agree(exact, fluid, names, *, ci_max: float = 0.035) -> None:
    for name in names:
        e = exact.summary["services"][name]["latency_ms"]
        f = fluid.summary["services"][name]["latency_ms"]
        half = (e["ci95"][1] - e["ci95"][0]) / 2.0
        assert half < ci_max * e["mean"], f"{name}: the exact engine is too noisy to judge"
        assert f["mean"] == pytest.approx(e["mean"], rel=MEAN_TOL), name
        assert f["p99"] == pytest.approx(e["p99"], rel=P99_TOL), name


def test_mm32_at_utilization_09() -> None:
    sc = single_queue(rate=72.0, servers=32, mean_s=0.4, duration_s=300.0, warmup_s=50.0)
    _agree(run_exact(sc, replications=8), run_fluid(sc, replications=2), ["q"])


def test_mm1_at_utilization_07() -> None:
    sc = single_queue(rate=70.0, servers=1, mean_s=0.01, duration_s=1500.0, warmup_s=50.0)
    _agree(run_exact(sc, replications=3), run_fluid(sc, replications=2), ["q"])


def test_network_with_routing_and_feedback() -> None:
    net = {
        "sources": [{"name": "r", "rate_per_s": 20.0, "to": "a"}],
        "stations": {
            "a": station(2, 0.05, routes={"b": 0.3, "exit": 0.7}),
            "b": station(1, 0.025, routes={"a": 0.4, "exit": 0.6}),
        },
    }
    sc = scenario(net, duration_s=1500.0, warmup_s=50.0)
    exact, fluid = run_exact(sc, replications=4), run_fluid(sc, replications=2)
    _agree(exact, fluid, ["a", "b"])
    e, f = exact.summary["requests"]["r"], fluid.summary["requests"]["r"]
    assert f["latency_ms"]["mean"] == pytest.approx(e["latency_ms"]["mean"], rel=MEAN_TOL)
    assert f["latency_ms"]["p99"] == pytest.approx(e["latency_ms"]["p99"], rel=P99_TOL)


def test_surge_that_overloads_for_two_minutes_then_recovers() -> None:
    # 20 req/s of capacity at rho 0.6, then rho 2 for 120 s: 2400 requests pile up (two
    # minutes of delay) and drain in five minutes.
    rate = [[0, 12.0], [300, 40.0], [420, 12.0]]
    sc = single_queue(rate=rate, servers=2, mean_s=0.1, duration_s=900.0)
    exact, fluid = run_exact(sc, replications=20), run_fluid(sc, replications=2)
    _agree(exact, fluid, ["q"])
    assert exact.summary["services"]["q"]["utilization_peak"] == pytest.approx(1.0, abs=1e-3)
    assert fluid.summary["services"]["q"]["utilization_peak"] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("servers", "rate", "duration_s"), [(1, 0.9, 400_000.0), (4, 3.6, 100_000.0)]
)
def test_long_runs_at_utilization_09(servers: int, rate: float, duration_s: float) -> None:
    # About 2.9 million customers on the exact side, so its interval is within 2.5 %.
    sc = single_queue(rate=rate, servers=servers, duration_s=duration_s, warmup_s=2000.0)
    _agree(
        run_exact(sc, replications=8),
        run_fluid(sc, replications=2, tick_s=10.0),
        ["q"],
        ci_max=0.025,
    )


def test_small_finite_queue_drops_and_truncated_tail() -> None:
    # M/M/4 with room for 6 at utilization 0.9: about 5 % dropped, and the wait's tail is cut
    # at the room (an untruncated exponential would put p99 some 20 % too high).
    sc = single_queue(rate=3.6, servers=4, queue_capacity=6, duration_s=30_000.0, warmup_s=100.0)
    exact, fluid = run_exact(sc, replications=4), run_fluid(sc, replications=2)
    _agree(exact, fluid, ["q"])
    e, f = exact.summary["services"]["q"], fluid.summary["services"]["q"]
    assert f["dropped"] / f["arrivals"] == pytest.approx(e["dropped"] / e["arrivals"], rel=0.05)
