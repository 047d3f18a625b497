"""An architecture: every component of a phase's diagram, its cost, capacity and routes.

A file in `scenarios/architectures/` lists components (each with the seed's label, instance
type, count and monthly cost) and, for those requests cross, how the engine models them: a
station (servers per instance, service time and any request type's own time there, queue,
timeout), autoscaling, connection pools, failover, and the capacities of a CDN (egress, hit
ratio), a stream (shards of 1 MB/s and 1,000 records/s of writes) or a database (write
capacity, lock contention). `routes` maps each request type to the services it crosses in
order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from twin.config.files import read_yaml, validate
from twin.config.limits import MAX_STATION_SERVERS, Instances, Riders, Shards, over
from twin.config.network import FieldError, Frozen, ServiceTime
from twin.config.overrides import apply_changes, split_path
from twin.errors import InputError

__all__ = [
    "REQUEST_TYPES",
    "Architecture",
    "Autoscaling",
    "CdnSpec",
    "Component",
    "ConnectionPool",
    "DatabaseSpec",
    "Failover",
    "Ingest",
    "LoadCpu",
    "StationSpec",
    "StreamSpec",
    "Video",
    "architecture_path",
    "load_architecture",
    "usl_capacity",
]

# The request vocabulary of DESIGN.md, in the order a session produces them.
REQUEST_TYPES: tuple[str, ...] = (
    "recommend",
    "join",
    "playlist",
    "segment",
    "telemetry",
    "leaderboard",
    "workout",
    "feedback",
)
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
HOURS_PER_MONTH = 730.0  # AWS bills a month as 730 hours


class StationSpec(Frozen):
    """How a service queues: FIFO servers per instance, a service time, a bounded queue.

    `service_by_request` gives a request type its own service time where it differs from
    `service` (a shared event loop serves a cheap playlist and an 8 MB segment write), as
    capacity tools give a station per-class service demands; `service` stays the time of
    every other type and of the ingest flows. All types share the one FIFO queue.

    `service_per_mb_s` adds that many seconds per MB a video segment moves through the
    station (a process that copies or reads the body: a proxy, a load generator): the compile
    adds it to `segment`'s time here, at the workload's own MB per segment (its rendition mix).
    """

    servers_per_instance: Annotated[int, Field(ge=1)]
    service: ServiceTime
    service_by_request: dict[str, ServiceTime] = Field(default_factory=dict)
    service_per_mb_s: NonNegative = 0.0
    queue_capacity: Annotated[int, Field(ge=0)] | None = None
    timeout_s: Positive | None = None


class Autoscaling(Frozen):
    """Target-tracking scaling on utilization; new instances serve after the delay.

    `predictive_lead_s` (the seeds' fix for the IoT incident) scales ahead of a known forecast
    by that lead instead of reacting to the measured utilization.
    """

    min: Instances
    max: Annotated[Instances, Field(ge=1)]
    target_utilization: Annotated[float, Field(gt=0, le=1)]
    provisioning_delay_s: NonNegative
    cooldown_s: NonNegative = 300.0
    predictive_lead_s: NonNegative | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Autoscaling:
        if self.min > self.max:
            raise FieldError("min", f"must be <= max ({self.max})")
        return self


class ConnectionPool(Frozen):
    """Connections each instance holds to a database; requests wait for one when all are busy."""

    to: str
    size_per_instance: Annotated[int, Field(ge=1)]
    acquire_timeout_s: Positive = 5.0


class Failover(Frozen):
    """How many regions serve and how traffic moves when one is lost.

    `none`: a single point of failure, down means down. `active-passive`: a standby takes over
    after `switch_s`. `active-active`: the other regions absorb the load at once.
    """

    mode: Literal["none", "active-passive", "active-active"] = "none"
    regions: Annotated[int, Field(ge=1)] = 1
    switch_s: NonNegative = 0.0


class CdnSpec(Frozen):
    """Edge egress capacity and the share of bytes served from cache; misses go to `origin`."""

    egress_gbps: Positive
    hit_ratio: Fraction
    origin: str
    # The listed monthly cost covers this much egress (the phase's own traffic); beyond it each
    # GB costs `usd_per_gb`. Default overage: CloudFront's public price above 5 PB/month.
    included_egress_tb_month: NonNegative = 0.0
    usd_per_gb: NonNegative = 0.02


class StreamSpec(Frozen):
    """An ingest stream of shards (Kinesis: 1 MB/s and 1,000 records/s of writes per shard)."""

    shards: Shards
    write_mb_per_shard_s: Positive = 1.0  # AWS Kinesis Data Streams shard write limit
    write_records_per_shard_s: Positive = 1000.0  # same public limit, records
    read_mb_per_shard_s: Positive = 2.0  # shard read limit (shared throughput)
    usd_per_shard_hour: NonNegative = 0.015  # public Kinesis on-demand shard-hour price
    consumer: str
    autoscaling: Autoscaling | None = None


class DatabaseSpec(Frozen):
    """Write capacity of the primary (or primaries) and how locks erode it under concurrency.

    Effective writes/s follow the Universal Scalability Law with `lock_contention` as its
    sigma: X(N) = N x per-writer / (1 + sigma (N - 1)); see `usl_capacity`.
    """

    write_capacity_per_s: Positive
    lock_contention: Fraction = 0.0
    shards: Shards = 1
    max_connections: Annotated[int, Field(ge=1)] | None = None


class Component(Frozen):
    """One box of a diagram: what it is, what it costs, and (if requests cross it) its capacity."""

    label: str
    plane: Literal["edge", "service", "state", "control"]
    kind: Literal["compute", "cdn", "stream", "database", "cache", "storage", "network", "saas"]
    instance_type: str | None = None
    count: Instances = 1
    monthly_usd: NonNegative
    station: StationSpec | None = None
    autoscaling: Autoscaling | None = None
    connection_pool: ConnectionPool | None = None
    failover: Failover = Failover()
    cdn: CdnSpec | None = None
    stream: StreamSpec | None = None
    database: DatabaseSpec | None = None

    @model_validator(mode="after")
    def _sections_fit_kind(self) -> Component:
        for section in ("cdn", "stream", "database"):
            present = getattr(self, section) is not None
            if present and self.kind != section:
                raise FieldError(section, f"only applies to kind: {section}, not {self.kind}")
            if self.kind == section and not present:
                raise FieldError(section, f"kind: {section} needs a '{section}' section")
        if self.autoscaling is not None and self.station is None:
            raise FieldError("autoscaling", "needs a 'station' (only a service can scale)")
        if self.station is not None:
            servers = self.station.servers_per_instance * self.peak_instances
            if servers > MAX_STATION_SERVERS:
                what = "servers_per_instance x most instances ="
                message = over(what, servers, MAX_STATION_SERVERS, "MAX_STATION_SERVERS")
                raise FieldError("station.servers_per_instance", message)
        return self

    @property
    def peak_instances(self) -> int:
        """The most instances (or shards) it can run: listed, autoscaled or provisioned."""
        scaling = [a.max for a in (self.autoscaling, self.stream and self.stream.autoscaling) if a]
        shards = [self.stream.shards] if self.stream is not None else []
        return max([self.count, *scaling, *shards])

    @property
    def unit_monthly_usd(self) -> float:
        """Monthly price of one instance (the listed cost over the listed count)."""
        return self.monthly_usd / self.count if self.count else 0.0


class Ingest(Frozen):
    """Where telemetry goes after the API accepts it: stream, processor, leaderboard store.

    The processor also persists each device's metrics (the workout's performance graph) to
    `persist` every `persist_every_s`: those are the database writes a surge multiplies.
    """

    stream: str | None = None
    processor: str
    store: str
    persist: str
    persist_every_s: Positive = 60.0


class Video(Frozen):
    """The best rendition a phase streams (seed 001: 720p, 1080p, 4K HDR) and its segment length."""

    max_rendition: Literal["720p", "1080p", "4k"]
    segment_s: Positive = 4.0
    # With adaptive bitrate (seed 001, phase 2's fix) a player short of bandwidth downshifts;
    # without it, it stalls (rebuffers) at its one rendition.
    adaptive_bitrate: bool = True


class LoadCpu(Frozen):
    """What the load generator's processes spent in the drills an architecture was calibrated
    on: CPU seconds per request plus per MB received plus per second of drill (Locust's own
    background work, which a nearly idle drill would otherwise charge to its few requests;
    `twin calibrate` writes it). A drill measures the same on the machine it runs on; the
    ratio is that machine's speed against the calibration's, by which the prediction scales
    the file's service times."""

    per_request_s: NonNegative
    per_mb_s: NonNegative = 0.0
    per_s: NonNegative = 0.0


