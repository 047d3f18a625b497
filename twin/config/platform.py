"""The `kind: platform` scenario: riders on an architecture, with demand, incidents and SLOs.

A platform scenario names its architecture (beside the scenario in `architectures/`, a path,
or a built-in: `twin.config.builtin` finds it), when it starts (local time in `timezone`), who
rides (`population`), how they ride (`demand`), what goes wrong and when (`incidents`), and
what must hold (`slo`). `architecture_changes` applies dotted `path: value` changes to the
architecture, which is how a `-fixed` variant states the seeds' fix.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, WithJsonSchema, field_validator, model_validator

from twin.config.architecture import Architecture, load_architecture
from twin.config.builtin import find_architecture
from twin.config.clients import Clients
from twin.config.files import validate
from twin.config.limits import (
    MAX_RIDERS,
    MAX_SURGE,
    Riders,
    Seed,
    Shards,
    at_most,
    over,
    too_many_ticks,
)
from twin.config.network import FieldError, Frozen
from twin.config.vocabulary import DEVICES, REGION_CODES
from twin.errors import InputError

__all__ = [
    "CapacityCut",
    "ComponentDown",
    "DemandSpec",
    "Growth",
    "Incident",
    "PlatformScenario",
    "PopulationSpec",
    "Segment",
    "ShardCount",
    "Slo",
    "Surge",
    "build_platform_scenario",
]

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


def _keys(title: str, known: tuple[str, ...]) -> dict[str, Any]:
    """Schema of a mapping whose keys (a `title`) must be among `known`."""
    return {"propertyNames": {"title": title, "enum": list(known)}}


_MIX = "Relative weights of the devices (bike, tread, app); null: the platform's mix."
_REGIONS = "Relative weights of the markets by region code (US, UK, ...); null: the platform's."
_COMPONENT = "The architecture's component it hits."
# A local date-time as a file writes it (an editor reads it as text; pydantic parses it).
_LOCAL_TIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"}


def _check_shares(
    value: dict[str, float] | None, known: tuple[str, ...], what: str, field: str
) -> None:
    if value is None:
        return
    for key, share in value.items():
        if key not in known:
            raise FieldError(f"{field}.{key}", f"unknown {what} (known: {', '.join(known)})")
        if share < 0:
            raise FieldError(f"{field}.{key}", "a share must be >= 0")
    if sum(value.values()) <= 0:
        raise FieldError(field, f"{what} shares must not all be zero")


class Segment(Frozen):
    """A group of riders with its own device mix and markets (e.g. a partner's app audience)."""

    name: str = Field(description="The segment's name (a surge's `segment` names it).")
    share: Annotated[float, Field(gt=0, le=1)] = Field(
        description="Its share of the riders; the segments' shares sum to 1."
    )
    mix: dict[str, float] | None = Field(
        default=None, description=_MIX, json_schema_extra=_keys("device", DEVICES)
    )
    regions: dict[str, float] | None = Field(
        default=None, description=_REGIONS, json_schema_extra=_keys("region", REGION_CODES)
    )
    weekly_rides_scale: Positive = Field(
        default=1.0, description="Multiplies its riders' rides per week (0.5: half as often)."
    )

    @model_validator(mode="after")
    def _known(self) -> Segment:
        _check_shares(self.mix, DEVICES, "device", "mix")
        _check_shares(self.regions, REGION_CODES, "region", "regions")
        return self


class PopulationSpec(Frozen):
    """How many riders and who they are; `--riders N` overrides `riders`."""

    riders: Riders = Field(
        description="Riders (members) at the start; `--riders N` overrides it."
    )
    mix: dict[str, float] | None = Field(
        default=None, description=_MIX, json_schema_extra=_keys("device", DEVICES)
    )
    regions: dict[str, float] | None = Field(
        default=None, description=_REGIONS, json_schema_extra=_keys("region", REGION_CODES)
    )
    segments: list[Segment] | None = Field(
        default=None,
        description="Groups of riders with their own devices and markets (not with mix).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> PopulationSpec:
        _check_shares(self.mix, DEVICES, "device", "mix")
        _check_shares(self.regions, REGION_CODES, "region", "regions")
        if self.segments:
            if self.mix is not None or self.regions is not None:
                raise FieldError("segments", "give mix/regions per segment, not beside segments")
            total = sum(s.share for s in self.segments)
            if abs(total - 1.0) > 1e-6:
                raise FieldError("segments", f"segment shares must sum to 1, they sum to {total:g}")
            names = [s.name for s in self.segments]
            if len(set(names)) != len(names):
                raise FieldError("segments", "segment names must be unique")
        return self

    def resolved_segments(self) -> list[Segment]:
        """The segments, or one segment of everyone."""
        if self.segments:
            return list(self.segments)
        return [Segment(name="riders", share=1.0, mix=self.mix, regions=self.regions)]


class Growth(Frozen):
    """Riders multiply by `factor` over `over_s` (exponentially), then stay there."""

    factor: Positive = Field(description="Riders at the end over riders at the start.")
    over_s: Positive = Field(description="How long the growth takes (s).")


class DemandSpec(Frozen):
    """How riders ride. Every default is an assumption stated in `twin.platform.demand`."""

    live_share: dict[str, Annotated[float, Field(ge=0, le=1)]] | None = Field(
        default=None,
        description="By device, the share of sessions that join a live class (0-1); "
        "null: twin.platform.demand's defaults.",
        json_schema_extra=_keys("device", DEVICES),
    )
    max_concurrent_fraction: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.7, description="At most this share of the riders ride at once."
    )
    weekly_rides_scale: Positive = Field(
        default=1.0, description="Multiplies every rider's rides per week."
    )
    growth: Growth | None = Field(
        default=None, description="Riders growing over the run; null: none."
    )
    music_share: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.0,
        description="Share of sessions playing music that follows the rider's cadence (0-1; "
        "seed 002): each sends cadence samples on the architecture's `tempo` route.",
    )

    @model_validator(mode="after")
    def _known(self) -> DemandSpec:
        if self.live_share is not None:
            for key in self.live_share:
                if key not in DEVICES:
                    raise FieldError(f"live_share.{key}", f"unknown device ({', '.join(DEVICES)})")
        return self


