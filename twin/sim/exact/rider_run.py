"""One replication of the exact engine with riders: sessions drawn, clients wired, run.

The stations and the leftover ingest sources (persistence) are the request-stream model's
(`twin.sim.exact.model.from_platform` with `riders=True`); the request types are driven
by the replication's own riders (`twin.sim.exact.riders`), drawn from the compile's session
flows on this replication's stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy

from twin.rng import component_rng
from twin.sim.exact.clients import ClientPool
from twin.sim.exact.model import CHAIN, ExactModel, ingest_source
from twin.sim.exact.replication import Network, clock_process, empty_record
from twin.sim.exact.riders import Outcomes, Riders
from twin.sim.exact.station import Request
from twin.sim.platform_input import CompiledPlatform, origin_up
from twin.sim.records import Grid, ReplicationRecord
from twin.sim.sessions import SessionTable, draw_sessions

__all__ = ["RiderReplication", "run_rider_replication"]


@dataclass(frozen=True)
class RiderReplication:
    """What one replication measured: the stations' and types' records, the sessions it drew
    and what they lived through, and the clients' retries, timeouts and give-ups per type."""

    record: ReplicationRecord
    table: SessionTable
    outcomes: Outcomes
    clients: dict[str, dict[str, int]]
    instances: dict[str, np.ndarray]  # per tick, of the services with reactive autoscaling


def _acknowledging(
    arrive: Callable[[Request], None], pool: ClientPool
) -> Callable[[Request], None]:
    """A stream's arrival: the client's call is answered as the stream takes the record (the
    write and the consumer after it are asynchronous to the client)."""

    def take(request: Request) -> None:
        if len(request) > 4 and isinstance(request[4], tuple):
            pool.settle(request, True)
        arrive(request)

    return take


def _persist_emit(
    model: ExactModel, net: Network, index: dict[str, int], compiled: CompiledPlatform
) -> Callable[..., None] | None:
    """The emitter of the riding devices' metrics writes (None when the model has none)."""
    name = ingest_source(compiled.ingest.persist)
    i = index.get(name)
    return net.emit[i] if i is not None and model.sources[i].driven else None


def run_rider_replication(
    model: ExactModel,
    compiled: CompiledPlatform,
    grid: Grid,
    *,
    replication: int,
    progress: Callable[[float], None] | None = None,
) -> RiderReplication:
    """Simulate one replication of a compiled platform rider by rider."""
    assert compiled.session_flows is not None and compiled.journey is not None
    seed = model.seed
    table = draw_sessions(
        compiled.session_flows, component_rng(seed, "sessions", replication=replication)
    )
    env = simpy.Environment()
    riders: list[Riders] = []

    def settle(request: Request, ok: bool) -> None:
        riders[0].settle(request, ok)

    net = Network(env, model, replication, settle=settle)
    index = {src.name: i for i, src in enumerate(model.sources)}
    names = [n for n in compiled.visits if n in index]
    pool = ClientPool(
        env,
        names=names,
        emit=[net.emit[index[n]] for n in names],
        policy=compiled.clients,
        segment_s=compiled.journey.segment_s,
        rng=component_rng(seed, "clients", replication=replication),
    )
    riders.append(
        Riders(
            env,
            table=table,
            journey=compiled.journey,
            pool=pool,
            chain=net.emit[index[CHAIN]] if CHAIN in index else None,
            persist=_persist_emit(model, net, index, compiled),
            rng=component_rng(seed, "riders", replication=replication),
            duration_s=grid.duration_s,
            origin_up=origin_up(compiled),
            tick_s=float(compiled.tick_s),
        )
    )
    for i, st in enumerate(model.stations):
        if compiled.services[st.name].records_capacity_per_s is not None:
            net.arrivers[i] = _acknowledging(net.arrivers[i], pool)
    riders[0].start()
    record = empty_record(model, grid)
    env.process(clock_process(env, net, record, progress))
    env.run(until=grid.duration_s + grid.fine_width_s * 1e-6)
    scaled = {name: scaler.instances for name, scaler in net.scalers.items()}
    return RiderReplication(record, table, riders[0].out, pool.stats, scaled)
