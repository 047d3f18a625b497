"""The long time series made wide, incident windows and saturation spans."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from twin.errors import InputError
from twin.report.series import (
    check_columns,
    extra_columns,
    is_shared,
    per_second,
    saturation,
    service_order,
    thin,
    time_span,
    wide,
)
from twin.results.reading import incident_windows


def _long() -> pd.DataFrame:
    """Two services over three 10 s intervals, written out by hand."""
    return pd.DataFrame(
        {
            "t_s": [0.0, 0.0, 10.0, 10.0, 20.0, 20.0],
            "interval_s": [10.0] * 6,
            "service": ["db", "api", "db", "api", "db", "api"],
            "completed": [5.0, 30.0, 7.0, 36.0, 6.0, 40.0],
            "utilization": [0.2, 0.90, 0.3, 0.97, 0.25, 0.99],
            "servers": [2.0, 4.0, 2.0, 4.0, 2.0, 5.0],
            "riders": [100.0, 100.0, 120.0, 120.0, 90.0, 90.0],
            "region": ["us"] * 6,
        }
    )


def test_wide_puts_services_in_the_summary_order() -> None:
    frame = wide(_long(), "utilization", ["api", "db"])
    assert list(frame.columns) == ["api", "db"]
    assert list(frame.index) == [0.0, 10.0, 20.0]
    assert frame.loc[10.0, "api"] == pytest.approx(0.97)


def test_service_order_keeps_unknown_services_after_the_known() -> None:
    assert service_order(_long(), ["api", "cache"]) == ["api", "db"]
    assert service_order(_long()) == ["db", "api"]


def test_per_second_divides_counts_by_the_interval() -> None:
    rates = per_second(_long(), "completed", ["api", "db"])
    assert rates["api"].tolist() == pytest.approx([3.0, 3.6, 4.0])
    assert rates["db"].tolist() == pytest.approx([0.5, 0.7, 0.6])


def test_extra_columns_are_the_unknown_numeric_ones() -> None:
    assert extra_columns(_long()) == ["servers", "riders"]
    empty = _long().assign(backlog=np.nan)
    assert "backlog" not in extra_columns(empty)


def test_a_column_every_service_shares_is_recognised() -> None:
    assert is_shared(wide(_long(), "riders"))
    assert not is_shared(wide(_long(), "servers"))
    assert not is_shared(wide(_long(), "riders", ["api"]).iloc[:, :1])


def test_thin_averages_blocks_of_consecutive_rows() -> None:
    frame = pd.DataFrame(
        {"a": np.arange(10.0), "b": [np.nan] * 4 + [1.0] * 6}, index=np.arange(10.0)
    )
    thinned = thin(frame, 4)  # blocks of ceil(10 / 4) = 3 rows
    assert thinned.index.tolist() == [1.0, 4.0, 7.0, 9.0]
    assert thinned["a"].tolist() == [1.0, 4.0, 7.0, 9.0]
    assert thinned["b"].tolist()[1:] == [1.0, 1.0, 1.0] and np.isnan(thinned["b"].iloc[0])
    assert thin(frame, 10) is frame


def test_time_span_runs_to_the_end_of_the_last_interval() -> None:
    assert time_span(_long()) == (0.0, 30.0)


def test_saturation_counts_intervals_at_or_above_the_threshold_after_warmup() -> None:
    sat = saturation(_long(), "api", warmup_s=10.0, threshold=0.95)
    assert sat is not None
    assert (sat.first_s, sat.total_s, sat.measured_s) == (10.0, 20.0, 20.0)
    assert saturation(_long(), "db", warmup_s=0.0, threshold=0.95) is None


def test_incidents_become_windows() -> None:
    windows = incident_windows(
        [
            {"name": "surge", "start_s": 100, "end_s": 400, "service": "cdn"},
            {"kind": "shards", "start": 50, "duration_s": 25},
            {"start_s": 10},
        ]
    )
    assert [(w.label, w.start_s, w.end_s) for w in windows] == [
        ("surge (cdn)", 100.0, 400.0),
        ("shards", 50.0, 75.0),
        ("incident 3", 10.0, math.inf),
    ]


def test_a_bad_incident_names_its_field() -> None:
    with pytest.raises(InputError, match=r"incidents: 1\.start_s"):
        incident_windows([{"start_s": 0, "end_s": 1}, {"name": "x"}])
    with pytest.raises(InputError, match=r"incidents: 0\.end_s: ends before it starts"):
        incident_windows([{"start_s": 10, "end_s": 5}])


def test_a_time_series_without_its_key_columns_is_refused() -> None:
    with pytest.raises(InputError, match="timeseries: interval_s: missing column"):
        check_columns(_long().drop(columns="interval_s"))
