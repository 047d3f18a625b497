"""The time plots of a run: latency percentiles, utilization, queue, throughput and drops.

Pure figure building: each function takes the long time series and returns a `Plot`; the
caller encodes and writes it. Every time plot shades the warm-up (deleted from statistics)
and marks each incident window, and puts simulated time on its x axis in a unit that suits
the run's length. Columns a later engine adds get a plot of their own (`extra_plot`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from twin.report.charts import cost_plot, percentiles_plot
from twin.report.figures import (
    Plot,
    colors_for,
    new_figure,
    plain_ticks,
    set_value_scale,
)
from twin.report.riders import RIDER_COLUMNS, has_rider_series, lag_target, rider_series
from twin.report.series import (
    extra_columns,
    is_shared,
    per_second,
    service_order,
    thin,
    time_span,
    wide,
)
from twin.report.units import TimeUnit, time_unit_for
from twin.results.reading import Window, is_number

__all__ = [
    "INCIDENT_STYLES",
    "Maker",
    "TimeAxis",
    "all_plots",
    "extra_plot",
    "latency_plot",
    "plot_makers",
    "queue_plot",
    "throughput_plot",
    "time_axis",
    "utilization_plot",
]

_PERCENTILES = (
    ("latency_ms_p50", "p50", "#1f77b4"),
    ("latency_ms_p95", "p95", "#ff7f0e"),
    ("latency_ms_p99", "p99", "#d62728"),
)
_WARMUP_COLOR = "0.82"
Maker = Callable[[], "Plot | None"]  # builds one figure when called (None: nothing to draw)
# Each incident its own colour and hatch, so overlapping windows stay apart.
INCIDENT_STYLES = (("#d62728", "//"), ("#9467bd", "\\\\"), ("#8c564b", "xx"), ("#e377c2", ".."))
MAX_POINTS = 720  # more points than a panel has pixels only adds noise and drawing time


@dataclass(frozen=True)
class TimeAxis:
    """The x axis every time plot shares: extent, unit, warm-up and incident windows."""

    start_s: float
    end_s: float
    unit: TimeUnit
    warmup_s: float
    windows: tuple[Window, ...]
    services: tuple[str, ...]
    intervals: int = 0
    clock: str = "simulated"  # "drill" for a drill: its own seconds, the scenario compressed

    @property
    def label(self) -> str:
        return f"{self.clock} time ({self.unit.name})"

    @property
    def series(self) -> str:
        """What a line is: a drill sees the platform from outside, one request type a line."""
        return "request type" if self.clock == "drill" else "service"

    @property
    def note(self) -> str:
        """What a caption must add when the intervals were averaged into fewer points."""
        if self.intervals <= MAX_POINTS:
            return ""
        block = math.ceil(self.intervals / MAX_POINTS)
        return (
            f" The {self.intervals:,} intervals are drawn as averages of {block} "
            "consecutive intervals, so single-interval spikes are smoothed."
        )


def time_axis(
    ts: pd.DataFrame, *, warmup_s: float, windows: Sequence[Window], services: Sequence[str],
    clock: str = "simulated",
) -> TimeAxis:  # fmt: skip
    """The shared x axis for a time series."""
    start, end = time_span(ts)
    unit = time_unit_for(end - start)
    intervals = int(ts["t_s"].nunique())
    return TimeAxis(start, end, unit, warmup_s, tuple(windows), tuple(services), intervals, clock)


def _on_axis(frame: pd.DataFrame, ts: pd.DataFrame, axis: TimeAxis) -> pd.DataFrame:
    """`frame` indexed by interval midpoints in the axis unit, at most MAX_POINTS rows."""
    widths = ts.groupby("t_s")["interval_s"].max().reindex(frame.index)
    mid = (frame.index.to_numpy(dtype=float) + widths.to_numpy(dtype=float) / 2) / axis.unit.seconds
    return thin(frame.set_axis(mid, axis="index"), MAX_POINTS)


def _mark(ax: Axes, axis: TimeAxis, *, labelled: bool) -> None:
    """Shade the warm-up and each incident; label them once per figure."""
    per = axis.unit.seconds
    if axis.warmup_s > axis.start_s:
        label = "warm-up (not in statistics)" if labelled else None
        ax.axvspan(
            axis.start_s / per,
            axis.warmup_s / per,
            color=_WARMUP_COLOR,
            alpha=0.6,
            lw=0,
            label=label,
            zorder=0,
        )
    for i, window in enumerate(axis.windows):
        end = min(window.end_s, axis.end_s)
        label = f"incident: {window.label}" if labelled else None
        color, hatch = INCIDENT_STYLES[i % len(INCIDENT_STYLES)]
        ax.axvspan(
            window.start_s / per,
            end / per,
            color=color,
            alpha=0.14,
            hatch=hatch,
            lw=0,
            label=label,
            zorder=0,
        )
    ax.set_xlim(axis.start_s / per, axis.end_s / per)


def _lines(
    ax: Axes,
    frame: pd.DataFrame,
    ts: pd.DataFrame,
    axis: TimeAxis,
    *,
    labelled: bool = True,
    **kw: Any,
) -> None:
    colors = colors_for(axis.services)
    frame = _on_axis(frame, ts, axis)
    x = frame.index.to_numpy(dtype=float)
    for service in frame.columns:
        label = str(service) if labelled else None
        ax.plot(
            x, frame[service].to_numpy(dtype=float), color=colors.get(service), label=label, **kw
        )


def _legend_right(ax: Axes) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _grid_shape(n: int) -> tuple[int, int]:
    return (n, 1) if n <= 3 else (math.ceil(n / 2), 2)


def _isolated(y: np.ndarray) -> bool:
    """True when some value has no finite neighbour (a line through it draws nothing)."""
    ok = np.isfinite(y)
    left = np.concatenate([[False], ok[:-1]])
    right = np.concatenate([ok[1:], [False]])
    return bool((ok & ~left & ~right).any())


def _with_values(
    ts: pd.DataFrame, columns: Sequence[str], services: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Services with a finite value in some column, and those with none (not drawn)."""
    finite = ts[list(columns)].apply(pd.to_numeric, errors="coerce").notna().any(axis=1)
    seen = set(ts.loc[finite, "service"].astype(str))
    return [s for s in services if s in seen], [s for s in services if s not in seen]


