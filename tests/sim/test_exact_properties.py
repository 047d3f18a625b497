"""Invariants of the exact engine on random small networks (Hypothesis)."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings

from tests.factories import scenario
from tests.strategies import networks
from twin.sim.exact import run_exact

PROPERTY = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(net=networks())
def test_no_request_is_lost(net: dict) -> None:
    """arrivals + in system at the start = completed + dropped + in system at the end."""
    summary = run_exact(scenario(net, duration_s=3000.0, warmup_s=300.0)).summary
    for name, s in summary["services"].items():
        balance = s["arrivals"] + s["in_system_start"] - s["completed"] - s["dropped"]
        assert balance == s["in_system_end"], name
    src = summary["requests"]["src"]
    assert src["count"] + src["errors"] <= src["arrivals"] + sum(
        s["in_system_start"] for s in summary["services"].values()
    )


@PROPERTY
@given(net=networks())
def test_queues_never_go_negative_and_utilization_stays_in_range(net: dict) -> None:
    result = run_exact(scenario(net, duration_s=3000.0))
    ts = result.timeseries
    assert (ts["queue_mean"] >= 0).all()
    assert (ts["in_system_mean"] >= ts["queue_mean"] - 1e-9).all()
    assert ((ts["utilization"] >= 0) & (ts["utilization"] <= 1 + 1e-9)).all()
    for name, s in result.summary["services"].items():
        cap = net["stations"][name]["queue_capacity"]
        if cap is not None:
            assert s["queue_mean"] <= cap + 1e-9


@PROPERTY
@given(net=networks())
def test_littles_law_holds_at_every_station(net: dict) -> None:
    """L = lambda W: time-average number in system = throughput x mean latency."""
    summary = run_exact(scenario(net, duration_s=20_000.0, warmup_s=1000.0)).summary
    for name, s in summary["services"].items():
        if s["completed"] < 2000:
            continue
        predicted = s["throughput_per_s"] * s["latency_ms"]["mean"] / 1000.0
        assert math.isclose(s["in_system_mean"], predicted, rel_tol=0.05, abs_tol=0.01), name


@settings(max_examples=5, deadline=None)
@given(net=networks())
def test_same_seed_same_summary_but_wall_time(net: dict) -> None:
    sc = scenario(net, duration_s=2000.0, warmup_s="auto")
    first, second = run_exact(sc, replications=2), run_exact(sc, replications=2)
    a, b = dict(first.summary), dict(second.summary)
    a.pop("wall_seconds"), b.pop("wall_seconds")
    assert a == b
    assert first.timeseries.equals(second.timeseries)


def test_another_seed_gives_another_run() -> None:
    net = {
        "sources": [{"name": "src", "rate_per_s": 1.0, "to": "a"}],
        "stations": {"a": {"servers": 1, "service": {"dist": "exponential", "mean_s": 0.5}}},
    }
    one = run_exact(scenario(net, seed=1, duration_s=2000)).summary["services"]["a"]
    two = run_exact(scenario(net, seed=2, duration_s=2000)).summary["services"]["a"]
    assert one["arrivals"] != two["arrivals"]
