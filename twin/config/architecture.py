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

from twin.config.audio import Audio
from twin.config.files import read_yaml, validate
from twin.config.limits import MAX_STATION_SERVERS, Instances, Riders, Shards, over
from twin.config.network import FieldError, Frozen, ServiceTime
from twin.config.overrides import apply_changes, split_path
from twin.errors import InputError

__all__ = [
    "OPTIONAL_TYPES",
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
    "TargetCpu",
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
    "tempo",
)
# Request types an architecture may leave without a route (then no session makes them): the
# tempo path exists only where the music partnership is built (`twin.config.audio`).
OPTIONAL_TYPES: tuple[str, ...] = ("tempo",)
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
HOURS_PER_MONTH = 730.0  # AWS bills a month as 730 hours


def _request_keys() -> dict[str, Any]:
    """Schema of a mapping keyed by request type."""
    return {"propertyNames": {"title": "type", "enum": list(REQUEST_TYPES)}}


class Wake(Frozen):
    """What waking an idle process costs: a request that finds every server idle, for `g`
    seconds since the last one left, takes `penalty_s * (1 - exp(-g / tau_s))` longer.

    An event loop that has nothing to do sleeps in `epoll_wait`, and its core drops into an
    idle state; the next request waits for both to wake (the processor's exit latency, the
    scheduler). The longer the idle, the deeper the sleep, up to `penalty_s`. A request sent
    right behind another finds the loop awake; at higher load fewer requests find it asleep,
    which is why a light request's latency falls as the load grows.
    """

    penalty_s: Positive = Field(description="Added by waking from a long idle (s).")
    tau_s: Positive = Field(description="Idle time constant: after tau_s idle, 63 % of it (s).")


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

    servers_per_instance: Annotated[int, Field(ge=1)] = Field(
        description="Servers (workers, event loops) per instance, sharing the queue."
    )
    service: ServiceTime = Field(description="Time one server takes for a request.")
    service_by_request: dict[str, ServiceTime] = Field(
        default_factory=dict,
        description="A request type's own service time, where it differs from `service`.",
        json_schema_extra=_request_keys(),
    )
    service_per_mb_s: NonNegative = Field(
        default=0.0, description="Added to a video segment's service per MB it carries (s/MB)."
    )
    queue_capacity: Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description="Requests that may wait; null: unbounded. A full queue drops arrivals.",
    )
    timeout_s: Positive | None = Field(
        default=None,
        description="A request waiting longer is dropped (s); null: none waits too long.",
    )
    wake: Wake | None = Field(
        default=None,
        description="A process that sleeps while idle: what waking it adds to a request that "
        "finds every server idle; null: nothing.",
    )