def latency_plot(ts: pd.DataFrame, axis: TimeAxis) -> Plot:
    """p50, p95 and p99 latency per interval, one panel per service, shared y axis."""
    columns = [c for c in _PERCENTILES if c[0] in ts.columns]
    services, idle = _with_values(ts, [c[0] for c in columns], axis.services)
    rows, cols = _grid_shape(len(services))
    figure, axes = new_figure(rows, cols, row_height_in=2.6, sharex=True, sharey=True)
    values = ts[[c[0] for c in columns]].to_numpy(dtype=float)
    frames = {column: _on_axis(wide(ts, column, services), ts, axis) for column, _, _ in columns}
    x = frames[columns[0][0]].index.to_numpy(dtype=float)
    for i, ax in enumerate(axes.flat):
        if i >= len(services):
            ax.set_visible(False)
            continue
        for column, name, color in columns:
            if services[i] in frames[column].columns:
                y = frames[column][services[i]].to_numpy(dtype=float)
                dots = "." if _isolated(y) else None  # a lone point draws no line: mark it
                ax.plot(x, y, color=color, label=name, marker=dots, markersize=4)
        _mark(ax, axis, labelled=i == 0)
        ax.set_title(str(services[i]), loc="left")
        scale = set_value_scale(ax, values, zero_possible=False)
        if i % cols == 0:
            ax.set_ylabel("latency (ms, log scale)" if scale == "log" else "latency (ms)")
        if i >= len(services) - cols:
            ax.set_xlabel(axis.label)
            ax.xaxis.set_tick_params(labelbottom=True)
    finite = values[np.isfinite(values)]
    if scale == "linear" and finite.size:  # shared: a panel with no data must not set it
        axes.flat[0].set_ylim(0, float(finite.max()) * 1.05)
    handles, labels = axes.flat[0].get_legend_handles_labels()  # above: panels keep the width
    figure.legend(handles, labels, loc="outside upper right", ncol=len(labels))
    figure.suptitle(f"Latency percentiles over time, per {axis.series}", x=0.01, ha="left")
    caption = (
        "Each line is a percentile of the latency (wait + service) of requests that "
        "completed in the interval; gaps are intervals where nothing completed."
    )
    if idle:
        caption += f" Not drawn, no request completed there: {', '.join(idle)}."
    return Plot("latency", "Latency percentiles over time", caption, figure)


