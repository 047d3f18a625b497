"""The result every engine returns: the summary mapping and the time series table, and (where
the engine keeps them) each request type's latency histogram."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["RunResult"]


@dataclass(frozen=True)
class RunResult:
    """`summary` is what summary.json holds; `timeseries` what timeseries.csv holds."""

    summary: dict[str, Any]
    timeseries: pd.DataFrame
    # Each request type's end-to-end latency: counts on `twin.sim.sketch`'s bins, after the
    # warm-up, summed over replications (the exact engine's; empty where an engine keeps none).
    # What a drill's drift check tests the measured distribution against (`twin.drill.drift`).
    latency_hist: dict[str, np.ndarray] = field(default_factory=dict)