class Autoscaling(Frozen):
    """Target-tracking scaling on utilization; new instances serve after the delay.

    `predictive_lead_s` (the seeds' fix for the IoT incident) scales ahead of a known forecast
    by that lead instead of reacting to the measured utilization.
    """

    min: Instances = Field(description="Fewest instances (a stream's: shards).")
    max: Annotated[Instances, Field(ge=1)] = Field(
        description="Most instances (a stream's: shards)."
    )
    target_utilization: Annotated[float, Field(gt=0, le=1)] = Field(
        description="The utilization it scales to keep."
    )
    provisioning_delay_s: NonNegative = Field(
        description="From the decision to scale to a new instance serving (s)."
    )
    cooldown_s: NonNegative = Field(
        default=300.0, description="Least time after a change before it scales in (s)."
    )
    predictive_lead_s: NonNegative | None = Field(
        default=None, description="Scale this long ahead of the forecast (s); null: react to load."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Autoscaling:
        if self.min > self.max:
            raise FieldError("min", f"must be <= max ({self.max})")
        return self


class ConnectionPool(Frozen):
    """Connections each instance holds to a database; requests wait for one when all are busy."""

    to: str = Field(description="The database component it connects to.")
    size_per_instance: Annotated[int, Field(ge=1)] = Field(
        description="Connections each instance holds."
    )
    acquire_timeout_s: Positive = Field(
        default=5.0, description="Longest wait for a free connection before the request fails (s)."
    )


class Failover(Frozen):
    """How many regions serve and how traffic moves when one is lost.

    `none`: a single point of failure, down means down. `active-passive`: a standby takes over
    after `switch_s`. `active-active`: the other regions absorb the load at once.
    """

    mode: Literal["none", "active-passive", "active-active"] = Field(
        default="none",
        description="none: down means down; active-passive: a standby takes over after "
        "switch_s; active-active: the other regions take the load at once.",
    )
    regions: Annotated[int, Field(ge=1)] = Field(default=1, description="Regions it runs in.")
    switch_s: NonNegative = Field(
        default=0.0, description="Active-passive: time for the standby to take over (s)."
    )


class CdnSpec(Frozen):
    """Edge egress capacity and the share of bytes served from cache; misses go to `origin`."""

    egress_gbps: Positive = Field(description="Egress capacity at the edge (Gb/s).")
    hit_ratio: Fraction = Field(description="Share of bytes served from the edge's cache.")
    origin: str = Field(description="The component cache misses go to.")
    # The listed monthly cost covers this much egress (the phase's own traffic); beyond it each
    # GB costs `usd_per_gb`. Default overage: CloudFront's public price above 5 PB/month.
    included_egress_tb_month: NonNegative = Field(
        default=0.0, description="Egress the listed monthly cost covers (TB/month)."
    )
    usd_per_gb: NonNegative = Field(default=0.02, description="Price of egress beyond it (USD/GB).")


class StreamSpec(Frozen):
    """An ingest stream of shards (Kinesis: 1 MB/s and 1,000 records/s of writes per shard)."""

    shards: Shards = Field(description="Shards provisioned.")
    write_mb_per_shard_s: Positive = Field(  # AWS Kinesis Data Streams shard write limit
        1.0, description="Writes one shard takes (MB/s)."
    )
    write_records_per_shard_s: Positive = Field(  # same public limit, records
        1000.0, description="Records one shard takes (records/s)."
    )
    read_mb_per_shard_s: Positive = Field(  # shard read limit (shared throughput)
        2.0, description="Reads one shard gives (MB/s)."
    )
    usd_per_shard_hour: NonNegative = Field(  # public Kinesis on-demand shard-hour price
        0.015, description="Price of a shard beyond the listed ones (USD per shard-hour)."
    )
    consumer: str = Field(description="The component that reads the stream.")
    autoscaling: Autoscaling | None = Field(
        default=None, description="Shard autoscaling (min and max in shards); null: fixed shards."
    )


class DatabaseSpec(Frozen):
    """Write capacity of the primary (or primaries) and how locks erode it under concurrency.

    Effective writes/s follow the Universal Scalability Law with `lock_contention` as its
    sigma: X(N) = N x per-writer / (1 + sigma (N - 1)); see `usl_capacity`.
    """

    write_capacity_per_s: Positive = Field(
        description="Writes per second one primary sustains alone (writes/s)."
    )
    lock_contention: Fraction = Field(
        default=0.0,
        description="The USL's sigma: how much concurrent writers slow each other (0-1).",
    )
    shards: Shards = Field(
        default=1, description="Write shards, each with its own primary."
    )
    max_connections: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="Connections it accepts; null: no limit."
    )


class Component(Frozen):
    """One box of a diagram: what it is, what it costs, and (if requests cross it) its capacity."""

    label: str = Field(description="What the diagram calls it.")
    plane: Literal["edge", "service", "state", "control"] = Field(
        description="The diagram's layer it sits in."
    )
    kind: Literal["compute", "cdn", "stream", "database", "cache", "storage", "network", "saas"] = (
        Field(description="What it is; cdn, stream and database need their own section.")
    )
    instance_type: str | None = Field(
        default=None, description="The instance type, e.g. c5.2xlarge."
    )
    count: Instances = Field(default=1, description="Instances listed.")
    monthly_usd: NonNegative = Field(
        description="The listed month of all its instances (USD/month)."
    )
    station: StationSpec | None = Field(
        default=None, description="How requests queue at it; null: no request crosses it."
    )
    autoscaling: Autoscaling | None = Field(
        default=None, description="Its instances scale with load; null: `count` instances."
    )
    connection_pool: ConnectionPool | None = Field(
        default=None, description="Connections its instances hold to a database; null: none."
    )
    failover: Failover = Field(default=Failover(), description="Its regions and how it fails over.")
    cdn: CdnSpec | None = Field(default=None, description="kind: cdn only: egress and cache.")
    stream: StreamSpec | None = Field(default=None, description="kind: stream only: shards.")
    database: DatabaseSpec | None = Field(default=None, description="kind: database only: writes.")

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

    stream: str | None = Field(default=None, description="The stream component; null: none.")
    processor: str = Field(description="The component that processes the samples.")
    store: str = Field(description="Where leaderboards are kept.")
    persist: str = Field(description="Where each device's metrics are written.")
    persist_every_s: Positive = Field(
        default=60.0, description="How often a riding device's metrics are written (s)."
    )


