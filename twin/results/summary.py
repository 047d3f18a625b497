"""`summary.json` as one typed model: what every run writes, whoever made it.

Both engines fill it for a bare network and for a platform, drills fill it with what they
measured (`engine: "drill"`), and a drill's `predicted.json` is one too. Keys that do not
apply to a run are left out, never faked; a figure that could not be measured is null. Times
are in milliseconds (`*_ms`) or seconds (`*_s`), rates per second; keys are added, never
renamed. The descriptions below are the contract's documentation: `twin schema summary`
prints them as JSON Schema and the README's table of keys is made from it.

    summary = Summary.from_mapping(json.loads(text))   # a ValidationError names the field
    summary.to_mapping()                               # the same mapping, key order included
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from twin.results.base import Block, Number, Omittable, keys
from twin.results.blocks import Analytic, Cost, Experience, Incident, Precision, SloVerdict, Usage
from twin.results.drift_blocks import DriftEntry
from twin.results.drill_blocks import Drill, Prediction
from twin.results.stats import RequestStats, ServiceStats

__all__ = ["Summary"]


class Summary(Block):
    """A run's `summary.json`: what was run, then services, requests, riders, cost, verdicts."""

    scenario: str = Field(description="The scenario's name.")
    kind: Omittable[Literal["network", "platform"]] = Field(
        None,
        description="Simulated runs: `network` (a bare queueing network) or `platform` (riders "
        "on an architecture).",
    )
    architecture: str | None = Field(
        None,
        description="Platform runs: the scenario's architecture. Drills: the one modelling "
        "the target (null when none is named).",
    )
    engine: Literal["exact", "fluid", "drill"] = Field(
        description="`exact` (every request an event), `fluid` (per tick) or `drill` (measured "
        "on a real target)."
    )
    riders: Omittable[Number] = Field(
        None,
        description="Platform runs: the population's riders at the start. Drills: that times "
        "`drill.scale`.",
    )
    seed: int = Field(
        description="The seed: same seed, same inputs, same summary (but wall_seconds)."
    )
    replications: int = Field(
        description="Independent replications (a drill's: runs pooled, `--repeat`)."
    )
    simulated_seconds: Number = Field(
        description="Scenario seconds simulated (a drill's: drill seconds x speedup)."
    )
    wall_seconds: Number = Field(description="Wall-clock seconds the run took.")
    warmup_s: Omittable[Number] = Field(
        None, description="Simulated runs: seconds left out of the statistics at the start."
    )
    interval_s: Omittable[Number] = Field(
        None, description="Simulated runs: width of a `timeseries.csv` row (s)."
    )
    tick_s: Omittable[Number] = Field(None, description="Fluid engine: the time step (s).")
    precision: Omittable[Precision] = Field(
        None, description="Exact engine with `--precision`: the precision asked and reached."
    )
    start: Omittable[str] = Field(
        None, description="Platform runs: the scenario's start (date and time)."
    )
    peak_active_riders: Omittable[int] = Field(
        None, description="Platform runs: most riders riding at once."
    )
    active_riders_peak: Omittable[int] = Field(
        None, description="Fluid platform runs: the same as `peak_active_riders`."
    )
    riders_end: Omittable[int] = Field(
        None, description="Platform runs: the population's riders at the end (growth)."
    )
    engine_choice: Omittable[str] = Field(
        None, description="`--engine auto`: which engine ran and why (the work it estimated)."
    )
    scale: Omittable[Number] = Field(
        None,
        description="`--scale F`: the run's riders and capacities were F times the scenario's "
        "(per-rider figures hold; counts are F times as large).",
    )
    sessions: Omittable[int] = Field(
        None,
        description="Simulated platforms: sessions ridden (exact: per replication, on average; "
        "fluid: expected).",
    )
    services: dict[str, ServiceStats] = Field(
        description="Each service (a station) by name. Empty for a drill: it measures "
        "requests, not services.",
        json_schema_extra=keys("name"),
    )
    requests: dict[str, RequestStats] = Field(
        description="Each request type end to end (a bare network's: each source).",
        json_schema_extra=keys("type"),
    )
    bottlenecks: list[str] = Field(
        description="Services, most saturated first (by peak, then mean utilization)."
    )
    experience: Omittable[Experience] = Field(
        None, description="Platform runs and drills: what riders lived through."
    )
    usage: Omittable[Usage] = Field(
        None, description="Simulated platforms: the capacity used, which `cost` prices."
    )
    incidents: Omittable[list[Incident]] = Field(
        None, description="Platform runs: the scenario's incidents (surges, components down)."
    )
    cost: Omittable[Cost] = Field(None, description="Platform runs: the month's cost (USD).")
    analytic: Omittable[Analytic] = Field(
        None, description="Bare networks: queueing theory's prediction, or why there is none."
    )
    slo: Omittable[list[SloVerdict]] = Field(
        None, description="Verdicts of the scenario's `slo:` block, in its order."
    )
    drill: Omittable[Drill] = Field(None, description="Drills: how the load was made.")
    prediction: Omittable[Prediction] = Field(
        None, description="A drill's `predicted.json`: how the twin predicted the drill."
    )
    drift: Omittable[dict[str, DriftEntry]] = Field(
        None,
        description="Drills: each request type's measured latency against the prediction, "
        "each telemetry field against the population's law.",
        json_schema_extra=keys("type"),
    )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Summary:
        """The summary in `data` (as read from summary.json), validated: a
        `pydantic.ValidationError` names each wrong field (`services.api.arrivals`);
        `twin.config.loader.validate` turns it into a one-line InputError for a file read."""
        return cls.model_validate(dict(data))

    def to_mapping(self) -> dict[str, Any]:
        """The summary.json mapping: keys never set left out, nulls kept, order as given."""
        return self.model_dump(exclude_unset=True)
