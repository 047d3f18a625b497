"""Per-request-type service times at one shared FIFO station, against Pollaczek-Khinchine.

Two Poisson classes share a single server: class A exponential, mean 2 ms, at 150/s; class B
lognormal, mean 10 ms, at 40/s (utilization 0.7). FIFO makes every class wait the same M/G/1
time, Wq = lambda E[S^2] / (2 (1 - rho)), with the mixture's second moment
E[S^2] = sum_i (lambda_i / lambda) m_i^2 (1 + cv_i^2), and class i stays Wq + E[S_i]. The
check runs on the engine's model directly (constant rates, the exact formula), and through a
platform architecture's schema, compile and exact engine, where the rates follow a real
evening ramp and theory is P-K tick by tick (the queue relaxes in well under a second, the
load changes by a few % a minute). As in test_exact_theory, intervals are widened to 99 %
and must be narrow, and the two classes are told apart by their 8 ms of service.

Class B's cv is 1.0 in the fast checks: the spread of a simulated mean wait grows with
E[S^3], and at cv 1.5 (e^(3 sigma^2) = 34 times the cube of the mean) a +-10 % interval
needs some three million requests, which the slow check runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.factories import interval99
from twin.config.architecture import REQUEST_TYPES, Architecture
from twin.config.loader import load_platform
from twin.config.network import RateSchedule, ServiceTime
from twin.platform.scenario_riders import scenario_population
from twin.runs.compile import compile_platform
from twin.sim.exact.engine import run_model
from twin.sim.exact.model import ExactModel, SourceModel, StationModel, from_platform
from twin.sim.exact.platform import run_exact_platform
from twin.sim.fluid import run_fluid

FAST = ServiceTime(dist="exponential", mean_s=0.002)
SLOW = ServiceTime(dist="lognormal", mean_s=0.010, cv=1.0)
REPLICATIONS = 8
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _pk_wait(rates: np.ndarray, services: list[ServiceTime]) -> np.ndarray:
    """M/G/1 mean wait per row of class rates (rows: ticks, columns: classes)."""
    means = np.array([s.mean for s in services])
    second = np.array([s.mean**2 * (1 + s.scv) for s in services])
    rho = rates @ means
    return (rates @ second) / (2 * (1 - rho))


def _check_class(block: dict, expected_s: float, replications: int) -> None:
    low, high = interval99(block["ci95"], replications)
    assert low <= expected_s <= high, f"{expected_s * 1e3:.3f} ms outside [{low}, {high}] s"
    assert (high - low) / 2 < 0.10 * expected_s, "interval too wide to mean anything"


@pytest.mark.parametrize(
    ("cv", "requests"),
    [(1.0, 400_000), pytest.param(1.5, 3_200_000, marks=pytest.mark.slow)],
)
def test_two_classes_at_one_server_wait_alike_and_keep_their_own_service(
    cv: float, requests: int
) -> None:
    slow = ServiceTime(dist="lognormal", mean_s=0.010, cv=cv)
    rates = {"a": 150.0, "b": 40.0}
    station = StationModel(
        name="q",
        servers=1,
        service=ServiceTime(dist="deterministic", mean_s=0.5),  # nobody takes it: a trap
        service_by_source=(("a", FAST), ("b", slow)),
    )
    per_rep = requests / REPLICATIONS / sum(rates.values())
    model = ExactModel(
        name="two-classes",
        kind="network",
        duration_s=per_rep,
        interval_s=per_rep / 10,
        warmup_s=per_rep / 10,
        seed=3,
        stations=(station,),
        sources=tuple(
            SourceModel(name, RateSchedule(points=((0.0, r),)), "q") for name, r in rates.items()
        ),
    )
    summary = run_model(model, replications=REPLICATIONS).summary
    wq = float(_pk_wait(np.array([[150.0, 40.0]]), [FAST, slow])[0])  # 15.3 ms at cv 1
    assert summary["services"]["q"]["utilization_mean"] == pytest.approx(0.7, rel=0.02)
    _check_class(summary["services"]["q"]["wait_ms"], wq, REPLICATIONS)
    a, b = (summary["requests"][n]["latency_ms"] for n in ("a", "b"))
    _check_class(a, wq + FAST.mean, REPLICATIONS)
    _check_class(b, wq + slow.mean, REPLICATIONS)
    # Same wait, own service: B stays 8 ms longer than A (the shared waits mostly cancel).
    assert (b["mean"] - a["mean"]) / 1e3 == pytest.approx(slow.mean - FAST.mean, abs=1e-3)


def _shared_api(riders: int) -> Architecture:
    """Segments and telemetry at one single-server `api` in their own times; the other
    types cross a wide `edge`; the ingest flows land in storage (no queue)."""
    station = {
        "servers_per_instance": 1,
        "service": {"dist": "exponential", "mean_s": 0.005},
        "service_by_request": {
            "segment": FAST.model_dump(exclude_none=True),
            "telemetry": SLOW.model_dump(exclude_none=True),
        },
    }
    edge = {"servers_per_instance": 10_000, "service": {"dist": "deterministic", "mean_s": 1e-3}}
    common = {"plane": "service", "kind": "compute", "monthly_usd": 1}
    return Architecture.model_validate(
        {
            "name": "shared-api",
            "riders": riders,
            "video": {"max_rendition": "720p"},
            "components": {
                "edge": {"label": "edge", **common, "station": edge},
                "api": {"label": "api", **common, "station": station},
                "lake": {"label": "lake", "plane": "state", "kind": "storage", "monthly_usd": 1},
            },
            "routes": {
                t: ["api"] if t in ("segment", "telemetry") else ["edge"] for t in REQUEST_TYPES
            },
            "ingest": {"processor": "lake", "store": "lake", "persist": "lake"},
        }
    )


RIDERS = 15_000


@pytest.fixture(scope="module")
def evening():
    """A 10-minute evening ramp at 15,000 riders: the api goes from utilization 0.52 to 0.63."""
    overrides = [f"population.riders={RIDERS}", "duration_s=600"]
    scenario, _ = load_platform(SCENARIOS / "daily-peak.yaml", overrides)
    compiled = compile_platform(scenario, _shared_api(RIDERS), scenario_population(scenario))
    result = run_exact_platform(
        compiled, name=scenario.name, seed=5, replications=4, riders=False
    )
    return scenario, compiled, result


def test_platform_request_types_wait_alike_and_keep_their_own_service(evening) -> None:
    scenario, compiled, exact = evening
    api = compiled.services["api"]
    assert api.own_service is not None and api.own_service.mean == 0.005
    assert dict(api.service_by_request) == {"segment": FAST, "telemetry": SLOW}
    model = from_platform(compiled, scenario.name, scenario.seed, 60.0)
    stations = {st.name: st for st in model.stations}
    station = stations["api"]
    assert station.service == api.own_service  # the other types' time, not the mixture
    assert station.service_by_source == (("segment", FAST), ("telemetry", SLOW))
    rates = np.column_stack([compiled.demand["segment"], compiled.demand["telemetry"]])
    wq = _pk_wait(rates, [FAST, SLOW])  # P-K at each tick
    requests = exact.summary["requests"]
    for column, (rtype, own) in enumerate((("segment", FAST), ("telemetry", SLOW))):
        expected = float(np.average(wq, weights=rates[:, column])) + own.mean
        _check_class(requests[rtype]["latency_ms"], expected, 4)
    gap = requests["telemetry"]["latency_ms"]["mean"] - requests["segment"]["latency_ms"]["mean"]
    assert gap / 1e3 == pytest.approx(SLOW.mean - FAST.mean, abs=1e-3)
    busy = float(np.mean(rates @ [FAST.mean, SLOW.mean]))  # 0.58
    assert exact.summary["services"]["api"]["utilization_mean"] == pytest.approx(busy, rel=0.02)


def test_fluid_engine_serves_the_mixture_at_the_exact_utilization(evening) -> None:
    _, compiled, exact = evening
    fluid = run_fluid(compiled, seed=5).summary["services"]["api"]
    assert fluid["utilization_mean"] == pytest.approx(
        exact.summary["services"]["api"]["utilization_mean"], rel=0.02
    )
    # The mixture has P-K's moments, so the station's mean latency (the FIFO wait all types
    # share plus the mean service) is P-K's tick by tick.
    rates = np.column_stack([compiled.demand["segment"], compiled.demand["telemetry"]])
    sojourn = _pk_wait(rates, [FAST, SLOW]) + rates @ [FAST.mean, SLOW.mean] / rates.sum(axis=1)
    expected = float(np.average(sojourn, weights=rates.sum(axis=1)))
    assert fluid["latency_ms"]["mean"] / 1e3 == pytest.approx(expected, rel=0.03)
