"""Similarity scaling (`--scale F`): a scenario and its architecture at a fraction of their size.

Riders and every capacity scale by F together, so each service keeps its utilization and each
incident its shape at 1/100 or 1/1000 of the platform, small enough to simulate rider by rider:

- scaled by F: the population (and the architecture's design riders), as a miniature of the
  full population (its cohorts' rides times F, every proportion kept: not a smaller sample,
  whose load would be off by its sampling error); each component's servers (instances x
  servers per instance, rounded, at least one, and at least one instance per region of an
  active-active component), its autoscaling bounds (a floor of one or more stays at least
  one: at zero instances target tracking never scales up again), its connection pool;
  CDN egress; each stream shard's write and read limits and price (the shard count and its
  autoscaling bounds stay: 9 shards at 1/2000 are 9 shards of 1/2000 of a shard, so a stream
  that autoscales from 9 to 100 shards still does, and its write limit keeps its proportion
  exactly); database write capacity; the monthly price (so cost per rider holds);
- not scaled: per-request service times, timeouts, hit ratios, session behaviour, incident
  times and multipliers, and everything per rider (bitrates, batch sizes).

Rounding to whole servers is where similarity ends: a component with 3 servers at 1/100 still
gets one. `rounding` says how far each component's scaled servers are from servers x F.
"""

from __future__ import annotations

import math
from typing import Any

from twin.config.architecture import Architecture, Autoscaling, Component
from twin.config.platform import PlatformScenario
from twin.errors import InputError

__all__ = ["MIN_SCALE", "check_scale", "rounding", "scale_platform"]

MIN_SCALE = 1e-6


def check_scale(factor: float) -> float:
    """`factor` when it is a fraction in (0, 1], else an InputError naming `--scale`."""
    if not (isinstance(factor, int | float) and math.isfinite(factor)):
        raise InputError("--scale", None, f"{factor!r} is not a number")
    if not MIN_SCALE <= factor <= 1.0:
        raise InputError(
            "--scale", None, f"must be in (0, 1] (e.g. 0.01 for 1/100), not {factor:g}"
        )
    return float(factor)


def _whole(x: float) -> int:
    return max(1, round(x))


def _autoscaling(auto: Autoscaling | None, factor: float, floor: int = 1) -> Autoscaling | None:
    if auto is None:
        return None
    # a floor of at least one stays one: at zero instances a quiet minute would measure no
    # busy time, and target tracking (ceil(instances x utilization / target)) never scales up
    low = max(_whole(auto.min * factor), floor) if auto.min else 0
    return auto.model_copy(update={"min": low, "max": max(_whole(auto.max * factor), low, 1)})


def _component(comp: Component, factor: float) -> Component:
    update: dict[str, Any] = {"monthly_usd": comp.monthly_usd * factor}
    count = comp.count
    if comp.station is not None and count > 0:
        servers = count * comp.station.servers_per_instance * factor
        # active-active keeps an instance in each region, so losing a region leaves whole ones
        regions = comp.failover.regions if comp.failover.mode == "active-active" else 1
        count = max(_whole(count * factor), regions)
        per = _whole(servers / count)
        update["station"] = comp.station.model_copy(update={"servers_per_instance": per})
        update["count"] = count
        update["autoscaling"] = _autoscaling(comp.autoscaling, factor, regions)
    if comp.connection_pool is not None and count > 0:
        pool = comp.connection_pool
        size = _whole(comp.count * pool.size_per_instance * factor / count)
        update["connection_pool"] = pool.model_copy(update={"size_per_instance": size})
    if comp.cdn is not None:
        update["cdn"] = comp.cdn.model_copy(update={"egress_gbps": comp.cdn.egress_gbps * factor})
    if comp.stream is not None:
        stream = comp.stream  # shards stay, each taking F of a shard (see the module)
        update["stream"] = stream.model_copy(
            update={
                "write_records_per_shard_s": stream.write_records_per_shard_s * factor,
                "write_mb_per_shard_s": stream.write_mb_per_shard_s * factor,
                "read_mb_per_shard_s": stream.read_mb_per_shard_s * factor,
                "usd_per_shard_hour": stream.usd_per_shard_hour * factor,
            }
        )
    if comp.database is not None:
        db = comp.database
        update["database"] = db.model_copy(
            update={"write_capacity_per_s": db.write_capacity_per_s * factor}
        )
    return comp.model_copy(update=update)


def scale_platform(
    scenario: PlatformScenario, architecture: Architecture, factor: float
) -> tuple[PlatformScenario, Architecture]:
    """The scenario with riders x `factor` on the architecture with capacities x `factor`."""
    factor = check_scale(factor)
    if factor == 1.0:
        return scenario, architecture
    population = scenario.population.model_copy(
        update={"riders": _whole(scenario.population.riders * factor)}
    )
    components = {n: _component(c, factor) for n, c in architecture.components.items()}
    stated = architecture.stated_monthly_usd
    arch = architecture.model_copy(
        update={
            "riders": _whole(architecture.riders * factor),
            "components": components,
            "stated_monthly_usd": None if stated is None else stated * factor,
        }
    )
    return scenario.model_copy(update={"population": population}), arch


def rounding(before: Architecture, after: Architecture, factor: float) -> dict[str, float]:
    """Per component with servers, scaled servers / (servers x factor) - 1 (0 when exact)."""
    out = {}
    for name, comp in before.components.items():
        if comp.station is None or comp.count == 0:
            continue
        scaled = after.components[name]
        assert scaled.station is not None
        want = comp.count * comp.station.servers_per_instance * factor
        got = scaled.count * scaled.station.servers_per_instance
        out[name] = got / want - 1.0
    return out