class Architecture(Frozen):
    """A whole architecture file: components, routes, the ingest path and the phase's scale."""

    name: str
    description: str = ""
    riders: Riders
    stated_monthly_usd: NonNegative | None = None
    components: dict[str, Component] = Field(min_length=1)
    routes: dict[str, list[str]]
    ingest: Ingest
    video: Video
    load_cpu: LoadCpu | None = None  # a drill-calibrated model's speed reference

    @model_validator(mode="after")
    def _references_exist(self) -> Architecture:
        self._check_routes()
        self._check_references()
        self._check_service_by_request()
        return self

    def _check_routes(self) -> None:
        missing = [t for t in REQUEST_TYPES if t not in self.routes]
        if missing:
            raise FieldError(f"routes.{missing[0]}", "every request type needs a route")
        for rtype, hops in self.routes.items():
            if rtype not in REQUEST_TYPES:
                raise FieldError(
                    f"routes.{rtype}", f"unknown request type ({', '.join(REQUEST_TYPES)})"
                )
            if not hops:
                raise FieldError(f"routes.{rtype}", "a route crosses at least one service")
            for i, hop in enumerate(hops):
                comp = self.components.get(hop)
                if comp is None:
                    raise FieldError(f"routes.{rtype}.{i}", f"unknown component {hop!r}")
                if comp.station is None:
                    raise FieldError(f"routes.{rtype}.{i}", f"{hop!r} has no 'station' to queue at")

    def _check_references(self) -> None:
        for name, comp in self.components.items():
            targets = {
                "connection_pool.to": comp.connection_pool.to if comp.connection_pool else None,
                "cdn.origin": comp.cdn.origin if comp.cdn else None,
                "stream.consumer": comp.stream.consumer if comp.stream else None,
            }
            for where, target in targets.items():
                if target is not None and target not in self.components:
                    raise FieldError(f"components.{name}.{where}", f"unknown component {target!r}")
        for where in ("stream", "processor", "store", "persist"):
            target = getattr(self.ingest, where)
            if target is not None and target not in self.components:
                raise FieldError(f"ingest.{where}", f"unknown component {target!r}")

    def _check_service_by_request(self) -> None:
        for name, comp in self.services.items():
            assert comp.station is not None
            for rtype in comp.station.service_by_request:
                where = f"components.{name}.station.service_by_request.{rtype}"
                if rtype not in REQUEST_TYPES:
                    raise FieldError(where, f"unknown request type ({', '.join(REQUEST_TYPES)})")
                if name not in self.routes[rtype]:
                    raise FieldError(where, f"route {rtype} does not cross {name}")
            if comp.station.service_per_mb_s > 0 and name not in self.routes["segment"]:
                raise FieldError(
                    f"components.{name}.station.service_per_mb_s",
                    f"only segments carry MB, and route segment does not cross {name}",
                )

    @property
    def services(self) -> dict[str, Component]:
        """Components requests queue at (those with a station), in file order."""
        return {n: c for n, c in self.components.items() if c.station is not None}

    @property
    def itemized_monthly_usd(self) -> float:
        """Sum of the listed components' monthly costs."""
        return sum(c.monthly_usd for c in self.components.values())


