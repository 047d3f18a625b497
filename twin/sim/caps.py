"""A service kind's own cap on the requests it serves a second, per tick: what both engines
read a station's capacity against.

A stream takes at most its shards' records/s (and bytes/s) limit; a database its write
capacity, which caps all its requests at write capacity / the share of them that write.
The fluid engine drains no more than this (`twin.sim.fluid.platform_flows`); the exact
engine's gate lets the writes or records through at the limit (`twin.sim.exact.gate`), and
both count capacity (for utilization) as the smaller of the servers and this cap, in
servers' worth (cap x mean service time). With `--scale` the cap is F x the limit while a
stream's service time is not scaled, so servers alone would read a stream F times idle.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["record_rate", "request_cap"]


def record_rate(spec: Any, compiled: Any) -> np.ndarray:
    """A stream's records/s limit per tick: its shards' records/s, or their bytes/s over a
    record's bytes where that is lower."""
    record_bytes = compiled.telemetry_bytes_per_s / np.maximum(
        compiled.telemetry_records_per_s, 1e-9
    )
    return np.minimum(
        spec.records_capacity_per_s, spec.bytes_capacity_per_s / np.maximum(record_bytes, 1.0)
    )


def request_cap(spec: Any, compiled: Any) -> np.ndarray | None:
    """Requests/s per tick the kind lets a station serve (None: servers are the only limit)."""
    if spec.records_capacity_per_s is not None:
        return record_rate(spec, compiled)
    if spec.write_capacity_per_s is not None and spec.writes_per_s is not None:
        share = spec.writes_per_s / np.maximum(spec.arrivals, 1e-9)
        return spec.write_capacity_per_s / np.maximum(share, 1e-9)
    return None
