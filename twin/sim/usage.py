"""What a platform run used, as the cost model prices it: the same for both engines.

Mean instances per service (and the peak), CDN egress delivered per month (the riders'
segment bytes, up to the egress the CDN has), and mean stream shards. Instances are the
engine's (reactive autoscaling is simulated); the rest follows from the compile.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from twin.config.architecture import HOURS_PER_MONTH
from twin.sim.platform_input import CompiledPlatform

__all__ = ["platform_usage"]


def platform_usage(
    compiled: CompiledPlatform, instances: Mapping[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """The summary's `usage` block (see the module's docstring)."""
    seconds_per_month = HOURS_PER_MONTH * 3600.0
    egress: dict[str, float] = {}
    shards: dict[str, float] = {}
    for name, spec in compiled.services.items():
        if spec.egress_bps is not None:
            delivered = np.minimum(compiled.bytes_per_s, spec.egress_bps / 8.0)
            egress[name] = round(float(delivered.mean()) * seconds_per_month / 1e9, 3)
        if spec.shards is not None:
            shards[name] = round(float(np.mean(spec.shards)), 3)
    return {
        "instances": {n: round(float(np.mean(a)), 3) for n, a in instances.items()},
        "instances_peak": {n: float(np.max(a, initial=0.0)) for n, a in instances.items()},
        "egress_gb_month": egress,
        "shards": shards,
    }
