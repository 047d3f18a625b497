"""The exact engine on a compiled platform: every request of every rider an event.

With the compile's session flows (every platform scenario), riders ride their sessions call
by call (`twin.sim.exact.riders`): clients time out and retry, riders give up joining or
reconnect, batches go on to the leaderboard, and the run writes an `experience` block.
Without them (`riders=False`, or a hand-made compiled platform) each request type is a
Poisson stream along its route at the compile's offered load. Either way the stations are
the same, on the same servers per tick, with reactive autoscaling where the architecture
has it (twin.sim.exact.autoscale); the run's `usage` (instances, egress, shards) is priced
as the fluid engine's is (twin.sim.usage).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from twin.sim.exact.engine import run_model, summary_of
from twin.sim.exact.model import from_platform
from twin.sim.exact.rider_experience import (
    rider_experience,
    rider_series,
    watching_by_rendition,
)
from twin.sim.exact.rider_run import RiderReplication, run_rider_replication
from twin.sim.exact.work import check_exact_work
from twin.sim.fanout import Fanout
from twin.sim.records import Grid
from twin.sim.result import RunResult
from twin.sim.rider_columns import add_rider_columns
from twin.sim.summary import source_histograms, timeseries, warmup_index
from twin.sim.tempo import tempo_experience
from twin.sim.usage import platform_usage

__all__ = ["INTERVAL_S", "ride", "run_exact_platform"]

INTERVAL_S = 60.0  # one timeseries row per simulated minute, as the fluid engine writes


def run_exact_platform(
    compiled: Any,
    *,
    name: str,
    seed: int,
    replications: int = 1,
    progress: Callable[[float, float], None] | None = None,
    riders: bool = True,
    fanout: Fanout | None = None,
) -> RunResult:
    """Simulate a compiled platform rider by rider (or request stream by stream); with
    `fanout`, the replications run as units of work."""
    duration = len(compiled.t) * float(compiled.tick_s)
    riders = riders and compiled.session_flows is not None and compiled.journey is not None
    model = from_platform(compiled, name, seed, min(INTERVAL_S, duration), riders=riders)
    if riders:
        result = _run_riders(model, compiled, replications, progress, fanout)
    else:
        result = run_model(
            model, seed=seed, replications=replications, progress=progress, fanout=fanout
        )
    summary = dict(result.summary)
    summary["requests"] = {
        name: block for name, block in summary["requests"].items() if not name.startswith("ingest:")
    }
    hists = {k: v for k, v in result.latency_hist.items() if not k.startswith("ingest:")}
    return RunResult(summary=summary, timeseries=result.timeseries, latency_hist=hists)


def _instances(reps: list[RiderReplication], compiled: Any) -> dict[str, np.ndarray]:
    """Instances per tick and service, averaged over the replications (the compile's where
    no reactive autoscaling changed them)."""
    out = {n: np.asarray(s.instances, dtype=float) for n, s in compiled.services.items()}
    for name in reps[0].instances:
        out[name] = np.mean([r.instances[name] for r in reps], axis=0)
    return out


def _run_riders(
    model: Any,
    compiled: Any,
    replications: int,
    progress: Callable[[float, float], None] | None,
    fanout: Fanout | None,
) -> RunResult:
    check_exact_work(model, replications)
    started = time.perf_counter()
    grid = Grid.for_run(model.duration_s, model.interval_s)
    total, done = replications * grid.duration_s, [0.0]

    def tick(dt: float) -> None:
        done[0] += dt
        if progress is not None:
            progress(done[0], total)

    reps: list[RiderReplication]
    if fanout is not None and replications > 1:
        report = None if progress is None else lambda k, n: progress(k * total / n, total)
        reps = fanout(partial(ride, model, compiled, grid), range(replications), report)
    else:
        reps = [
            run_rider_replication(model, compiled, grid, replication=r, progress=tick)
            for r in range(replications)
        ]
    records = [r.record for r in reps]
    summary = summary_of(model, records, time.perf_counter() - started)
    for name, block in summary["requests"].items():
        for key in ("retries", "timeouts", "gave_up"):
            counts = [r.clients.get(name, {}).get(key, 0) for r in reps]
            if name in reps[0].clients:
                block[key] = round(sum(counts) / len(reps))
    summary["experience"] = rider_experience(reps, compiled)
    if compiled.audio is not None:  # the music's riders are the ones watching here
        watching = np.mean([watching_by_rendition(r, compiled) for r in reps], axis=0)
        summary["experience"].update(
            tempo_experience(records, compiled, model.seed, watching=watching)
        )
    summary["sessions"] = round(sum(len(r.table) for r in reps) / len(reps))
    summary["usage"] = platform_usage(compiled, _instances(reps, compiled))
    series = rider_series(reps, compiled)
    frame = add_rider_columns(
        timeseries(records),
        float(compiled.tick_s),
        series.watching,
        series.degraded,
        series.lag,
        stale=series.stale,
    )
    hists = source_histograms(records, warmup_index(records, model.warmup_s))
    return RunResult(summary=summary, timeseries=frame, latency_hist=hists)


def ride(model: Any, compiled: Any, grid: Grid, replication: int) -> RiderReplication:
    """One replication of riders as a unit of work (picklable with `functools.partial`)."""
    return run_rider_replication(model, compiled, grid, replication=replication)