def utilization_plot(ts: pd.DataFrame, axis: TimeAxis) -> Plot:
    """Busy fraction of each service's servers, in percent, with the 100% line."""
    figure, axes = new_figure(1)
    ax = axes[0, 0]
    frame = wide(ts, "utilization", axis.services) * 100.0
    _lines(ax, frame, ts, axis)
    ax.axhline(100.0, color="0.3", ls=":", lw=1.0, label="all servers busy")
    _mark(ax, axis, labelled=True)
    top = float(np.nanmax(frame.to_numpy(dtype=float), initial=100.0))
    ax.set_ylim(0, max(105.0, top * 1.05))
    ax.set_ylabel("utilization (% of servers busy)")
    ax.set_xlabel(axis.label)
    _legend_right(ax)
    figure.suptitle("Utilization over time, per service", x=0.01, ha="left")
    caption = "Time-average fraction of each service's servers that were busy in the interval."
    return Plot("utilization", "Utilization over time", caption, figure)


def queue_plot(ts: pd.DataFrame, axis: TimeAxis) -> Plot:
    """Time-average number of requests waiting for a server, per service."""
    figure, axes = new_figure(1)
    ax = axes[0, 0]
    frame = wide(ts, "queue_mean", axis.services)
    _lines(ax, frame, ts, axis)
    _mark(ax, axis, labelled=True)
    scale = set_value_scale(ax, frame.to_numpy(dtype=float), zero_possible=True)
    ax.set_ylabel("requests waiting" + (" (log scale)" if scale == "log" else ""))
    ax.set_xlabel(axis.label)
    _legend_right(ax)
    figure.suptitle("Queue length over time, per service", x=0.01, ha="left")
    caption = "Requests waiting for a server (not yet in service), averaged over each interval."
    return Plot("queue", "Queue length over time", caption, figure)


def throughput_plot(ts: pd.DataFrame, axis: TimeAxis) -> Plot:
    """Completions and arrivals per second (top) and drops per second (bottom)."""
    figure, axes = new_figure(2, sharex=True, row_height_in=2.9)
    top, bottom = axes[0, 0], axes[1, 0]
    _lines(top, per_second(ts, "completed", axis.services), ts, axis)
    if "arrivals" in ts.columns:
        arrivals = per_second(ts, "arrivals", axis.services)
        _lines(top, arrivals, ts, axis, labelled=False, ls="--", lw=1.0, alpha=0.75)
    _mark(top, axis, labelled=True)
    top.set_ylim(bottom=0)
    plain_ticks(top)
    top.set_ylabel("requests / s")
    top.set_title("throughput", loc="left")
    handles, _ = top.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="0.2", label="completed (solid)"),
        Line2D([], [], color="0.2", ls="--", label="arrivals (dashed)"),
    ]
    figure.legend(handles=handles, loc="outside right upper")
    _drops(bottom, ts, axis)
    figure.suptitle(f"Throughput and drops over time, per {axis.series}", x=0.01, ha="left")
    dropped = (
        "requests the drill sent that failed (an error or no answer)"
        if axis.clock == "drill"
        else "requests refused because a finite queue was full"
    )
    caption = (
        "Top: requests completed per second (solid) against requests arriving (dashed). "
        f"Bottom: {dropped}."
    )
    return Plot("throughput", "Throughput and drops over time", caption, figure)


