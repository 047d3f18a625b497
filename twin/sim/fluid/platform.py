"""The fluid engine on a compiled platform (twin.runs.compile.CompiledPlatform): one run.

`run_platform` solves the platform's flows once (twin.sim.fluid.platform_flows: deterministic,
so replications share them), then per replication walks probe requests along every request
type's route for the latency records, and writes the summary, with what the run means for
riders and the bill (twin.sim.fluid.experience), and the time series, with per-interval
rider columns beside every service's row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from twin.rng import component_rng
from twin.sim.fluid.collect import station_record
from twin.sim.fluid.experience import experience, kept, sessions, usage
from twin.sim.fluid.platform_flows import (
    PlatformFlows,
    drawn_sampler,
    platform_flows,
    probe_network,
    report_interval,
)
from twin.sim.fluid.probes import ProbeNetwork, probe_route
from twin.sim.fluid.service import ServiceShape
from twin.sim.records import Grid, ReplicationRecord
from twin.sim.result import RunResult
from twin.sim.rider_columns import add_rider_columns
from twin.sim.summary import summarize, timeseries, warmup_index
from twin.sim.tempo import tempo_experience

__all__ = ["run_platform"]

Progress = Callable[[float, float], None]


def _replication(
    flows: PlatformFlows, grid: Grid, seed: int, replication: int
) -> ReplicationRecord:
    compiled = flows.compiled
    stations = {
        n: station_record(law, shape, grid, flows.tick_s)
        for n, law, shape in zip(flows.names, flows.laws, flows.shapes, strict=True)
    }
    net = probe_network(flows, seed, replication)
    sources = {
        rtype: probe_route(
            _own_service(net, flows, rtype, seed, replication),
            flows.probe_hops(hops),
            _attempts(flows, rtype),
            grid,
            component_rng(seed, "probe", rtype, replication=replication),
        )
        for rtype, hops in compiled.visits.items()
    }
    return ReplicationRecord(grid=grid, stations=stations, sources=sources)


def _own_service(
    net: ProbeNetwork, flows: PlatformFlows, rtype: str, seed: int, replication: int
) -> ProbeNetwork:
    """The probe network as `rtype` sees it: at a service whose request types have their own
    service times, its probes draw the type's own (or the service's listed time, for a type
    without one), as the exact engine does; the wait stays the mixture's, shared by all."""
    own = {
        flows.index[name]: spec.service_by_request.get(rtype, spec.own_service or spec.service)
        for name, spec in flows.compiled.services.items()
        if spec.service_by_request
    }
    if not own:
        return net
    rng = component_rng(seed, "probe-service", rtype, replication=replication)
    samplers = list(net.samplers)
    for j, service in own.items():
        draw = ServiceShape.of(service).sampler(rng)
        samplers[j] = partial(drawn_sampler, draw)
    return replace(net, samplers=samplers)


def _clients(flows: PlatformFlows, rtype: str) -> list[Any]:
    """The clients sending `rtype`: its own, and for joins the reconnecting players'."""
    out = [flows.clients[rtype]] if rtype in flows.clients else []
    if rtype == "join" and flows.reconnects is not None:
        out.append(flows.reconnects.rejoin)
    return out


def _attempts(flows: PlatformFlows, rtype: str) -> np.ndarray:
    clients = _clients(flows, rtype)
    if not clients:
        return flows.compiled.demand[rtype] * flows.tick_s
    return np.sum([c.attempts for c in clients], axis=0)


def run_platform(
    compiled: Any,
    *,
    seed: int | None = None,
    replications: int = 1,
    tick_s: float = 1.0,
    progress: Progress | None = None,
) -> RunResult:
    """Simulate a compiled platform; `tick_s` is the compile's (it fixed the arrays' ticks)."""
    del tick_s  # the compiled arrays are already per tick
    started = time.perf_counter()
    seed = 1 if seed is None else seed
    total = len(compiled.t) * float(compiled.tick_s)
    done = [0.0]

    def tick(dt: float) -> None:
        done[0] = min(done[0] + dt, total)
        if progress is not None:
            progress(done[0], total)

    flows = platform_flows(compiled, tick)
    grid = Grid.for_run(total, report_interval(total))
    records = [_replication(flows, grid, seed, r) for r in range(replications)]
    summary = summarize(
        records, warmup_index(records, 0.0), {"kind": "platform", "engine": "fluid", "seed": seed}
    )
    summary["tick_s"] = flows.tick_s
    summary["riders"] = round(float(compiled.riders[0])) if len(compiled.riders) else 0
    summary["active_riders_peak"] = round(float(np.max(compiled.active_riders, initial=0.0)))
    for rtype in flows.clients:
        block = summary["requests"].get(rtype)
        if block is not None:
            clients = _clients(flows, rtype)
            block["retries"] = round(sum(c.retries for c in clients))
            block["timeouts"] = round(sum(c.timeouts for c in clients))
            block["gave_up"] = round(sum(c.gave_up for c in clients))
    summary["experience"] = experience(flows, seed)
    summary["experience"].update(tempo_experience(records, compiled, seed))
    count = sessions(flows).get("sessions")
    if count is not None:
        summary["sessions"] = count
    summary["usage"] = usage(flows)
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    frame = add_rider_columns(
        timeseries(records),
        flows.tick_s,
        np.asarray(compiled.active_riders, dtype=float) * kept(flows),
        flows.degraded_riders,
        flows.lag_probes,
        stale=np.asarray(compiled.active_riders, dtype=float) * kept(flows) * flows.stale,
    )
    return RunResult(summary=summary, timeseries=frame)