class Video(Frozen):
    """The best rendition a phase streams (seed 001: 720p, 1080p, 4K HDR) and its segment length."""

    max_rendition: Literal["720p", "1080p", "4k"] = Field(description="The best rendition.")
    segment_s: Positive = Field(default=4.0, description="HLS segment length (s).")
    # With adaptive bitrate (seed 001, phase 2's fix) a player short of bandwidth downshifts;
    # without it, it stalls (rebuffers) at its one rendition.
    adaptive_bitrate: bool = Field(
        True, description="Players short of bandwidth downshift; false: they stall."
    )


class LoadCpu(Frozen):
    """What the load generator's processes spent in the drills an architecture was calibrated
    on: CPU seconds per request plus per MB received plus per second of drill (Locust's own
    background work, which a nearly idle drill would otherwise charge to its few requests;
    `twin calibrate` writes it). A drill measures the same on the machine it runs on; the
    ratio is that machine's speed against the calibration's, by which the prediction scales
    the file's service times, times the stall factor of the wait for a CPU against
    `wait_per_cpu` (`twin.drill.starvation`)."""

    per_request_s: NonNegative = Field(description="CPU per request (s).")
    per_mb_s: NonNegative = Field(default=0.0, description="CPU per MB received (s/MB).")
    per_s: NonNegative = Field(default=0.0, description="CPU per second of drill (s/s).")
    wait_per_cpu: NonNegative | None = Field(
        default=None,
        description="Seconds the drills' measured processes waited for a CPU per CPU second "
        "(`twin.drill.starvation`); null: not measured, no starvation correction.",
    )


class TargetCpu(Frozen):
    """What the target spent in the drills an architecture was calibrated on, and which of its
    components run there: the target's CPU seconds per request, per MB sent and per second of
    drill (`twin calibrate` writes them). A drill measures the same on its target; the ratio
    scales the service times of `components` (the target's own speed, which moves apart from
    the load generator's: a shared machine's other work does not slow both alike), times the
    same stall factor as `load_cpu`'s. Without the figures (or without this block) every
    service time scales by `load_cpu`'s ratio."""

    components: list[str] = Field(
        min_length=1, description="The components that run in the target (their times scale by "
        "its CPU); the others by the load generator's.",
    )
    per_request_s: NonNegative | None = Field(
        default=None, description="The target's CPU per request (s); null: not calibrated yet."
    )
    per_mb_s: NonNegative = Field(default=0.0, description="CPU per MB sent (s/MB).")
    per_s: NonNegative = Field(default=0.0, description="CPU per second of drill (s/s).")


class Architecture(Frozen):
    """A whole architecture file: components, routes, the ingest path and the phase's scale."""

    name: str = Field(description="Its name (`architecture` in a scenario and the summary).")
    description: str = Field(default="", description="One line about it, for people.")
    riders: Riders = Field(
        description="The riders it was sized and priced for (its cost per user)."
    )
    stated_monthly_usd: NonNegative | None = Field(
        default=None,
        description="The month its source states (USD/month); what the components do not add "
        "up to is an `unitemized` cost line.",
    )
    components: dict[str, Component] = Field(
        min_length=1,
        description="Every component of its diagram, by name.",
        json_schema_extra={"propertyNames": {"title": "name"}},
    )
    routes: dict[str, list[str]] = Field(
        description="Each request type's services, in the order it crosses them.",
        json_schema_extra=_request_keys(),
    )
    ingest: Ingest = Field(description="Where telemetry goes after the API.")
    video: Video = Field(description="The video it streams.")
    audio: Audio = Field(
        default=Audio(),
        description="The music that follows cadence: its player and tempo path (with a route "
        "for `tempo`).",
    )
    load_cpu: LoadCpu | None = Field(  # a drill-calibrated model's speed reference
        None, description="Calibrated models: the load generator's CPU (`twin calibrate`)."
    )
    target_cpu: TargetCpu | None = Field(
        None, description="Calibrated models: the target's CPU and its components (`twin "
        "calibrate`)."
    )

    @model_validator(mode="after")
    def _references_exist(self) -> Architecture:
        self._check_routes()
        self._check_references()
        self._check_service_by_request()
        return self

    def _check_routes(self) -> None:
        missing = [t for t in REQUEST_TYPES if t not in self.routes and t not in OPTIONAL_TYPES]
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
        for i, name in enumerate(self.target_cpu.components if self.target_cpu else ()):
            if name not in self.components:
                raise FieldError(f"target_cpu.components.{i}", f"unknown component {name!r}")
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
