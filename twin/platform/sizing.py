"""An architecture at a glance: what it costs and how big it is (`twin architectures`).

Pure: an architecture in, a flat record out. The cost is the month at the architecture's own
scale (`cost.monthly_cost`: the listed components, plus the unitemized rest of a stated total),
an hour of it (AWS bills a month as 730 hours) and a rider's share. The sizes are as listed:
instances are the components with an instance type (servers, database and cache nodes), and
their most counts every autoscaled service at its maximum; capacities are the CDN's egress,
the streams' shards and the databases' nominal writes (per primary times shards, before lock
contention).
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.config.architecture import HOURS_PER_MONTH, Architecture, Component
from twin.platform.cost import monthly_cost

__all__ = ["Sizing", "sizing"]


@dataclass(frozen=True)
class Sizing:
    """One architecture's cost and size, as listed (see the module docstring)."""

    name: str
    description: str
    riders: int
    monthly_usd: float
    hourly_usd: float
    per_user_month_usd: float
    components: int
    services: int  # components requests queue at
    instances: int
    instances_max: int
    cdn_egress_gbps: float | None
    stream_shards: int | None
    db_writes_per_s: float | None
    max_rendition: str


def sizing(architecture: Architecture) -> Sizing:
    """The cost and size of `architecture` at its own scale."""
    cost = monthly_cost(architecture)
    parts = architecture.components.values()
    return Sizing(
        name=architecture.name,
        description=architecture.description,
        riders=architecture.riders,
        monthly_usd=round(cost.monthly_usd, 2),
        hourly_usd=round(cost.monthly_usd / HOURS_PER_MONTH, 2),
        per_user_month_usd=round(cost.per_user_month_usd, 4),
        components=len(architecture.components),
        services=len(architecture.services),
        instances=sum(c.count for c in parts if c.instance_type is not None),
        instances_max=sum(_most_instances(c) for c in parts if c.instance_type is not None),
        cdn_egress_gbps=_total([c.cdn.egress_gbps for c in parts if c.cdn is not None]),
        stream_shards=_total_shards([c.stream.shards for c in parts if c.stream is not None]),
        db_writes_per_s=_total([_db_writes(c) for c in parts if c.database is not None]),
        max_rendition=architecture.video.max_rendition,
    )


def _most_instances(component: Component) -> int:
    scaling = component.autoscaling
    return max(component.count, scaling.max) if scaling is not None else component.count


def _db_writes(component: Component) -> float:
    assert component.database is not None
    return component.database.write_capacity_per_s * component.database.shards


def _total(values: list[float]) -> float | None:
    """The sum, or None when the architecture has no such component."""
    return sum(values) if values else None


def _total_shards(values: list[int]) -> int | None:
    return sum(values) if values else None
