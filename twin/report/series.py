"""The time series as the plots and findings read it: one column per service, rates per second.

`timeseries.csv` is long (a row per interval and service). Plots want it wide: an index of
interval starts and one column per service. Counts in the file are per interval, so rates
divide by `interval_s`. Columns that later engines add (`servers`, `backlog`, ...) are found
by `extra_columns` so the report plots what is there without knowing it in advance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from twin.errors import InputError

__all__ = [
    "KNOWN_COLUMNS",
    "Saturation",
    "check_columns",
    "extra_columns",
    "is_shared",
    "per_second",
    "saturation",
    "service_order",
    "thin",
    "time_span",
    "wide",
]

KNOWN_COLUMNS = frozenset(
    {
        "t_s",
        "interval_s",
        "service",
        "arrivals",
        "completed",
        "dropped",
        "queue_mean",
        "in_system_mean",
        "utilization",
        "latency_ms_mean",
        "latency_ms_p50",
        "latency_ms_p95",
        "latency_ms_p99",
    }
)
_REQUIRED = ("t_s", "interval_s", "service")




@dataclass(frozen=True)
class Saturation:
    """When a service first ran at or above the threshold, and for how long in total."""

    first_s: float
    total_s: float
    measured_s: float


def check_columns(ts: pd.DataFrame) -> None:
    """Refuse a time series without the columns every plot needs."""
    for column in _REQUIRED:
        if column not in ts.columns:
            raise InputError("timeseries", column, "missing column")


def service_order(ts: pd.DataFrame, preferred: Iterable[str] = ()) -> list[str]:
    """Services in the summary's order first, then any others in order of appearance."""
    present = list(dict.fromkeys(str(s) for s in ts["service"]))
    ordered = [s for s in preferred if s in present]
    return ordered + [s for s in present if s not in ordered]


def wide(ts: pd.DataFrame, column: str, order: Sequence[str] = ()) -> pd.DataFrame:
    """`column` with interval starts as the index and one column per service."""
    table = ts.groupby(["t_s", "service"], sort=True)[column].mean().unstack("service")
    columns = service_order(ts, order)
    return table.reindex(columns=[c for c in columns if c in table.columns])


def per_second(ts: pd.DataFrame, column: str, order: Sequence[str] = ()) -> pd.DataFrame:
    """A per-interval count turned into a rate per second, wide."""
    rates = ts.assign(_rate=ts[column] / ts["interval_s"])
    return wide(rates, "_rate", order)


def extra_columns(ts: pd.DataFrame) -> list[str]:
    """Numeric columns the report has no dedicated plot for, and that hold data."""
    extras = []
    for column in ts.columns:
        if column in KNOWN_COLUMNS or not pd.api.types.is_numeric_dtype(ts[column]):
            continue
        if ts[column].notna().any():
            extras.append(str(column))
    return extras


def is_shared(frame: pd.DataFrame) -> bool:
    """True when every service carries the same values (a platform-wide column)."""
    if frame.shape[1] < 2:
        return False
    values = frame.to_numpy(dtype=float)
    first = values[:, :1]
    same = np.isclose(values, first, equal_nan=True, rtol=1e-9, atol=0.0)
    return bool(same.all())


def thin(frame: pd.DataFrame, limit: int) -> pd.DataFrame:
    """At most `limit` rows: consecutive rows (and their index) averaged in equal blocks."""
    rows = len(frame)
    if rows <= limit:
        return frame
    block = math.ceil(rows / limit)
    keys = np.arange(rows) // block
    means = frame.groupby(keys).mean()
    index = pd.Series(frame.index.to_numpy(dtype=float)).groupby(keys).mean()
    return means.set_axis(index.to_numpy(), axis="index")


def time_span(ts: pd.DataFrame) -> tuple[float, float]:
    """Start of the first interval and end of the last, in simulated seconds."""
    start = float(ts["t_s"].min())
    end = float((ts["t_s"] + ts["interval_s"]).max())
    return start, end


def saturation(
    ts: pd.DataFrame, service: str, *, warmup_s: float, threshold: float = 0.95
) -> Saturation | None:
    """When `service` ran at or above `threshold` utilization after warm-up, if it ever did."""
    rows = ts[(ts["service"] == service) & (ts["t_s"] >= warmup_s)]
    if rows.empty or "utilization" not in rows:
        return None
    hot = rows[rows["utilization"] >= threshold]
    if hot.empty:
        return None
    return Saturation(
        first_s=float(hot["t_s"].min()),
        total_s=float(hot["interval_s"].sum()),
        measured_s=float(rows["interval_s"].sum()),
    )





