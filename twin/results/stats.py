"""The per-service and per-request-type blocks of `summary.json`: `services.<name>` and
`requests.<type>`, with their latency blocks. Times in milliseconds, rates per second.

Engines fill every station key of a service; a platform's CDN adds its egress keys. A
simulated request type has `arrivals`; a drill's has what it measured on the wire instead
(`latency_ci95_ms`, `service_latency_ms`, `bytes`, achieved and requested rates).
"""

from __future__ import annotations

from pydantic import Field

from twin.results.base import Block, Interval, Number, Omittable, keys

__all__ = ["LatencyMs", "PercentileIntervals", "RequestStats", "ServiceStats", "WaitMs"]

_CI95 = (
    "95 % interval of the mean, [low, high] (ms): across replications, or across 20 batch "
    "means of one replication of a steady bare network; omitted when there is none (one "
    "replication of a platform run)."
)


class WaitMs(Block):
    """Time spent queueing at a station, before service (ms)."""

    mean: Number | None = Field(description="Mean wait (ms); null when nothing completed.")
    ci95: Omittable[Interval] = Field(None, description=_CI95)


class LatencyMs(Block):
    """A latency distribution (ms); null where nothing was recorded."""

    mean: Number | None = Field(description="Mean (ms).")
    ci95: Omittable[Interval] = Field(None, description=_CI95)
    p50: Number | None = Field(description="Median (ms).")
    p95: Number | None = Field(description="95th percentile (ms).")
    p99: Number | None = Field(description="99th percentile (ms).")
    p999: Number | None = Field(description="99.9th percentile (ms).")
    max: Number | None = Field(None, description="Drills: the largest recorded (ms).")


class ServiceStats(Block):
    """One service (a station of the queueing network) after the warm-up. Counts are totals
    over all replications; `latency_ms` is wait plus service at this station."""

    servers: Number = Field(
        description="Servers (instances x workers); with autoscaling or capacity limits, the "
        "run's mean capacity in servers."
    )
    arrivals: int = Field(description="Requests that arrived, dropped ones included.")
    completed: int = Field(description="Requests served to completion.")
    dropped: int = Field(
        description="Requests lost here: a full queue, a timeout, the service down."
    )
    in_system_start: int = Field(
        description="Requests waiting or in service when the statistics start (after warm-up)."
    )
    in_system_end: int = Field(description="Requests waiting or in service when the run ends.")
    throughput_per_s: Number = Field(description="Completed requests per second.")
    utilization_mean: Number = Field(
        description="Mean share of capacity busy (0-1); a CDN's share of its egress capacity."
    )
    utilization_peak: Number = Field(
        description="The busiest report interval's utilization (0-1): what ranks `bottlenecks`."
    )
    queue_mean: Number = Field(description="Time-average number of requests waiting.")
    in_system_mean: Number = Field(
        description="Time-average number of requests waiting or in service."
    )
    wait_ms: WaitMs = Field(description="Queueing time only (ms).")
    latency_ms: LatencyMs = Field(description="Wait plus service at this station (ms).")
    egress_offered_ratio_peak: Omittable[Number] = Field(
        None, description="CDN: peak egress wanted over egress capacity (above 1: short)."
    )
    egress_short_seconds: Omittable[Number] = Field(
        None, description="CDN: seconds in which the egress wanted exceeded capacity."
    )


class PercentileIntervals(Block):
    """How well a drill pinned its percentiles down: 95 % intervals [low, high] (ms), the
    wider of the order-statistics interval and the block bootstrap over latency windows."""

    p50: Interval | None = Field(description="Interval of the median (ms).")
    p95: Interval | None = Field(description="Interval of the 95th percentile (ms).")
    p99: Interval | None = Field(description="Interval of the 99th percentile (ms).")


class RequestStats(Block):
    """One request type (a source, in a bare network) end to end, as its sender saw it."""

    arrivals: Omittable[int] = Field(
        None, description="Simulated runs: requests sent after the warm-up."
    )
    count: int = Field(description="Requests completed (simulated) or answered (drill).")
    errors: int = Field(description="Requests lost on their route or answered with an error.")
    latency_ms: Omittable[LatencyMs] = Field(
        None,
        description="End-to-end latency (ms); a drill's from each request's intended send "
        "time (coordinated omission corrected). Omitted for a type a drill never sent.",
    )
    latency_ci95_ms: Omittable[PercentileIntervals] = Field(
        None, description="Drills: 95 % intervals of the measured percentiles (ms)."
    )
    service_latency_ms: Omittable[LatencyMs] = Field(
        None, description="Drills: latency from when each request was actually sent (ms)."
    )
    bytes: Omittable[int] = Field(None, description="Drills: response bytes received.")
    achieved_per_s: Omittable[Number] = Field(
        None, description="Drills: requests sent per drill second (of one run, when pooled)."
    )
    error_messages: Omittable[dict[str, int]] = Field(
        None,
        description="Drills: errors by message (e.g. `HTTP 503`); omitted without errors.",
        json_schema_extra=keys("message"),
    )
    requested_per_s: Omittable[Number] = Field(
        None, description="Drills: requests per drill second the workload asked for."
    )
    retries: Omittable[int] = Field(
        None, description="Exact engine with riders: calls sent again after a failure or timeout."
    )
    timeouts: Omittable[int] = Field(
        None, description="Exact engine with riders: attempts the client stopped waiting for."
    )
    gave_up: Omittable[int] = Field(
        None,
        description="Exact engine with riders: calls that failed for good (retries spent, "
        "or a join past the rider's patience).",
    )
