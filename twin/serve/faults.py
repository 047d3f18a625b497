"""The faults a drill injects: the one mutable thing an operator changes at run time.

`Faults` is plain data. The admin API (`twin.serve.admin`) changes it, the fault-injection
middleware (`twin.serve.fault_injection`), the stream processor and the streaming edge read it,
and on the Redis backend `twin.serve.fault_sync.FaultSync` shares it between worker processes.
It imports nothing of `twin.serve`, so every one of them can hold it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Faults"]


@dataclass
class Faults:
    """Faults injected by a drill, keyed by route name (the request-type vocabulary).

    `route_latency_s` adds a delay, `route_error_ratio` answers that share of requests with 503,
    `paused_consumers` stops that many stream consumers (shards 0..n-1), `origin_down` takes
    the streaming origin down and `origin_egress_bps` caps its egress. `clear()` undoes all.
    """

    route_latency_s: dict[str, float] = field(default_factory=dict)
    route_error_ratio: dict[str, float] = field(default_factory=dict)
    paused_consumers: int = 0
    origin_down: bool = False
    origin_egress_bps: float | None = None

    def clear(self) -> None:
        self.route_latency_s.clear()
        self.route_error_ratio.clear()
        self.paused_consumers = 0
        self.origin_down = False
        self.origin_egress_bps = None

    def to_doc(self) -> dict[str, Any]:
        """A JSON-ready copy (what `twin.serve.fault_sync.FaultSync` stores in Redis)."""
        return asdict(self)

    def load(self, doc: dict[str, Any]) -> None:
        """Take the values of `doc` (from `to_doc`) in place: handlers hold this object."""
        self.route_latency_s.clear()
        self.route_latency_s.update(doc["route_latency_s"])
        self.route_error_ratio.clear()
        self.route_error_ratio.update(doc["route_error_ratio"])
        self.paused_consumers = int(doc["paused_consumers"])
        self.origin_down = bool(doc["origin_down"])
        bps = doc["origin_egress_bps"]
        self.origin_egress_bps = None if bps is None else float(bps)