def throughput_multiples(
    ts: pd.DataFrame, axis: TimeAxis, predicted: Mapping[str, float] | None = None
) -> Plot:
    """A drill's throughput: one small panel per request type, answered and failed per
    second measured, beside the predicted mean rate where a prediction gives one."""
    names = list(axis.services)
    rows, cols = math.ceil(len(names) / 3), min(3, len(names))
    figure, axes = new_figure(rows, cols, row_height_in=1.9, sharex=True)
    answered = _on_axis(per_second(ts, "completed", names), ts, axis)
    failed = _on_axis(per_second(ts, "dropped", names), ts, axis) if "dropped" in ts else None
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.set_visible(False)
            continue
        _multiple(ax, names[i], answered, failed, (predicted or {}).get(names[i]))
        _mark(ax, axis, labelled=i == 0)
        if i >= len(names) - cols:
            ax.set_xlabel(axis.label)
    legend: dict[str, Any] = {}  # every panel's entries once: the first may lack failures
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    figure.legend(list(legend.values()), list(legend), loc="outside right upper")
    figure.suptitle("Throughput over time, per request type", x=0.01, ha="left")
    caption = (
        "Requests answered per drill second (solid) and failed (red), measured; the dotted "
        "line is the twin's predicted mean rate for that request type over the drill. "
        "Each panel has its own scale."
    )
    return Plot("throughput", "Throughput over time, per request type", caption, figure)


def _multiple(
    ax: Axes, name: str, answered: pd.DataFrame, failed: pd.DataFrame | None,
    predicted: float | None,
) -> None:  # fmt: skip
    x = answered.index.to_numpy(dtype=float)
    if name in answered.columns:
        ax.plot(x, answered[name].to_numpy(dtype=float), color="#1f5fa8", label="answered")
    if failed is not None and name in failed.columns and np.nansum(failed[name]) > 0:
        ax.plot(x, failed[name].to_numpy(dtype=float), color="#d62728", label="failed")
    if predicted is not None and math.isfinite(predicted):
        ax.axhline(predicted, color="0.2", ls=":", lw=1.2, label="predicted mean")
    ax.set_ylim(bottom=0)
    plain_ticks(ax)
    ax.set_title(name, loc="left")


def _drops(ax: Axes, ts: pd.DataFrame, axis: TimeAxis) -> None:
    _mark(ax, axis, labelled=False)
    ax.set_title("drops", loc="left")
    ax.set_ylabel("dropped requests / s")
    ax.set_xlabel(axis.label)
    dropped = per_second(ts, "dropped", axis.services) if "dropped" in ts.columns else None
    if dropped is None or not np.nansum(dropped.to_numpy(dtype=float)) > 0:
        ax.set_ylim(0, 1)
        ax.text(
            0.5,
            0.5,
            "no requests were dropped",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="0.35",
            fontsize=11,
        )
        return
    _lines(ax, dropped, ts, axis)
    ax.set_ylim(bottom=0)
    plain_ticks(ax)


def _pretty(column: str) -> tuple[str, str]:
    """A column name as a title and an axis label with its unit."""
    suffixes = (("_per_s", " / s"), ("_ms", " (ms)"), ("_s", " (s)"), ("_bytes", " (bytes)"))
    for suffix, unit in suffixes:
        if column.endswith(suffix):
            base = column[: -len(suffix)].replace("_", " ")
            return base, base + unit
    base = column.replace("_", " ")
    return base, base


def extra_plot(ts: pd.DataFrame, column: str, axis: TimeAxis) -> Plot:
    """Any other numeric column over time: per service, or one line when all services share it."""
    figure, axes = new_figure(1)
    ax = axes[0, 0]
    frame = wide(ts, column, axis.services)
    informative = frame.loc[:, (frame.fillna(0.0) != 0.0).any()]  # all zero or empty says nothing
    frame = informative if informative.shape[1] else frame.iloc[:, :1]
    if is_shared(frame):
        frame = _on_axis(frame.iloc[:, :1], ts, axis)
        x, y = frame.index.to_numpy(dtype=float), frame.iloc[:, 0].to_numpy(dtype=float)
        ax.plot(x, y, color="0.15", label="whole platform")
    else:
        _lines(ax, frame, ts, axis)
    _mark(ax, axis, labelled=True)
    title, label = _pretty(column)
    scale = set_value_scale(ax, frame.to_numpy(dtype=float), zero_possible=True)
    ax.set_ylabel(label + (" (log scale)" if scale == "log" else ""))
    ax.set_xlabel(axis.label)
    _legend_right(ax)
    figure.suptitle(f"{title.capitalize()} over time", x=0.01, ha="left")
    caption = f"The \u201c{column}\u201d column of the time series, per interval."
    return Plot(column, f"{title.capitalize()} over time", caption, figure)


