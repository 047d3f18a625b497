"""The exact engine on a compiled platform: every request of every request type an event.

It runs the same offered load as the fluid engine (a source per request type along its
route, plus the ingest flows), on the same servers per tick. It does not apply the kind
caps of the fluid engine (CDN egress, shard and write limits), timeouts or reactive
autoscaling: it is the oracle for the queueing part, where it can run (tens of thousands of
riders, not millions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twin.sim.exact.engine import run_model
from twin.sim.exact.model import from_platform
from twin.sim.result import RunResult

__all__ = ["INTERVAL_S", "run_exact_platform"]

INTERVAL_S = 60.0  # one timeseries row per simulated minute, as the fluid engine writes


def run_exact_platform(
    compiled: Any,
    *,
    name: str,
    seed: int,
    replications: int = 1,
    progress: Callable[[float, float], None] | None = None,
) -> RunResult:
    """Simulate a compiled platform request by request."""
    duration = len(compiled.t) * float(compiled.tick_s)
    model = from_platform(compiled, name, seed, min(INTERVAL_S, duration))
    result = run_model(model, seed=seed, replications=replications, progress=progress)
    summary = dict(result.summary)
    summary["requests"] = {
        name: block for name, block in summary["requests"].items() if not name.startswith("ingest:")
    }
    return RunResult(summary=summary, timeseries=result.timeseries)
