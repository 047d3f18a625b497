"""What an engine is given for a platform run: stations and flows as arrays per tick.

`twin.runs.compile` fills it from the domain (riders, sessions, workload, architecture,
incidents); the engines read it and nothing else of the platform, so they know no riders,
classes or scenario files. A bare network's input is `twin.config.network.NetworkScenario`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from twin.config.architecture import Autoscaling, ConnectionPool, Ingest
from twin.config.audio import Audio
from twin.config.clients import Clients
from twin.config.network import ServiceTime
from twin.sim.sessions import SessionFlows

__all__ = ["CompiledPlatform", "Journey", "ServiceSpec", "origin_up"]


@dataclass(frozen=True)
class Journey:
    """A session request by request, as the exact engine's riders play it: the periods and
    shares `twin.platform.workload` counts in its rates. A session starts with `recommend`
    (`recommend_per_start` of them) and `join`; a live player reloads its playlist every
    `segment_s` and fetches each new segment, an on-demand one loads its playlist once and
    fetches a segment every `segment_s`; a bike or tread posts a batch every
    `telemetry_batch_s`; the leaderboard is polled every `leaderboard_live_s` (live) or
    `leaderboard_od_s`; the end saves the `workout` and `feedback_share` rate the class. A
    session playing music that follows cadence sends a `tempo` sample every `tempo_s`. The
    stream's processor writes a riding device's metrics to the database every `persist_s`
    (the architecture's `ingest.persist_every_s`)."""

    segment_s: float
    telemetry_batch_s: float
    leaderboard_live_s: float
    leaderboard_od_s: float
    feedback_share: float
    recommend_per_start: float
    tempo_s: float = 2.0
    persist_s: float = 60.0


@dataclass(frozen=True)
class ServiceSpec:
    """One service as an engine sees it, per tick where it can change.

    `servers` = instances x servers_per_instance x the share incidents leave up, before any
    reactive autoscaling (`autoscaling` is None when none is left to do). `arrivals` is the
    offered load in requests/s (or records/s for a stream) before any upstream loss.
    Kind-specific capacities are None where they do not apply.

    When request types have their own service times here (`service_by_request`), `service`
    is the mixture the station actually serves, weighted by the run's offered load (see
    `service_mixture`), and `own_service` the station's listed time for the other types and
    the ingest flows; capacity, utilization and autoscaling then see the right load. The
    exact engine draws each type's own time; the fluid engine queues with the mixture (its
    FIFO waiting is shared by all types) and its probes draw each type's own time after it.
    """

    name: str
    kind: str
    servers: np.ndarray
    instances: np.ndarray
    servers_per_instance: int
    service: ServiceTime
    queue_capacity: int | None
    timeout_s: float | None
    autoscaling: Autoscaling | None
    connection_pool: ConnectionPool | None
    up: np.ndarray  # share of the service's capacity incidents leave (1 normal, 0 down)
    arrivals: np.ndarray
    egress_bps: np.ndarray | None = None
    hit_ratio: float | None = None
    origin: str | None = None
    shards: np.ndarray | None = None
    records_capacity_per_s: np.ndarray | None = None
    bytes_capacity_per_s: np.ndarray | None = None
    write_capacity_per_s: np.ndarray | None = None
    lock_contention: float | None = None
    writes_per_s: np.ndarray | None = None
    service_by_request: Mapping[str, ServiceTime] = field(default_factory=dict)
    own_service: ServiceTime | None = None
    writers: tuple[str, ...] = ()  # a database's request types that write there
    # (penalty_s, tau_s): waking the idle station (twin.config.architecture.Wake), or None
    wake: tuple[float, float] | None = None

    @property
    def capacity_per_s(self) -> np.ndarray:
        """Requests/s the servers complete per tick when busy (servers / mean service time)."""
        return self.servers / self.service.mean


@dataclass(frozen=True)
class CompiledPlatform:
    """Everything an engine needs for one platform run, as arrays over ticks `t`."""

    t: np.ndarray
    tick_s: float
    services: dict[str, ServiceSpec]
    demand: dict[str, np.ndarray]
    routes: dict[str, list[str]]
    visits: dict[str, list[tuple[str, float]]]
    active_riders: np.ndarray
    riders: np.ndarray
    bytes_per_s: np.ndarray
    riders_by_rendition: np.ndarray
    telemetry_records_per_s: np.ndarray
    telemetry_bytes_per_s: np.ndarray
    telemetry_samples_per_s: np.ndarray
    ingest: Ingest
    adaptive_bitrate: bool
    # Share of segment and playlist requests from live sessions: a live stream needs its
    # origin for every new segment, so when the origin is down these fail even on a CDN.
    live_segment_share: np.ndarray
    live_playlist_share: np.ndarray
    incidents: tuple[dict[str, object], ...] = ()
    # The exact engine's riders: who rides when (drawn per replication), how a session goes,
    # and how clients time out and retry.
    session_flows: SessionFlows | None = None
    journey: Journey | None = None
    clients: Clients = field(default_factory=lambda: Clients())
    # The music that follows cadence (twin.config.audio); None when no session plays it.
    audio: Audio | None = None
    # The part of `demand` that arrives at instants rather than spread over its tick, per
    # request type: (seconds from t = 0, expected requests). A live class's riders all finish
    # at its end and start their next session at once (`twin.drill.stampede`). `demand`
    # includes them (the fluid engine, per tick, needs no more); the exact engine sends them
    # at their instant and the rest of the tick's rate as a Poisson stream. At one instant,
    # requests arrive in this mapping's order of types.
    bursts: Mapping[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    # share of each request type's requests sent right behind a response to the same rider:
    # they find the processes awake, so a station's `wake` adds nothing to them (a drill's
    # journey chains them: twin.drill.predict.awake_shares); types not listed: none
    awake: Mapping[str, float] = field(default_factory=dict)
    # stations only requests sent on their own cross: a drill's load generator's timer, which
    # holds a periodic request until it fires; one sent right behind a response (`awake`)
    # never waits for it (twin.sim.exact.model.from_platform)
    timers: frozenset[str] = frozenset()


def origin_up(compiled: CompiledPlatform) -> np.ndarray | None:
    """Per tick, the least share up of the origins behind the CDNs video goes through (None
    without a CDN): a live segment exists only when its origin made it."""
    ups = [
        compiled.services[spec.origin].up
        for spec in compiled.services.values()
        if spec.egress_bps is not None and spec.origin in compiled.services
    ]
    return np.minimum.reduce(ups) if ups else None
