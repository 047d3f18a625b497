"""The `kind: platform` scenario: riders on an architecture, with demand, incidents and SLOs.

A platform scenario names its architecture (a file in `scenarios/architectures/`, found
beside the scenario's own folder), when it starts (local time in `timezone`), who rides
(`population`), how they ride (`demand`), what goes wrong and when (`incidents`), and what
must hold (`slo`). `architecture_changes` applies dotted `path: value` changes to the
architecture, which is how a `-fixed` variant states the seeds' fix.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, field_validator, model_validator

from twin.config.architecture import Architecture, load_architecture
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
    "ARCHITECTURES_DIR",
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
    "architecture_file",
    "build_platform_scenario",
]

ARCHITECTURES_DIR = "architectures"
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


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

    name: str
    share: Annotated[float, Field(gt=0, le=1)]
    mix: dict[str, float] | None = None
    regions: dict[str, float] | None = None
    weekly_rides_scale: Positive = 1.0

    @model_validator(mode="after")
    def _known(self) -> Segment:
        _check_shares(self.mix, DEVICES, "device", "mix")
        _check_shares(self.regions, REGION_CODES, "region", "regions")
        return self


class PopulationSpec(Frozen):
    """How many riders and who they are; `--riders N` overrides `riders`."""

    riders: Riders
    mix: dict[str, float] | None = None
    regions: dict[str, float] | None = None
    segments: list[Segment] | None = None

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

    factor: Positive
    over_s: Positive


class DemandSpec(Frozen):
    """How riders ride. Every default is an assumption stated in `twin.platform.demand`."""

    live_share: dict[str, Annotated[float, Field(ge=0, le=1)]] | None = None
    max_concurrent_fraction: Annotated[float, Field(gt=0, le=1)] = 0.7
    weekly_rides_scale: Positive = 1.0
    growth: Growth | None = None

    @model_validator(mode="after")
    def _known(self) -> DemandSpec:
        if self.live_share is not None:
            for key in self.live_share:
                if key not in DEVICES:
                    raise FieldError(f"live_share.{key}", f"unknown device ({', '.join(DEVICES)})")
        return self


class _Timed(Frozen):
    start_s: NonNegative
    end_s: Positive

    @model_validator(mode="after")
    def _ordered(self) -> _Timed:
        if self.end_s <= self.start_s:
            raise FieldError("end_s", "must be after start_s")
        return self


class CapacityCut(_Timed):
    """A component keeps only `remaining` of its capacity (servers, egress, shards, writes)."""

    type: Literal["capacity_cut"]
    component: str
    remaining: Annotated[float, Field(ge=0, lt=1)]


class ComponentDown(_Timed):
    """`regions` of a component's regions fail; what survives depends on its failover mode."""

    type: Literal["component_down"]
    component: str
    regions: Annotated[int, Field(ge=1)] = 1


class ShardCount(_Timed):
    """A stream runs with `shards` shards (a re-sharding, or provisioning that lagged)."""

    type: Literal["shard_count"]
    component: str
    shards: Shards


class Surge(_Timed):
    """Session starts multiply by `multiplier`: ramp from start_s, hold to end_s, then decay.

    The decay is exponential with time constant `decay_s`. `segment` limits it to one
    population segment (e.g. a partner's audience on launch day).
    """

    type: Literal["surge"]
    multiplier: Annotated[
        float,
        Field(ge=1, json_schema_extra={"maximum": MAX_SURGE}),
        AfterValidator(at_most(MAX_SURGE, "MAX_SURGE", "multiplier")),
    ]
    ramp_s: NonNegative = 0.0
    decay_s: NonNegative = 0.0
    segment: str | None = None


Incident = Annotated[CapacityCut | ComponentDown | ShardCount | Surge, Field(discriminator="type")]


class Slo(Frozen):
    """A promise checked against the summary: `metric op target` (metric is a dotted key)."""

    name: str
    metric: str
    op: Literal["<", "<=", ">", ">=", "=="]
    target: float


class PlatformScenario(Frozen):
    """A whole `kind: platform` scenario file."""

    name: str
    kind: Literal["platform"] = "platform"
    description: str = ""
    architecture: str
    architecture_changes: dict[str, Any] = Field(default_factory=dict)
    duration_s: Positive
    start: datetime
    timezone: str = "America/New_York"  # the platform's home studio (New York)
    tick_s: Positive = 1.0
    seed: Seed = 1
    population: PopulationSpec
    demand: DemandSpec = DemandSpec()
    incidents: list[Incident] = Field(default_factory=list)
    slo: list[Slo] = Field(default_factory=list)

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


def architecture_file(scenario_path: Path, name: str) -> Path:
    """Where architecture `name` lives for a scenario file at `scenario_path`."""
    return scenario_path.parent / ARCHITECTURES_DIR / f"{name}.yaml"


def build_platform_scenario(
    data: dict[str, Any], path: Path
) -> tuple[PlatformScenario, Architecture]:
    """Validate a platform scenario, then load its architecture (with its changes)."""
    scenario: PlatformScenario = validate(lambda: PlatformScenario.model_validate(data), str(path))
    arch = architecture_file(path, scenario.architecture)
    if not arch.is_file():
        raise InputError(
            str(path),
            "architecture",
            f"unknown architecture {scenario.architecture!r} (no file {arch})",
        )
    architecture = load_architecture(arch, changes=scenario.architecture_changes)
    _check_components(scenario, architecture.components, str(path))
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