def usl_capacity(
    per_writer_per_s: float, writers: float, sigma: float, kappa: float = 0.0
) -> float:
    """Universal Scalability Law throughput of `writers` concurrent writers (Gunther 1993)."""
    n = max(writers, 1.0)
    return n * per_writer_per_s / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


def architecture_path(name: str, folder: Path) -> Path:
    """The file of architecture `name` in `folder` (scenarios/architectures)."""
    return folder / f"{name}.yaml"


def load_architecture(
    name_or_path: str | Path, folder: Path | None = None, changes: dict[str, Any] | None = None
) -> Architecture:
    """Read, optionally change (dotted `path: value` pairs) and validate an architecture."""
    path = Path(name_or_path)
    if folder is not None and path.suffix != ".yaml":
        path = architecture_path(str(name_or_path), folder)
    data = read_yaml(path)
    if not changes:
        return validate(lambda: Architecture.model_validate(data), str(path))
    data = apply_changes(data, _change_list(changes), model=Architecture, source=CHANGES)
    try:
        return validate(lambda: Architecture.model_validate(data), str(path))
    except InputError as exc:
        raise _blame_change(exc, changes, path) from None


CHANGES = "architecture_changes"


def _change_list(changes: dict[str, Any]) -> list[tuple[list[str], Any]]:
    pairs = []
    for key, value in changes.items():
        if not isinstance(key, str):
            raise InputError(CHANGES, str(key), "keys are dotted paths")
        pairs.append((split_path(key, CHANGES), value))
    return pairs


def _blame_change(exc: InputError, changes: dict[str, Any], path: Path) -> InputError:
    """An error at (or just above) a changed path is the change's, not the untouched file's."""
    field = exc.field or ""
    for key in reversed(list(changes)):
        if field and (field == key or key.startswith(f"{field}.") or field.startswith(f"{key}.")):
            where = field if field.startswith(key) else key
            return InputError(CHANGES, where, f"{exc.message} (changing {path.name})")
    return exc