class _Timed(Frozen):
    start_s: NonNegative = Field(description="When it starts, from the run's start (s).")
    end_s: Positive = Field(description="When it ends, from the run's start (s).")

    @model_validator(mode="after")
    def _ordered(self) -> _Timed:
        if self.end_s <= self.start_s:
            raise FieldError("end_s", "must be after start_s")
        return self


class CapacityCut(_Timed):
    """A component keeps only `remaining` of its capacity (servers, egress, shards, writes)."""

    type: Literal["capacity_cut"] = Field(description="A component keeps part of its capacity.")
    component: str = Field(description=_COMPONENT)
    remaining: Annotated[float, Field(ge=0, lt=1)] = Field(
        description="The share of its capacity left (0: none)."
    )


class ComponentDown(_Timed):
    """`regions` of a component's regions fail; what survives depends on its failover mode."""

    type: Literal["component_down"] = Field(description="Regions of a component fail.")
    component: str = Field(description=_COMPONENT)
    regions: Annotated[int, Field(ge=1)] = Field(
        default=1, description="How many of its regions fail."
    )


class ShardCount(_Timed):
    """A stream runs with `shards` shards (a re-sharding, or provisioning that lagged)."""

    type: Literal["shard_count"] = Field(description="A stream runs with other shards.")
    component: str = Field(description="The stream (a component of kind: stream).")
    shards: Shards = Field(description="Shards it runs with meanwhile.")


class Surge(_Timed):
    """Session starts multiply by `multiplier`: ramp from start_s, hold to end_s, then decay.

    The decay is exponential with time constant `decay_s`. `segment` limits it to one
    population segment (e.g. a partner's audience on launch day).
    """

    type: Literal["surge"] = Field(description="More sessions start (a holiday, a launch).")
    multiplier: Annotated[
        float,
        Field(ge=1, json_schema_extra={"maximum": MAX_SURGE}),
        AfterValidator(at_most(MAX_SURGE, "MAX_SURGE", "multiplier")),
    ] = Field(
        description="Session starts multiply by this at the hold."
    )
    ramp_s: NonNegative = Field(default=0.0, description="From start_s to the full multiplier (s).")
    decay_s: NonNegative = Field(
        default=0.0, description="Time constant of the decay after end_s (s); 0: it stops at once."
    )
    segment: str | None = Field(
        default=None, description="Only this population segment surges; null: everyone."
    )


Incident = Annotated[CapacityCut | ComponentDown | ShardCount | Surge, Field(discriminator="type")]


class Slo(Frozen):
    """A promise checked against the summary: `metric op target` (metric is a dotted key)."""

    name: str = Field(description="What reports call it.")
    metric: str = Field(
        description="A dotted key of summary.json, e.g. requests.join.latency_ms.p99 "
        "(`twin schema summary --markdown` lists them)."
    )
    op: Literal["<", "<=", ">", ">=", "=="] = Field(description="How observed meets target.")
    target: float = Field(description="The number the metric is held to, in the metric's unit.")


