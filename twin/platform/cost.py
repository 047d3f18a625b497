"""What an architecture costs a month, by component, in total and per user: pure functions.

A component's cost depends on how it is billed:

- `instances`: compute that autoscales is billed by the instance-hour, so its month costs the
  listed price of one instance times the mean number running (the listed count if unknown);
- `egress`: a CDN's listed price covers its included egress; each GB beyond costs `usd_per_gb`;
- `shards`: a stream's listed price covers its listed shards; extra shard-hours are billed;
- `static`: everything else costs what the seed lists (a database sharded beyond its listed
  instances pays for a primary per extra shard).

When a phase states a total larger than its components add up to (phase 3: $455,000 stated,
$449,000 listed), the difference is an explicit `unitemized` line, never spread silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from twin.config.architecture import HOURS_PER_MONTH, Architecture, Component

__all__ = [
    "UNITEMIZED",
    "CostBreakdown",
    "CostLine",
    "Usage",
    "component_cost",
    "monthly_cost",
    "per_user",
]

UNITEMIZED = "unitemized"
GB_PER_TB = 1000.0


@dataclass(frozen=True)
class Usage:
    """What a run used, scaled to a month. Missing entries mean "as listed".

    `instances`: mean instances running per autoscaled component. `egress_gb_month`: CDN
    egress per CDN component. `shards`: mean shards per stream component.
    """

    instances: Mapping[str, float] = field(default_factory=dict)
    egress_gb_month: Mapping[str, float] = field(default_factory=dict)
    shards: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CostLine:
    """One component's month: how it is billed, its dollars and what drove them."""

    component: str
    label: str
    billing: str
    monthly_usd: float
    quantity: float | None = None


@dataclass(frozen=True)
class CostBreakdown:
    """A month of an architecture: its lines, the total and the cost per user."""

    lines: tuple[CostLine, ...]
    riders: int

    @property
    def monthly_usd(self) -> float:
        return sum(line.monthly_usd for line in self.lines)

    @property
    def per_user_month_usd(self) -> float:
        return per_user(self.monthly_usd, self.riders)

    @property
    def by_component(self) -> dict[str, float]:
        return {line.component: line.monthly_usd for line in self.lines}

    def as_summary(self) -> dict[str, object]:
        """The `cost` block of summary.json."""
        return {
            "monthly_usd": round(self.monthly_usd, 2),
            "per_user_month_usd": round(self.per_user_month_usd, 4),
            "by_component": {k: round(v, 2) for k, v in self.by_component.items()},
        }


def per_user(monthly_usd: float, riders: int) -> float:
    """Monthly cost per user; riders must be positive."""
    if riders <= 0:
        raise ValueError("riders must be > 0 to price a user")
    return monthly_usd / riders


def component_cost(name: str, comp: Component, usage: Usage) -> CostLine:
    """The month of one component under `usage`."""
    if comp.cdn is not None:
        egress = usage.egress_gb_month.get(name)
        included = comp.cdn.included_egress_tb_month * GB_PER_TB
        extra = max(0.0, (egress if egress is not None else included) - included)
        return CostLine(
            name, comp.label, "egress", comp.monthly_usd + extra * comp.cdn.usd_per_gb, egress
        )
    if comp.stream is not None:
        shards = usage.shards.get(name, float(comp.stream.shards))
        extra = (
            max(0.0, shards - comp.stream.shards) * comp.stream.usd_per_shard_hour * HOURS_PER_MONTH
        )
        return CostLine(name, comp.label, "shards", comp.monthly_usd + extra, shards)
    if comp.database is not None:
        # Sharding gives each shard a primary: shards beyond the listed instances are new ones.
        instances = float(max(comp.count, comp.database.shards))
        return CostLine(name, comp.label, "static", comp.unit_monthly_usd * instances, instances)
    if comp.autoscaling is not None:
        instances = usage.instances.get(name, float(comp.count))
        return CostLine(name, comp.label, "instances", comp.unit_monthly_usd * instances, instances)
    return CostLine(name, comp.label, "static", comp.monthly_usd, float(comp.count))


def monthly_cost(
    architecture: Architecture, usage: Usage | None = None, *, riders: int | None = None
) -> CostBreakdown:
    """Cost of `architecture` for a month under `usage`, priced per user over `riders`.

    With no usage and no riders this is the phase at its own scale, the seed's figure.
    """
    usage = usage or Usage()
    lines = [component_cost(n, c, usage) for n, c in architecture.components.items()]
    stated = architecture.stated_monthly_usd
    gap = (stated or 0.0) - architecture.itemized_monthly_usd
    if gap > 0:
        lines.append(CostLine(UNITEMIZED, "stated total minus listed components", "static", gap))
    return CostBreakdown(tuple(lines), riders if riders is not None else architecture.riders)
