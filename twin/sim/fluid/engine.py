"""`run_fluid`: the fluid engine's entry point, returning the same `RunResult` as `run_exact`.

The run is cut into ticks of `tick_s` (shortened a little if needed so that a whole number of
them spans the run). Bare networks go to twin.sim.fluid.network, compiled platforms to
twin.sim.fluid.platform; both fill the records twin.sim.summary turns into summary.json.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from twin.config.limits import too_many_ticks
from twin.config.network import NetworkScenario
from twin.errors import InputError
from twin.sim.fluid.network import network_flows, network_replication
from twin.sim.fluid.platform import run_platform
from twin.sim.records import Grid, ReplicationRecord
from twin.sim.result import RunResult
from twin.sim.summary import summarize, timeseries, warmup_index

__all__ = ["run_fluid", "tick_grid"]

# progress(simulated_seconds_done, simulated_seconds_total)
Progress = Callable[[float, float], None]


def tick_grid(duration_s: float, tick_s: float) -> tuple[int, float]:
    """Number of ticks and their width: as close to `tick_s` as a whole number allows."""
    if not tick_s > 0:
        raise InputError("--tick", None, "must be > 0 seconds")
    problem = too_many_ticks(duration_s, tick_s)
    if problem:
        raise InputError("--engine", "fluid", problem)
    ticks = max(1, math.ceil(duration_s / tick_s - 1e-9))
    return ticks, duration_s / ticks


def run_fluid(
    scenario: Any,
    *,
    seed: int | None = None,
    replications: int = 1,
    tick_s: float = 1.0,
    progress: Progress | None = None,
) -> RunResult:
    """Simulate `scenario` (a NetworkScenario or a compiled platform) on the fluid engine."""
    if replications < 1:
        raise InputError("--replications", None, "must be >= 1")
    if not isinstance(scenario, NetworkScenario):
        return run_platform(
            scenario, seed=seed, replications=replications, tick_s=tick_s, progress=progress
        )
    started = time.perf_counter()
    seed = scenario.seed if seed is None else seed
    grid = Grid.for_run(scenario.duration_s, scenario.timeseries_interval_s)
    ticks, width = tick_grid(scenario.duration_s, tick_s)
    report = None if progress is None else _reporter(progress, grid.duration_s)
    flows = network_flows(scenario, ticks, width, report)
    records = [
        network_replication(scenario, flows, grid, seed=seed, replication=r)
        for r in range(replications)
    ]
    meta = {
        "scenario": scenario.name,
        "kind": "network",
        "engine": "fluid",
        "seed": seed,
        "tick_s": round(width, 9),
    }
    return _result(records, scenario.warmup_s, meta, started)


def _reporter(progress: Progress, total: float) -> Callable[[float], None]:
    done = [0.0]

    def tick(dt: float) -> None:
        done[0] = min(done[0] + dt, total)
        progress(done[0], total)

    return tick


def _result(
    records: list[ReplicationRecord], warmup_s: float | str, meta: dict[str, Any], started: float
) -> RunResult:
    w = warmup_index(records, warmup_s)
    summary = summarize(records, w, {**meta, "wall_seconds": 0.0})
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    return RunResult(summary=summary, timeseries=timeseries(records))
