"""Prometheus metrics of one application, in a registry of its own (never the global one).

Requests are counted and timed by route name (the request-type vocabulary: `telemetry`,
`join`, ...) and status, so a drill's measured behaviour lines up with the twin's prediction per
request type. Ingest exposes what the 2021 IoT incident was about: the leaderboard lag (sample
taken on the bike -> visible on the leaderboard) and the stream backlog per shard. The edge
modules add their own metrics (`recommendation_requests_total`, `prediction_latency_seconds`)
to `Metrics.registry`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["CONTENT_TYPE", "LAG_BUCKETS", "LATENCY_BUCKETS", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Request latencies from sub-millisecond (loopback) to the 10 s a client gives up after.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
# Leaderboard lag: healthy is well under a second; the 2021 incident was hours.
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)


class Metrics:
    """The metrics of one `twin serve` process."""

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
        self.lag = Histogram(
            "twin_leaderboard_lag_seconds",
            "Sample time to leaderboard update (the ingest lag), per sample",
            buckets=LAG_BUCKETS, registry=r,
        )  # fmt: skip
        self.lag_last = Gauge(
            "twin_leaderboard_lag_last_seconds", "Lag of the latest sample processed, per shard",
            ["shard"], registry=r,
        )  # fmt: skip
        self.backlog = Gauge(
            "twin_ingest_backlog", "Stream entries not yet on the leaderboard, per shard",
            ["shard"], registry=r,
        )  # fmt: skip
        self.processed = Counter(
            "twin_stream_processed_total", "Stream entries applied to leaderboards, per shard",
            ["shard"], registry=r,
        )  # fmt: skip
        self.rate_limited = Counter(
            "twin_rate_limited_total", "Requests refused with 429, by limit",
            ["limit"], registry=r,
        )  # fmt: skip

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        code = str(status)
        self.requests.labels(route, method, code).inc()
        self.latency.labels(route, code).observe(seconds)

    def set_backlog(self, per_shard: dict[int, int]) -> None:
        for shard, count in per_shard.items():
            self.backlog.labels(str(shard)).set(count)

    def render(self) -> bytes:
        """The Prometheus text exposition of everything registered."""
        return generate_latest(self.registry)
