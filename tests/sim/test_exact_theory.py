"""The exact engine against queueing theory: Erlang C, M/M/c/K and Pollaczek-Khinchine.

Each check runs with a fixed seed (so it is reproducible, not flaky) and asserts two things:
the simulated confidence interval covers the formula, and the interval is narrow, so a test
cannot pass just because the engine reported a wide interval. The summary's interval is 95 %;
with some twenty interval checks here, one in three runs of the suite would see a 95 % miss
with nothing wrong, so the checks widen it to 99 % (same mean, same spread, t quantile 0.995).
"""

from __future__ import annotations

import pytest

from tests.factories import interval99, single_queue
from twin.analytic.erlang import mmc
from twin.analytic.finite import mmck
from twin.sim.exact import run_exact

CUSTOMERS = 600_000
REPLICATIONS = 8


def _interval99(ci95_ms: list[float]) -> tuple[float, float]:
    return interval99(ci95_ms, REPLICATIONS)


def _run_mmc(servers: int, rho: float, seed: int = 7) -> dict:
    rate = rho * servers
    per_rep = CUSTOMERS / rate / REPLICATIONS
    scenario = single_queue(
        rate=rate, servers=servers, duration_s=per_rep, warmup_s=per_rep * 0.05, seed=seed
    )
    return run_exact(scenario, replications=REPLICATIONS).summary["services"]["q"]


@pytest.mark.parametrize("servers", [1, 2, 8])
@pytest.mark.parametrize("rho", [0.5, 0.8, 0.9])
def test_mean_wait_and_sojourn_intervals_cover_erlang_c(servers: int, rho: float) -> None:
    theory = mmc(rho * servers, 1.0, servers)
    q = _run_mmc(servers, rho)
    for key, expected in (("wait_ms", theory.wait_mean), ("latency_ms", theory.sojourn_mean)):
        low, high = _interval99(q[key]["ci95"])
        assert low <= expected <= high, f"{key}: {expected:.4f} s outside [{low:.4f}, {high:.4f}]"
        assert (high - low) / 2 < 0.2 * expected, f"{key} interval too wide to mean anything"
    assert q["utilization_mean"] == pytest.approx(rho, rel=0.02)


def test_sojourn_percentiles_follow_the_mmc_distribution() -> None:
    theory = mmc(3.6, 1.0, 4)
    q = _run_mmc(4, 0.9, seed=11)
    for key, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert q["latency_ms"][key] / 1000 == pytest.approx(theory.sojourn_quantile(p), rel=0.06)


def test_finite_queue_drops_as_mmck_predicts() -> None:
    theory = mmck(1.8, 1.0, 2, 3)  # offered load 0.9 per server, 3 places in the queue
    scenario = single_queue(rate=1.8, servers=2, queue_capacity=3, duration_s=100_000, seed=3)
    q = run_exact(scenario, replications=3).summary["services"]["q"]
    assert q["dropped"] / q["arrivals"] == pytest.approx(theory.blocking, rel=0.05)
    assert q["wait_ms"]["mean"] / 1000 == pytest.approx(theory.wait_mean, rel=0.05)
    assert q["utilization_mean"] == pytest.approx(theory.utilization, rel=0.03)


@pytest.mark.parametrize(
    ("dist", "extra", "scv"),
    [("deterministic", {}, 0.0), ("gamma", {"cv": 2.0}, 4.0), ("lognormal", {"cv": 0.5}, 0.25)],
)
def test_mg1_mean_wait_matches_pollaczek_khinchine(dist: str, extra: dict, scv: float) -> None:
    rho = 0.8
    expected = rho * (1 + scv) / (2 * (1 - rho))  # P-K mean wait with E[S] = 1 s
    per_rep = CUSTOMERS / rho / REPLICATIONS
    scenario = single_queue(
        rate=rho, dist=dist, duration_s=per_rep, warmup_s=per_rep * 0.05, seed=5, **extra
    )
    q = run_exact(scenario, replications=REPLICATIONS).summary["services"]["q"]
    low, high = _interval99(q["wait_ms"]["ci95"])
    assert low <= expected <= high, f"{expected:.4f} s outside [{low:.4f}, {high:.4f}]"
    assert (high - low) / 2 < 0.2 * expected