_RESERVED = frozenset(
    {"latency", "utilization", "queue", "throughput", "percentiles", "cost", "rider-view"}
)


def _file_stem(column: str) -> str:
    """A safe PNG file stem for an extra column, never clashing with the fixed plots."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", column).strip("-") or "column"
    return f"ts-{stem}" if stem in _RESERVED else stem


def _time_makers(
    summary: Mapping[str, Any], ts: pd.DataFrame, axis: TimeAxis,
    predicted: Mapping[str, float] | None,
) -> list[Maker]:  # fmt: skip
    """The time plots (captions noting any averaging), with the percentile bars second."""
    makers: list[Maker] = []
    if any(column in ts.columns for column, _, _ in _PERCENTILES):
        columns = [c for c, _, _ in _PERCENTILES if c in ts.columns]
        if _with_values(ts, columns, axis.services)[0]:  # nothing completed: no empty figure
            makers.append(lambda: _noted(latency_plot(ts, axis), axis))
    makers.append(lambda: percentiles_plot(summary))
    drill = axis.clock == "drill"
    fixed = (
        ("utilization", utilization_plot),
        ("queue_mean", queue_plot),
        (
            "completed",
            (lambda t, a: throughput_multiples(t, a, predicted)) if drill else throughput_plot,
        ),
    )
    makers += [partial(_fixed, build, ts, axis) for column, build in fixed if column in ts.columns]
    riders = has_rider_series(ts)
    if riders:
        makers.append(lambda: _riders(summary, ts, axis))
    for column in extra_columns(ts):
        if not riders or column not in RIDER_COLUMNS:  # drawn in the rider's view
            makers.append(partial(_extra, ts, column, axis))
    return makers


def _fixed(
    build: Callable[[pd.DataFrame, TimeAxis], Plot], ts: pd.DataFrame, axis: TimeAxis
) -> Plot:
    return _noted(build(ts, axis), axis)


def _extra(ts: pd.DataFrame, column: str, axis: TimeAxis) -> Plot:
    return replace(_noted(extra_plot(ts, column, axis), axis), name=_file_stem(column))


def _riders(summary: Mapping[str, Any], ts: pd.DataFrame, axis: TimeAxis) -> Plot | None:
    slos = summary.get("slo")
    target = lag_target(slos if isinstance(slos, Sequence) else ())
    plot = rider_series(ts, axis.unit.seconds, axis.label, target)
    if plot is not None:
        for ax in plot.figure.axes:
            _mark(ax, axis, labelled=False)
    return plot


def _noted(plot: Plot, axis: TimeAxis) -> Plot:
    return replace(plot, caption=plot.caption + axis.note)


def plot_makers(
    summary: Mapping[str, Any], ts: pd.DataFrame, windows: Sequence[Window],
    predicted: Mapping[str, float] | None = None,
) -> list[Maker]:  # fmt: skip
    """One function per plot the data allows, in report order; each builds its figure (or
    finds nothing to draw and returns None) only when called, so processes can share them.

    `predicted`: a drill's predicted mean rate per request type (per drill second)."""
    makers: list[Maker] = []
    if ts.empty:
        makers.append(lambda: percentiles_plot(summary))
    else:
        services = summary.get("services")
        warmup = summary.get("warmup_s")
        axis = time_axis(
            ts,
            warmup_s=warmup if is_number(warmup) else 0.0,
            windows=windows,
            services=service_order(ts, services if isinstance(services, Mapping) else ()),
            clock="drill" if summary.get("engine") == "drill" else "simulated",
        )
        makers += _time_makers(summary, ts, axis, predicted)
    makers.append(lambda: cost_plot(summary))
    return makers


def all_plots(
    summary: Mapping[str, Any], ts: pd.DataFrame, windows: Sequence[Window],
    predicted: Mapping[str, float] | None = None,
) -> Iterator[Plot]:  # fmt: skip
    """Every plot the data allows, in report order; built lazily, one figure at a time."""
    for make in plot_makers(summary, ts, windows, predicted):
        plot = make()
        if plot is not None:
            yield plot
