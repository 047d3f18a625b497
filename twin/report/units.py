"""Numbers as a person reads them: latencies in the unit that fits, percentages, counts.

Every figure the report shows goes through these functions, so a latency reads the same
in a table, a finding and a plot ("12.4 s", never "12412.3 ms" in one place and "12.4 s" in
another). Missing values (None or NaN) read as an em dash.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from twin.results.reading import is_number

__all__ = [
    "MISSING",
    "TimeUnit",
    "ci_bounds",
    "fmt_count",
    "fmt_duration_s",
    "fmt_metric",
    "fmt_ms",
    "fmt_ms_ci",
    "fmt_pct",
    "fmt_usd",
    "time_unit_for",
]

MISSING = "\u2014"

# (upper bound in ms, divisor to that unit, unit name); the last row catches the rest.
_LATENCY_UNITS: tuple[tuple[float, float, str], ...] = (
    (1_000.0, 1.0, "ms"),
    (60_000.0, 1_000.0, "s"),
    (3_600_000.0, 60_000.0, "min"),
    (math.inf, 3_600_000.0, "h"),
)



def _sig3(value: float) -> str:
    """Three significant figures without scientific notation."""
    if abs(value) >= 1_000:
        return f"{value:,.0f}"
    return f"{float(f'{value:.3g}'):g}"


def fmt_ms(value: object) -> str:
    """A duration given in milliseconds, in the unit that keeps it short: `12.4 s`."""
    if not is_number(value):
        return MISSING
    rounded = float(f"{value:.3g}")  # 999.7 ms rounds to 1,000 ms: show it as 1 s
    for bound, divisor, unit in _LATENCY_UNITS:
        if abs(rounded) < bound:
            return f"{_sig3(value / divisor)} {unit}"
    raise AssertionError("unreachable: the last unit has an infinite bound")


def fmt_duration_s(value: object) -> str:
    """A duration given in seconds: `46 min`, `55.6 h`."""
    if not is_number(value):
        return MISSING
    return fmt_ms(float(value) * 1_000.0)


def ci_bounds(ci: object) -> tuple[float, float] | None:
    """A `[low, high]` interval of two finite numbers, or None for anything else."""
    if not isinstance(ci, Sequence) or isinstance(ci, str) or len(ci) != 2:
        return None
    low, high = ci
    if not (is_number(low) and is_number(high)):
        return None
    return float(low), float(high)


def fmt_ms_ci(ci: object) -> str:
    """A 95% confidence interval `[low, high]` in ms as `6.2 s to 7.0 s`."""
    bounds = ci_bounds(ci)
    if bounds is None:
        return MISSING
    return f"{fmt_ms(bounds[0])} to {fmt_ms(bounds[1])}"


def fmt_pct(value: object, *, digits: int = 1) -> str:
    """A fraction as a percentage: `0.897` reads `89.7%`."""
    if not is_number(value):
        return MISSING
    return f"{float(value) * 100:,.{digits}f}%"


def fmt_count(value: object) -> str:
    """A count with thousands separators; per-replication means keep one decimal."""
    if not is_number(value):
        return MISSING
    number = float(value)
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.1f}"


def fmt_usd(value: object) -> str:
    """Money in US dollars: `$38,550`, `$0.08`."""
    if not is_number(value):
        return MISSING
    number = float(value)
    if abs(number) >= 100:
        return f"${number:,.0f}"
    return f"${number:,.2f}"


def fmt_metric(metric: object, value: object) -> str:
    """A value of a dotted summary metric in its unit: `..._ms.p99` as time, `fraction` as %."""
    name = str(metric)
    if not is_number(value):
        return MISSING
    last = name.split(".")[-1]
    if "latency_ms" in name or "wait_ms" in name or last.endswith("_ms") or "_ms." in name:
        return fmt_ms(value)
    if "fraction" in last or "utilization" in last:
        return fmt_pct(value)
    if "_s." in name or last.endswith("_s") or "lag_s" in name:
        return fmt_duration_s(value)
    if "usd" in last:
        return fmt_usd(value)
    if float(value).is_integer() or abs(float(value)) >= 100:
        return fmt_count(round(float(value)))
    return f"{float(f'{float(value):.3g}'):g}"


@dataclass(frozen=True)
class TimeUnit:
    """The unit of a time axis: its name in labels and how many seconds it holds."""

    name: str
    seconds: float


def time_unit_for(span_s: float) -> TimeUnit:
    """Seconds for short runs, minutes up to three hours, hours beyond."""
    if span_s <= 600:
        return TimeUnit("s", 1.0)
    if span_s <= 3 * 3_600:
        return TimeUnit("min", 60.0)
    return TimeUnit("h", 3_600.0)


