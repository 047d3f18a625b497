"""Replications of the exact engine, JMT's precision stopping rule, and the run's result.

`run_exact` runs K independent replications (each with its own streams derived from the seed)
or, with `precision`, keeps adding replications until every station's mean-latency 95 %
interval is within that relative half-width, as JMT stops its simulations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from twin.config.network import NetworkScenario
from twin.errors import InputError
from twin.sim.exact.replication import run_replication
from twin.sim.records import Grid, ReplicationRecord
from twin.sim.result import RunResult
from twin.sim.summary import summarize, timeseries, warmup_index

__all__ = ["MIN_PRECISION_REPLICATIONS", "precision_reached", "run_exact"]

MIN_PRECISION_REPLICATIONS = 3

# progress(simulated_seconds_done, simulated_seconds_total)
Progress = Callable[[float, float], None]


def run_exact(
    scenario: NetworkScenario,
    *,
    seed: int | None = None,
    replications: int = 1,
    precision: float | None = None,
    max_replications: int = 100,
    progress: Progress | None = None,
) -> RunResult:
    """Simulate `scenario` and summarise it (see twin.sim.summary for what is in the summary)."""
    if replications < 1:
        raise InputError("--replications", None, "must be >= 1")
    if precision is not None and not 0 < precision < 1:
        raise InputError("--precision", None, "must be a fraction between 0 and 1 (e.g. 0.02)")
    started = time.perf_counter()
    seed = scenario.seed if seed is None else seed
    grid = Grid.for_run(scenario.duration_s, scenario.timeseries_interval_s)
    planned = max(replications, MIN_PRECISION_REPLICATIONS if precision else 1)
    total = planned * grid.duration_s
    done = [0.0]

    def tick(dt: float) -> None:
        done[0] += dt
        if progress is not None:
            progress(done[0], max(total, done[0]))

    records: list[ReplicationRecord] = []
    while True:
        records.append(
            run_replication(scenario, grid, seed=seed, replication=len(records), progress=tick)
        )
        if len(records) < planned:
            continue
        if precision is None or len(records) >= max_replications:
            break
        if precision_reached(_summary(scenario, records, seed, 0.0), precision):
            break
        total += grid.duration_s
    summary = _summary(scenario, records, seed, time.perf_counter() - started)
    if precision is not None:
        summary["precision"] = {
            "target": precision,
            "reached": precision_reached(summary, precision),
        }
    return RunResult(summary=summary, timeseries=timeseries(records))


def _summary(
    scenario: NetworkScenario, records: list[ReplicationRecord], seed: int, wall: float
) -> dict[str, Any]:
    w = warmup_index(records, scenario.warmup_s)
    meta = {
        "scenario": scenario.name,
        "kind": "network",
        "engine": "exact",
        "seed": seed,
        "wall_seconds": round(wall, 3),
    }
    return summarize(records, w, meta)


def precision_reached(summary: dict[str, Any], precision: float) -> bool:
    """True when every station's mean-latency interval half-width is within `precision`."""
    for service in summary["services"].values():
        block = service["latency_ms"]
        mean, (low, high) = block["mean"], block["ci95"]
        if mean is None or low is None or high is None or mean <= 0:
            return False
        if (high - low) / 2.0 > precision * mean:
            return False
    return True
