"""Real summaries, one per way of making one: both engines on a bare network and on a platform
(run through `twin run`, small and short), a drill's summary made by `drill_summary` from
records the drill's own recorder wrote, a drill's `predicted.json`, and the summaries of real
drills (`scenarios/calibration`, `scenarios/validation`, and `data/`: a repeated drill and
an incident replay, made by `twin drill --target local`, their paths made relative).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
DATA = Path(__file__).parent / "data"

NETWORK = ["mmc-example", "--set", "duration_s=4000", "--set", "warmup_s=400"]
PLATFORM = ["live-broadcast-failure", "--riders", "1000", "--set", "duration_s=2400"]
RUNS = {
    "network-exact": [*NETWORK, "--engine", "exact", "--replications", "2", "--precision", "50%"],
    "network-fluid": [*NETWORK, "--engine", "fluid"],
    # no steady state: `analytic` says why instead of predicting
    "network-unstable": [*NETWORK, "--set", "network.stations.api.servers=3"],
    "platform-fluid": [*PLATFORM, "--engine", "fluid"],
    "platform-exact": [*PLATFORM, "--engine", "exact"],
}
FILES = {
    **{f"drill-{p.parent.name}": p for p in sorted(SCENARIOS.glob("*/*/summary.json"))},
    **{p.stem: p for p in sorted(DATA.glob("*.json"))},
}
NAMES = [*RUNS, *FILES, "drill-from-records", "predicted"]


@pytest.fixture(scope="session")
def make_summary(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Any]]:
    """The summary called `name` (one of NAMES), made once per session; each call returns a
    fresh copy, as summary.json would read (a test may spoil it)."""
    made: dict[str, str] = {}

    def get(name: str) -> dict[str, Any]:
        if name not in made:
            made[name] = json.dumps(_make(name, tmp_path_factory.mktemp(name)), allow_nan=False)
        return json.loads(made[name])

    return get


@pytest.fixture(params=NAMES)
def summary(request: pytest.FixtureRequest, make_summary: Callable) -> dict[str, Any]:
    """Each real summary in turn."""
    return make_summary(request.param)


def _make(name: str, tmp: Path) -> dict[str, Any]:
    if name in FILES:
        return json.loads(FILES[name].read_text(encoding="utf-8"))
    if name == "drill-from-records":
        return drill_from_records(tmp)
    if name == "predicted":
        return predicted()
    from twin.cli.app import main

    scenario, *args = RUNS[name]
    out = tmp / "run"
    assert main(["run", str(SCENARIOS / f"{scenario}.yaml"), *args, "--out", str(out), "-q"]) == 0
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def _drill_workload() -> tuple[Any, Any]:
    from twin.drill.run import DrillOptions, compile_drill

    options = DrillOptions(scenario=SCENARIOS / "daily-peak.yaml", out=Path("."),
                           target="local", scale=3e-4, speedup=180.0)  # fmt: skip
    scenario, _architecture, _compiled, work = compile_drill(options)
    return scenario, work


def drill_from_records(tmp: Path) -> dict[str, Any]:
    """`drill_summary` on what the load processes' recorder wrote for a 20 s drill (joins, one
    in five failing, and segments); the `drill` block as `twin drill` fills it, runs included."""
    from locustfiles.drill_recorder import Recorder
    from twin.drill.measure import merge_records
    from twin.drill.summary import drill_summary
    from twin.drill.tracking import tracking, window_s
    from twin.results.slo import parse_expression

    scenario, work = _drill_workload()
    rng = np.random.default_rng(7)
    rec = Recorder(t0=1000.0)
    for k in range(40 * work.duration_s):
        sent = 1000.0 + k / 40.0
        name, ok = ("join", k % 10 != 0) if k % 4 == 0 else ("segment", True)
        rec.record(name, sent, sent, sent + rng.exponential(0.02), ok, nbytes=1500)
        if not ok:
            rec.note_error(name, "HTTP 503")
    rec.count("segments", 30)
    rec.count("segments_degraded", 3)
    rec.dump(tmp / "load")
    measured = merge_records(tmp / "load")
    seconds = work.duration_s
    tracked = tracking(work.riders, work.riders * 1.02, work.total_rate, work.total_rate * 0.97,
                       window=window_s(seconds))  # fmt: skip
    locust = {"join": {"count": 200, "failures": 20, "mean_ms": 21.5, "p50_ms": 15.0,
                       "p95_ms": 60.0, "p99_ms": None, "max_ms": 88.1,
                       "requests_per_s": 10.0}}  # fmt: skip
    run = {"folder": "run-1", "t0": 1000.0, "locust_wall_s": 21.3, "requests_total": 800,
           "errors_total": 20, "load_cpu_s": None, "target_cpu_s": None, "tracking": tracked,
           "locust": locust}  # fmt: skip
    drill = {
        "target": "local", "host": "http://127.0.0.1:8080", "scale": work.scale,
        "speedup": work.speedup, "duration_s": seconds, "workers": 1, "repeat": 2, "t0": 1000.0,
        "locust_wall_s": 21.3, "tracking": tracked, "locust": locust,
        "faults_applied": [
            {"t_s": 4.0, "at": 4.002, "paused_consumers": 2, "origin_down": False,
             "origin_egress_bps": None, "routes": {"join": {"error_ratio": 0.1}}},
            {"t_s": 9.0, "error": "admin API answered 403"},
            {"t_s": 12.0, "at": 12.001, "routes": {"join": None}},
        ],
        "load_cpu_s": None, "target_cpu_s": 3.2, "scenario_architecture": scenario.architecture,
        "scenario_file": "scenarios/daily-peak.yaml", "runs": [run, {**run, "folder": "run-2"}],
    }  # fmt: skip
    meta = {"scenario": scenario.name, "architecture": None, "riders": 900.0,
            "seed": scenario.seed, "wall_seconds": 30.5}  # fmt: skip
    lag = {"p50": 1.5, "p99": 4.0, "max": 4.5, "samples": 120}
    slos = [parse_expression("requests.join.latency_ms.p99<=500"),
            parse_expression("experience.downshifts<=0")]  # fmt: skip
    return drill_summary(meta, work, measured, drill=drill, lag=lag, slos=slos)


def predicted() -> dict[str, Any]:
    """A drill's `predicted.json`: the exact engine on the drill's workload."""
    from twin.drill.predict import predict, target_architecture

    scenario, work = _drill_workload()
    architecture = target_architecture("reference-platform", SCENARIOS / "daily-peak.yaml")
    return predict(scenario, architecture, work, seed=3, replications=1)
