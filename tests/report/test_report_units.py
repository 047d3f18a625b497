"""Numbers as the report prints them."""

from __future__ import annotations

import math

import pytest

from twin.report.units import (
    MISSING,
    ci_bounds,
    fmt_count,
    fmt_duration_s,
    fmt_ms,
    fmt_ms_ci,
    fmt_pct,
    fmt_usd,
    time_unit_for,
)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0.456, "0.456 ms"),
        (12.34, "12.3 ms"),
        (850.3, "850 ms"),
        (999.7, "1 s"),  # rounds to 1,000 ms, so it reads in seconds
        (12412.3, "12.4 s"),
        (59_990.0, "1 min"),
        (2_760_000.0, "46 min"),
        (200_000_000.0, "55.6 h"),
        (4_000 * 3_600_000.0, "4,000 h"),
    ],
)
def test_latency_reads_in_the_unit_that_fits(ms: float, text: str) -> None:
    assert fmt_ms(ms) == text


@pytest.mark.parametrize("missing", [None, math.nan, math.inf, "12", True])
def test_anything_but_a_finite_number_reads_as_missing(missing: object) -> None:
    assert fmt_ms(missing) == MISSING
    assert fmt_pct(missing) == MISSING
    assert fmt_count(missing) == MISSING
    assert fmt_usd(missing) == MISSING


def test_durations_percentages_counts_and_money() -> None:
    assert fmt_duration_s(2760) == "46 min"
    assert fmt_pct(0.897) == "89.7%"
    assert fmt_pct(0.7385, digits=0) == "74%"
    assert fmt_count(712800.0) == "712,800"
    assert fmt_count(1234.56) == "1,234.6"
    assert fmt_usd(38550) == "$38,550"
    assert fmt_usd(0.0771) == "$0.08"


def test_confidence_intervals() -> None:
    assert ci_bounds([1.0, 2]) == (1.0, 2.0)
    assert ci_bounds([1.0]) is None
    assert ci_bounds([None, 2.0]) is None
    assert ci_bounds("ab") is None
    assert fmt_ms_ci([2880.0, 3029.8]) == "2.88 s to 3.03 s"
    assert fmt_ms_ci(None) == MISSING


@pytest.mark.parametrize(
    ("span", "unit", "seconds"),
    [(600, "s", 1), (601, "min", 60), (10_800, "min", 60), (200_000, "h", 3_600)],
)
def test_time_axis_unit_follows_the_run_length(span: float, unit: str, seconds: float) -> None:
    chosen = time_unit_for(span)
    assert (chosen.name, chosen.seconds) == (unit, seconds)
