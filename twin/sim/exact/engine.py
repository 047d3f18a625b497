"""Replications of the exact engine, JMT's precision stopping rule, and the run's result.

`run_exact` runs K independent replications (each with its own streams derived from the seed)
or, with `precision`, keeps adding replications until every station's mean-latency 95 %
interval is within that relative half-width, as JMT stops its simulations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from twin.config.network import NetworkScenario
from twin.errors import InputError
from twin.sim.exact.model import ExactModel, from_network
from twin.sim.exact.replication import run_replication
from twin.sim.exact.work import check_exact_work
from twin.sim.fanout import Fanout
from twin.sim.records import Grid, ReplicationRecord
from twin.sim.result import RunResult
from twin.sim.summary import source_histograms, summarize, timeseries, warmup_index

__all__ = [
    "MIN_PRECISION_REPLICATIONS",
    "precision_reached",
    "replicate",
    "run_exact",
    "run_model",
    "summary_of",
]

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
    fanout: Fanout | None = None,
) -> RunResult:
    """Simulate a bare-network scenario (see twin.sim.summary for what the summary holds)."""
    return run_model(
        from_network(scenario),
        seed=seed,
        replications=replications,
        precision=precision,
        max_replications=max_replications,
        progress=progress,
        fanout=fanout,
    )


def run_model(
    model: ExactModel,
    *,
    seed: int | None = None,
    replications: int = 1,
    precision: float | None = None,
    max_replications: int = 100,
    progress: Progress | None = None,
    fanout: Fanout | None = None,
) -> RunResult:
    """Simulate an exact-engine model with replications or to a precision; with `fanout`,
    the planned replications run as units of work (those a precision adds, one by one)."""
    if replications < 1:
        raise InputError("--replications", None, "must be >= 1")
    if precision is not None and not 0 < precision < 1:
        raise InputError("--precision", None, "must be a fraction between 0 and 1 (e.g. 0.02)")
    started = time.perf_counter()
    model = replace(model, seed=model.seed if seed is None else seed)
    grid = Grid.for_run(model.duration_s, model.interval_s)
    planned = max(replications, MIN_PRECISION_REPLICATIONS if precision else 1)
    check_exact_work(model, planned)
    total = [planned * grid.duration_s]
    done = [0.0]

    def tick(dt: float) -> None:
        done[0] += dt
        if progress is not None:
            progress(done[0], max(total[0], done[0]))

    records: list[ReplicationRecord] = []
    if fanout is not None and planned > 1:
        report = None if progress is None else _units_done(progress, grid.duration_s)
        records = fanout(partial(replicate, model, grid), range(planned), report)
        done[0] = len(records) * grid.duration_s
    while len(records) < planned:
        records.append(run_replication(model, grid, replication=len(records), progress=tick))
    while (
        precision is not None
        and len(records) < max_replications
        and not precision_reached(summary_of(model, records, 0.0), precision)
    ):
        total[0] += grid.duration_s
        records.append(run_replication(model, grid, replication=len(records), progress=tick))
    summary = summary_of(model, records, time.perf_counter() - started)
    if precision is not None:
        summary["precision"] = {
            "target": precision,
            "reached": precision_reached(summary, precision),
        }
    hists = source_histograms(records, warmup_index(records, model.warmup_s))
    return RunResult(summary=summary, timeseries=timeseries(records), latency_hist=hists)


def replicate(model: ExactModel, grid: Grid, replication: int) -> ReplicationRecord:
    """One replication as a unit of work (picklable with `functools.partial`)."""
    return run_replication(model, grid, replication=replication)


def _units_done(progress: Progress, duration_s: float) -> Callable[[int, int], None]:
    return lambda k, n: progress(k * duration_s, n * duration_s)


def summary_of(model: ExactModel, records: list[ReplicationRecord], wall: float) -> dict[str, Any]:
    """The summary of an exact run's replications (warm-up cut by the model's rule)."""
    w = warmup_index(records, model.warmup_s)
    meta = {
        "scenario": model.name,
        "kind": model.kind,
        "engine": "exact",
        "seed": model.seed,
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