class PlatformScenario(Frozen):
    """A whole `kind: platform` scenario file."""

    name: str = Field(description="The scenario's name (`scenario` in the summary).")
    kind: Literal["platform"] = Field(
        default="platform",
        description="`platform`: riders on an architecture (a file must say so).",
    )
    description: str = Field(default="", description="One line about it, for people.")
    architecture: str = Field(
        description="A file beside the scenario in architectures/, a path (with or without "
        ".yaml), or a built-in (`twin architectures` lists them), tried in that order."
    )
    architecture_changes: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted `path: value` changes to the architecture "
        "(components.cdn.cdn.egress_gbps: 3000): how a -fixed variant states its fix.",
    )
    duration_s: Positive = Field(description="Simulated time (s).")
    start: Annotated[datetime, WithJsonSchema(_LOCAL_TIME)] = Field(
        description="When the run starts: a local date and time without offset "
        "(2020-01-01T07:00:00); `timezone` says where."
    )
    timezone: str = Field(
        default="America/New_York",  # the platform's home studio (New York)
        description="The IANA time zone of `start`.",
    )
    tick_s: Positive = Field(default=1.0, description="The fluid engine's time step (s).")
    seed: Seed = Field(
        default=1, description="Random seed: same seed, same inputs, same summary."
    )
    population: PopulationSpec = Field(description="Who rides.")
    demand: DemandSpec = Field(default=DemandSpec(), description="How they ride.")
    incidents: list[Incident] = Field(
        default_factory=list, description="What goes wrong, and when."
    )
    slo: list[Slo] = Field(
        default_factory=list, description="Promises checked against the run's summary."
    )
    clients: Clients = Field(
        default=Clients(),
        description="How clients time out and retry (the exact engine's riders).",
    )

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name such as Europe/London)"
            ) from None
        return value

    @model_validator(mode="after")
    def _coherent(self) -> PlatformScenario:
        if self.start.tzinfo is not None:
            raise FieldError(
                "start", "give a local date-time without offset; 'timezone' says where"
            )
        if self.tick_s > self.duration_s:
            raise FieldError("tick_s", "must not exceed duration_s")
        self._check_limits()
        segments = {s.name for s in self.population.resolved_segments()}
        for i, incident in enumerate(self.incidents):
            if isinstance(incident, Surge) and incident.segment not in (None, *segments):
                raise FieldError(f"incidents.{i}.segment", f"unknown segment {incident.segment!r}")
        return self

    def _check_limits(self) -> None:
        problem = too_many_ticks(self.duration_s, self.tick_s)
        if problem:
            raise FieldError("duration_s", problem)
        growth = self.demand.growth
        if growth is not None and self.population.riders * growth.factor > MAX_RIDERS:
            peak = self.population.riders * growth.factor
            message = over("riders x growth.factor =", peak, MAX_RIDERS, "MAX_RIDERS")
            raise FieldError("demand.growth.factor", message)

    @property
    def start_utc(self) -> datetime:
        """The start as an aware UTC datetime."""
        return self.start.replace(tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)


def build_platform_scenario(
    data: dict[str, Any], path: Path
) -> tuple[PlatformScenario, Architecture]:
    """Validate a platform scenario, then load its architecture (with its changes)."""
    scenario: PlatformScenario = validate(lambda: PlatformScenario.model_validate(data), str(path))
    arch = find_architecture(scenario.architecture, path)
    architecture = load_architecture(arch, changes=scenario.architecture_changes)
    _check_components(scenario, architecture.components, str(path))
    if scenario.demand.music_share > 0 and "tempo" not in architecture.routes:
        message = f"{scenario.architecture} has no route for tempo (routes.tempo)"
        raise InputError(str(path), "demand.music_share", message)
    return scenario, architecture


def _check_components(scenario: PlatformScenario, components: dict[str, Any], source: str) -> None:
    for i, incident in enumerate(scenario.incidents):
        name = getattr(incident, "component", None)
        if name is None:
            continue
        comp = components.get(name)
        if comp is None:
            raise InputError(
                source,
                f"incidents.{i}.component",
                f"unknown component {name!r} in {scenario.architecture}",
            )
        if isinstance(incident, ShardCount) and comp.stream is None:
            raise InputError(source, f"incidents.{i}.component", f"{name!r} is not a stream")
