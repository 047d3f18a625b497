"""Prometheus metrics of one application, in a registry of its own (never the global one).

Requests are counted and timed by route name (the request-type vocabulary: `telemetry`,
`join`, ...) and status, so a drill's measured behaviour lines up with the twin's prediction per
request type. Ingest exposes what the 2021 IoT incident was about: the leaderboard lag (sample
taken on the bike -> visible on the leaderboard) and the stream backlog per shard. The edge
modules add their own metrics (`recommendation_requests_total`, `prediction_latency_seconds`)
to `Metrics.registry`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from twin.serve.loop_lag import LAG_BUCKETS as LOOP_LAG_BUCKETS

__all__ = [
    "CONTENT_TYPE", "LAG_BUCKETS", "LATENCY_BUCKETS", "SQLITE_BUCKETS", "BulkHistogram", "Metrics",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Request latencies from sub-millisecond (loopback) to the 10 s a client gives up after.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
# The SQLite thread's calls: a statement takes tens of microseconds, a COMMIT's fsync on a
# shared disk from under a millisecond to tens of milliseconds.
SQLITE_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015,
    0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip
# Leaderboard lag: healthy is well under a second; the 2021 incident was hours.
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)


class BulkHistogram(Collector):
    """A histogram without labels that takes many observations per call, as Prometheus'
    `Histogram` would (`le` buckets are inclusive upper bounds), for one-thread use.

    The stream processor observes the lag of every sample: tens of thousands per second,
    where `Histogram.observe` would take a lock and walk the buckets once per value.
    """

    def __init__(
        self, name: str, documentation: str, buckets: Iterable[float], registry: CollectorRegistry
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = tuple(sorted(buckets))
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        registry.register(self)

    def observe_many(self, values: Iterable[float]) -> None:
        counts, bounds = self.counts, self.bounds
        for value in values:
            counts[bisect_left(bounds, value)] += 1
            self.sum += value

    def collect(self) -> Iterator[HistogramMetricFamily]:
        cumulative, total = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            cumulative.append((floatToGoString(bound), total))
        yield HistogramMetricFamily(
            self.name, self.documentation, buckets=cumulative, sum_value=self.sum
        )

    def describe(self) -> Iterator[HistogramMetricFamily]:
        yield HistogramMetricFamily(self.name, self.documentation)


class Metrics:
    """The metrics of one `twin serve` process.

    The labelled children of the request metrics are looked up once per (route, method,
    status) and kept: `labels()` takes a lock and builds a tuple on every call.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "twin_http_requests_total", "HTTP requests by route and status",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "twin_http_request_duration_seconds", "HTTP request latency by route and status",
            ["route", "status"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.samples = Counter(
            "twin_ingest_samples_total", "Telemetry samples received, by result",
            ["result"], registry=r,
        )  # fmt: skip
        self.lag = BulkHistogram(
            "twin_leaderboard_lag_seconds",
            "Sample time to leaderboard update (the ingest lag), per sample",
            LAG_BUCKETS, r,
        )  # fmt: skip
        self.lag_last = Gauge(
            "twin_leaderboard_lag_last_seconds", "Lag of the latest sample processed, per shard",
            ["shard"], registry=r,
        )  # fmt: skip
        self.backlog = Gauge(
            "twin_ingest_backlog", "Samples streamed, not yet on the leaderboard, per shard",
            ["shard"], registry=r,
        )  # fmt: skip
        self.processed = Counter(
            "twin_stream_processed_total", "Samples applied to leaderboards, per shard",
            ["shard"], registry=r,
        )  # fmt: skip
        self.rate_limited = Counter(
            "twin_rate_limited_total", "Requests refused with 429, by limit",
            ["limit"], registry=r,
        )  # fmt: skip
        self.loop_lag = Histogram(
            "twin_event_loop_lag_seconds",
            "How late a 10 ms timer fires on this process's event loop (time the loop was busy)",
            buckets=LOOP_LAG_BUCKETS, registry=r,
        )  # fmt: skip
        self.sqlite = Histogram(
            "twin_sqlite_call_seconds",
            "Time on the embedded backend's SQLite thread per call, by kind: a telemetry group "
            "commit, a transaction with its COMMIT, or a statement",
            ["kind"], buckets=SQLITE_BUCKETS, registry=r,
        )  # fmt: skip
        # process_cpu_seconds_total & co. (Linux /proc): a drill reads the CPU the target spent
        # under its load, the event loop's busy time that `twin calibrate` fits.
        ProcessCollector(registry=r)
        self.accepted = self.samples.labels("accepted")
        self.duplicates = self.samples.labels("duplicate")
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            code = str(status)
            children = (self.requests.labels(route, method, code), self.latency.labels(route, code))
            if len(self._children) >= 10_000:  # methods are the client's choice: stay bounded
                self._children.clear()
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def set_backlog(self, per_shard: dict[int, int]) -> None:
        for shard, count in per_shard.items():
            self.backlog.labels(str(shard)).set(count)

    def render(self) -> bytes:
        """The Prometheus text exposition of everything registered."""
        return generate_latest(self.registry)
