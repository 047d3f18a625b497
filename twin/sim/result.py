"""The result every engine returns: the summary mapping and the time series table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["RunResult"]


@dataclass(frozen=True)
class RunResult:
    """`summary` is what summary.json holds; `timeseries` what timeseries.csv holds."""

    summary: dict[str, Any]
    timeseries: pd.DataFrame
