"""The exact engine on an open network with feedback, against Jackson's theorem."""

from __future__ import annotations

import pytest

from tests.factories import interval99, scenario
from twin.analytic.jackson import analyze_network
from twin.sim.exact import run_exact

# Requests enter api; 30 % go on to db, which always sends them back to api (feedback).
# Traffic equations: lam_api = 1.2 + lam_db and lam_db = 0.3 lam_api, so lam_api = 1.714/s.
NETWORK = {
    "sources": [{"name": "web", "rate_per_s": 1.2, "to": "api"}],
    "stations": {
        "api": {
            "servers": 2,
            "service": {"dist": "exponential", "mean_s": 1.0},
            "routes": {"db": 0.3, "exit": 0.7},
        },
        "db": {
            "servers": 1,
            "service": {"dist": "exponential", "mean_s": 1.4},
            "routes": {"api": 1.0},
        },
    },
}


def test_feedback_network_matches_jackson() -> None:
    sc = scenario(NETWORK, duration_s=60_000.0, warmup_s=2000.0, seed=21)
    theory = analyze_network(sc)
    summary = run_exact(sc, replications=8).summary
    assert theory.stations["api"].arrival_rate == pytest.approx(1.2 / 0.7, rel=1e-9)
    for name, st in theory.stations.items():
        sim = summary["services"][name]
        assert sim["throughput_per_s"] == pytest.approx(st.arrival_rate, rel=0.02), name
        assert sim["utilization_mean"] == pytest.approx(st.utilization, rel=0.02), name
        low, high = interval99(sim["latency_ms"]["ci95"], 8)
        assert low <= st.sojourn_mean <= high, name
    end_to_end = summary["requests"]["web"]["latency_ms"]["mean"] / 1000
    assert end_to_end == pytest.approx(theory.sources["web"].latency_mean, rel=0.06)
