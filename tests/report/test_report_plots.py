"""The figures themselves: what each axis shows, its scale, and the marked windows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tests.report.report_fake import fake_timeseries
from twin.report.charts import cost_plot, percentiles_plot
from twin.report.figures import plot_style
from twin.report.plots import all_plots
from twin.results.reading import Window

SURGE = Window("surge (api)", 120_000.0, 140_000.0)
HOUR = 3_600.0  # the fake run lasts 200,000 s, so its time axes are in hours


@pytest.fixture(scope="module")
def figures() -> dict[str, Figure]:
    from tests.report.report_fake import fake_summary

    ts = fake_timeseries(np.random.default_rng(5), intervals=50, extras=True)
    with plot_style():
        return {p.name: p.figure for p in all_plots(fake_summary(), ts, [SURGE])}


def _spans(ax: Axes) -> dict[str, tuple[float, float]]:
    """Labelled vertical spans (warm-up, incidents) as (start, end) in data units."""
    spans = {}
    for patch in ax.patches:
        label = patch.get_label()
        if label.startswith(("warm-up", "incident")):
            x0 = patch.get_x()  # type: ignore[attr-defined]
            spans[label] = (x0, x0 + patch.get_width())  # type: ignore[attr-defined]
    return spans


def test_report_order(figures: dict[str, Figure]) -> None:
    assert list(figures) == [
        "latency", "percentiles", "utilization", "queue", "throughput", "servers", "riders",
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["latency", "utilization", "queue", "throughput", "servers"])
def test_time_plots_mark_the_warmup_and_the_incident(figures: dict[str, Figure], name: str) -> None:
    ax = figures[name].axes[0]
    spans = _spans(ax)
    assert spans["warm-up (not in statistics)"] == pytest.approx((0.0, 2_000.0 / HOUR))
    assert spans["incident: surge (api)"] == pytest.approx((120_000 / HOUR, 140_000 / HOUR))
    assert figures[name].axes[-1].get_xlabel() == "simulated time (h)"
    assert ax.get_xlim() == pytest.approx((0.0, 200_000 / HOUR))


def _line(ax: Axes, label: str) -> tuple[np.ndarray, np.ndarray]:
    (line,) = (ln for ln in ax.get_lines() if ln.get_label() == label)
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def test_utilization_is_plotted_in_percent_at_interval_midpoints(
    figures: dict[str, Figure],
) -> None:
    ts = fake_timeseries(np.random.default_rng(5), intervals=50, extras=True)
    api = ts[ts["service"] == "api"]
    x, y = _line(figures["utilization"].axes[0], "api")
    assert x == pytest.approx((api["t_s"] + 2_000.0) / HOUR)  # 4,000 s intervals
    assert y == pytest.approx(api["utilization"] * 100)
    assert figures["utilization"].axes[0].get_ylabel() == "utilization (% of servers busy)"


def test_throughput_is_per_second(figures: dict[str, Figure]) -> None:
    ts = fake_timeseries(np.random.default_rng(5), intervals=50, extras=True)
    db = ts[ts["service"] == "db"]
    top, bottom = figures["throughput"].axes[:2]
    assert _line(top, "db")[1] == pytest.approx(db["completed"] / 4_000.0)
    assert _line(bottom, "db")[1] == pytest.approx(db["dropped"] / 4_000.0)
    assert top.get_ylabel() == "requests / s"


def test_latency_goes_logarithmic_when_it_spans_decades(figures: dict[str, Figure]) -> None:
    api, db = figures["latency"].axes[:2]
    assert api.get_yscale() == "log"
    assert api.get_ylabel() == "latency (ms, log scale)"
    assert [ax.get_title(loc="left") for ax in (api, db)] == ["api", "db"]


def test_latency_stays_linear_in_a_narrow_range() -> None:
    ts = pd.DataFrame(
        {
            "t_s": [0.0, 10.0, 20.0],
            "interval_s": 10.0,
            "service": "api",
            "latency_ms_p50": [10.0, 11.0, 12.0],
            "latency_ms_p99": [30.0, 33.0, 35.0],
        }
    )
    with plot_style():
        (plot,) = (p for p in all_plots({}, ts, ()) if p.name == "latency")
    ax = plot.figure.axes[0]
    assert ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "simulated time (s)"
    assert {ln.get_label() for ln in ax.get_lines()} == {"p50", "p99"}


def test_a_column_all_services_share_is_one_line(figures: dict[str, Figure]) -> None:
    riders = figures["riders"].axes[0]
    assert [ln.get_label() for ln in riders.get_lines()] == ["whole platform"]
    servers = figures["servers"].axes[0]
    assert [ln.get_label() for ln in servers.get_lines()] == ["api", "db"]


def test_percentile_bars_carry_the_summary_values(summary: dict[str, Any]) -> None:
    with plot_style():
        plot = percentiles_plot(summary)
    assert plot is not None
    services_ax = plot.figure.axes[0]
    heights = sorted(round(bar.get_height(), 1) for bar in services_ax.patches)
    assert heights == sorted([1931.0, 8402.0, 12412.3, 18320.0, 61.2, 240.5, 371.0, 540.2])
    assert services_ax.get_yscale() == "log"
    (stars,) = (c for c in services_ax.collections if c.get_label() == "queueing theory mean")
    assert np.asarray(stars.get_offsets())[:, 1].tolist() == pytest.approx(
        [summary["analytic"]["stations"][s]["latency_ms_mean"] for s in ("api", "db")]
    )


def test_cost_chart_only_with_a_cost_breakdown(summary: dict[str, Any]) -> None:
    assert cost_plot(summary) is None
    with plot_style():
        plot = cost_plot({"cost": {"by_component": {"cdn": 300_000, "db": 149_000}}})
    assert plot is not None
    ax = plot.figure.axes[0]
    assert [t.get_text() for t in ax.texts] == [" $149,000 (33%)", " $300,000 (67%)"]


def test_long_runs_are_averaged_into_at_most_720_points() -> None:
    t = np.arange(3_600.0)
    ts = pd.DataFrame(
        {"t_s": t, "interval_s": 1.0, "service": "api", "utilization": (t % 2) * 0.5 + 0.25,
         "backlog": np.zeros(t.size)}
    )  # fmt: skip
    with plot_style():
        plots = {p.name: p for p in all_plots({}, ts, ())}
    x, y = _line(plots["utilization"].figure.axes[0], "api")
    assert x.size == 720  # 3,600 one-second intervals in blocks of 5
    assert x[0] == pytest.approx(2.5 / 60)  # midpoints 0.5 .. 4.5 s, in minutes
    assert y[0] == pytest.approx((0.25 + 0.75 + 0.25 + 0.75 + 0.25) / 5 * 100)
    assert "The 3,600 intervals are drawn as averages of 5 consecutive intervals" in (
        plots["utilization"].caption
    )


def test_a_drill_is_plotted_on_its_own_clock_one_request_type_a_line() -> None:
    ts = pd.DataFrame({"t_s": [0.0, 1.0] * 2, "interval_s": 1.0,
                       "service": ["join", "join", "segment", "segment"],
                       "completed": [3.0, 4.0, 9.0, 8.0], "dropped": [0.0, 1.0, 0.0, 0.0],
                       "latency_ms_p50": [2.0, 2.5, 11.0, 12.0]})  # fmt: skip
    with plot_style():
        plots = {p.name: p for p in all_plots({"engine": "drill"}, ts, ())}
    latency, throughput = plots["latency"], plots["throughput"]
    assert {ax.get_xlabel() for ax in latency.figure.axes} >= {"drill time (s)"}
    assert "per request type" in latency.figure.get_suptitle()
    assert "failed" in throughput.caption and "finite queue" not in throughput.caption


def test_percent_axis_keeps_every_design_visible() -> None:
    from twin.report.compare_plots import percent_axis
    from twin.report.figures import new_figure

    cases = {"full": [95.0, 3.0], "zoomed": [0.17, 0.05, 0.0], "log": [0.17, 0.0035, math.nan]}
    for expected, values in cases.items():
        _, axes = new_figure(1)
        ax = axes[0, 0]
        assert percent_axis(ax, values) == expected
        low, high = ax.get_ylim()
        positive = [v for v in values if v > 0]
        assert low < min(positive) and max(positive) < high  # every value inside the axis
        assert (high > 100) == (expected == "full")
        assert ax.get_yscale() == ("log" if expected == "log" else "linear")


def test_a_drill_throughput_is_one_panel_per_request_type_with_its_prediction() -> None:
    from twin.report.plots import throughput_multiples, time_axis

    ts = fake_timeseries(np.random.default_rng(3))
    types = sorted(ts["service"].unique())
    axis = time_axis(ts, warmup_s=0.0, windows=[Window("outage", 1e4, 2e4)], services=types,
                     clock="drill")  # fmt: skip
    with plot_style():
        plot = throughput_multiples(ts, axis, {types[0]: 3.5})
    shown = [ax for ax in plot.figure.axes if ax.get_visible()]
    assert [ax.get_title(loc="left") for ax in shown] == types
    dotted = [line.get_ydata()[0] for line in shown[0].lines if line.get_linestyle() == ":"]
    assert dotted == [3.5]
    assert not [line for line in shown[1].lines if line.get_linestyle() == ":"]  # no prediction
    assert all(ax.patches for ax in shown)  # the incident shaded in every panel
