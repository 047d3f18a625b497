"""The figures of `twin compare`: designs overlaid, one colour per design in every figure.

Pure figure building from a `Comparison` (and each design's time series): latency
percentiles per request type, utilization peaks per service, utilization over time of the
services every design has (with every run's incident windows hatched, as in a run's report),
and cost. A figure whose data no design has is `None`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import NullLocator

from twin.report.figures import (
    Plot,
    colors_for,
    new_figure,
    plain_ticks,
    set_value_scale,
    spans_decades,
)
from twin.report.plots import INCIDENT_STYLES
from twin.report.series import thin, wide
from twin.report.units import fmt_usd, time_unit_for
from twin.results.compare import Comparison, Incident

__all__ = [
    "MAX_SERVICES",
    "common_services",
    "compare_cost_plot",
    "compare_percentiles_plot",
    "compare_plots",
    "compare_utilization_plot",
    "mark_incidents",
    "peaks_plot",
]

MAX_SERVICES = 6  # panels of the over-time figure: the hottest common services
MAX_BARS = 14  # services or components in a bar chart before the rest are left out
_MAX_POINTS = 720
_PERCENTILES = (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"))


def _legend_right(ax: Axes) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _x_labels(ax: Axes, labels: Sequence[str]) -> None:
    ax.set_xticks(np.arange(len(labels)), list(labels))
    if len(labels) > 6:
        ax.tick_params(axis="x", labelrotation=30)
        for tick in ax.get_xticklabels():
            tick.set(ha="right", rotation_mode="anchor")
    ax.grid(axis="x", visible=False)


def _grouped(ax: Axes, rows: Mapping[str, Mapping[str, float]], names: Sequence[str]) -> None:
    """One group per row key, one bar per design in the design's colour; NaN draws nothing."""
    colors = colors_for(names)
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        x = np.arange(len(rows)) + (j - (len(names) - 1) / 2) * width
        y = [rows[key].get(name, math.nan) for key in rows]
        ax.bar(x, y, width, color=colors[name], label=name)
    _x_labels(ax, list(rows))
    ax.set_xlim(-0.6, len(rows) - 0.4)


def _latency_rows(comparison: Comparison, key: str) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    for request, cells in comparison.requests.items():
        rows[request] = {}
        for name, figures in cells.items():
            value = None if figures is None else getattr(figures, key)
            rows[request][name] = math.nan if value is None else value
    return rows


def _log_floor(values: Sequence[float]) -> float:
    """A power of ten clearly below the smallest bar, so every bar shows its height."""
    low = min(v for v in values if np.isfinite(v) and v > 0)
    floor = 10 ** math.floor(math.log10(low))
    return floor / 10 if low / floor < 2 else floor


def compare_percentiles_plot(comparison: Comparison) -> Plot | None:
    """p50, p95 and p99 per request type, a panel each, one bar per design; one y scale."""
    if not comparison.requests:
        return None
    names = comparison.names
    panels = [(label, _latency_rows(comparison, key)) for key, label in _PERCENTILES]
    values = [v for _, rows in panels for cells in rows.values() for v in cells.values()]
    if not any(np.isfinite(values)):
        return None
    figure, axes = new_figure(3, row_height_in=2.4, sharex=True, sharey=True)
    for ax, (label, rows) in zip(axes.flat, panels, strict=True):
        _grouped(ax, rows, names)
        ax.set_title(f"{label} latency end to end", loc="left")
    for ax, (label, _) in zip(axes.flat, panels, strict=True):  # once every bar is drawn
        scale = set_value_scale(ax, values, zero_possible=False)
        ax.set_ylabel(f"{label} (ms{', log' if scale == 'log' else ''})")
    if scale == "linear":
        axes[0, 0].set_ylim(0, float(np.nanmax(values)) * 1.08)
    else:
        axes[0, 0].set_ylim(bottom=_log_floor(values))
    figure.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right upper")
    figure.suptitle("Latency percentiles per request type, by design", x=0.01, ha="left")
    caption = (
        "End-to-end latency percentiles of each request type over the whole run after warm-up; "
        "one bar per design, in the design's colour. A missing bar: that design has no such "
        "request type."
    )
    return Plot("compare-percentiles", "Latency percentiles per request type", caption, figure)


def percent_axis(ax: Axes, values: object) -> str:
    """A 0-based percent axis: up to 105% with the 100% line when some value comes near it,
    else up to just above the highest value (on a log scale when values differ by decades),
    so low utilizations stay visible. Returns "full", "zoomed" or "log"."""
    array = np.asarray(values, dtype=float).ravel()
    top = float(np.nanmax(array, initial=0.0)) if np.isfinite(array).any() else 0.0
    if top >= 40.0:
        ax.axhline(100.0, color="0.3", ls=":", lw=1.0, label="all servers busy")
        ax.set_ylim(0, max(105.0, top * 1.05))
        return "full"
    positive = array[np.isfinite(array) & (array > 0)]
    if spans_decades(positive, decades=1.0):  # else one design sits on the zero axis
        ax.set_yscale("log")
        ax.set_ylim(float(positive.min()) / 2, top * 2)
        plain_ticks(ax)
        ax.yaxis.set_minor_locator(NullLocator())
        return "log"
    ax.set_ylim(0, max(top * 1.2, 1e-3))
    return "zoomed"


_ZOOMED = (
    " Every value is far below 100%: the axis stops just above the highest, on a log scale "
    "where the designs differ by decades, so each design stays visible."
)


def peaks_plot(comparison: Comparison) -> Plot | None:
    """Peak utilization per service (hottest first, union of the designs), 100% marked."""
    rows: dict[str, dict[str, float]] = {}
    for service, cells in list(comparison.services.items())[:MAX_BARS]:
        rows[service] = {
            name: math.nan if f is None or f.utilization_peak is None else f.utilization_peak * 100
            for name, f in cells.items()
        }
    if not rows or not any(np.isfinite(v) for cells in rows.values() for v in cells.values()):
        return None
    figure, axes = new_figure(1, row_height_in=3.6)
    ax = axes[0, 0]
    _grouped(ax, rows, comparison.names)
    scale = percent_axis(ax, [v for cells in rows.values() for v in cells.values()])
    log = " (log scale)" if scale == "log" else ""
    ax.set_ylabel(f"peak utilization (% of servers busy){log}")
    _legend_right(ax)
    figure.suptitle("Utilization peaks per service, by design", x=0.01, ha="left")
    left_out = len(comparison.services) - len(rows)
    caption = (
        "Utilization of each service in its busiest report interval; the headroom is the gap "
        "to the dotted 100% line. A missing bar: that design has no such service."
        + (f" The {left_out} least saturated services are left out." if left_out > 0 else "")
        + ("" if scale == "full" else _ZOOMED)
    )
    return Plot("compare-peaks", "Utilization peaks per service", caption, figure)


def common_services(comparison: Comparison, series: Mapping[str, pd.DataFrame]) -> list[str]:
    """Services in every design's time series, hottest first (the comparison's order)."""
    if len(series) < 2:
        return []
    sets = [set(frame["service"].astype(str)) for frame in series.values()]
    shared = set.intersection(*sets)
    return [s for s in comparison.services if s in shared]


def _overlay(
    ax: Axes, series: Mapping[str, pd.DataFrame], service: str, unit: float
) -> list[float]:
    """One line per design; the values drawn."""
    colors = colors_for(list(series))
    drawn: list[float] = []
    for name, frame in series.items():
        rows = frame[frame["service"].astype(str) == service]
        line = wide(rows, "utilization") * 100.0
        mid = (line.index.to_numpy(dtype=float) + _widths(rows, line.index)) / unit
        line = thin(line.set_axis(mid, axis="index"), _MAX_POINTS)
        values = line.iloc[:, 0].to_numpy(dtype=float)
        ax.plot(line.index, values, color=colors[name], label=name)
        drawn += values.tolist()
    return drawn


def _widths(rows: pd.DataFrame, index: pd.Index) -> np.ndarray:
    widths = rows.groupby("t_s")["interval_s"].max().reindex(index)
    return widths.to_numpy(dtype=float) / 2


def _incident_label(incident: Incident, names: Sequence[str]) -> str:
    """`incident: <label>`, with the designs it belongs to unless every design had it."""
    label = f"incident: {incident.label}"
    if len(incident.designs) < len(names):
        label += f" ({', '.join(incident.designs)})"
    return label


def _overlaps(incident: Incident, span_s: tuple[float, float]) -> bool:
    return incident.start_s < span_s[1] and incident.end_s > span_s[0]


def mark_incidents(
    ax: Axes,
    comparison: Comparison,
    span_s: tuple[float, float],
    unit_s: float,
    *,
    labelled: bool,
) -> None:
    """Hatch each incident window of the plotted span, in seconds, on an axis in `unit_s`."""
    start, end = span_s
    for i, incident in enumerate(comparison.incidents):
        if not _overlaps(incident, span_s):
            continue
        color, hatch = INCIDENT_STYLES[i % len(INCIDENT_STYLES)]
        ax.axvspan(
            max(incident.start_s, start) / unit_s,
            min(incident.end_s, end) / unit_s,
            color=color,
            alpha=0.14,
            hatch=hatch,
            lw=0,
            label=_incident_label(incident, comparison.names) if labelled else None,
            zorder=0,
        )


def _span(series: Mapping[str, pd.DataFrame]) -> tuple[float, float]:
    """Simulated seconds from the earliest interval start to the latest interval end."""
    start = min(float(f["t_s"].min()) for f in series.values())
    return start, max(float((f["t_s"] + f["interval_s"]).max()) for f in series.values())


def compare_utilization_plot(
    comparison: Comparison, series: Mapping[str, pd.DataFrame]
) -> Plot | None:
    """Utilization over time of each common service, one line per design; incidents hatched."""
    services = common_services(comparison, series)
    if not services:
        return None
    shown = services[:MAX_SERVICES]
    span = _span(series)
    unit = time_unit_for(span[1] - span[0])
    figure, axes = new_figure(len(shown), row_height_in=2.3, sharex=True)
    for i, (ax, service) in enumerate(zip(axes.flat, shown, strict=True)):
        values = _overlay(ax, series, service, unit.seconds)
        mark_incidents(ax, comparison, span, unit.seconds, labelled=i == 0)
        scale = percent_axis(ax, values)
        ax.set_xlim(span[0] / unit.seconds, span[1] / unit.seconds)
        ax.set_title(service + ("" if scale == "full" else " (far below 100%: axis zoomed)"),
                     loc="left")  # fmt: skip
        ax.set_ylabel("utilization (%, log)" if scale == "log" else "utilization (%)")
    axes.flat[-1].set_xlabel(f"simulated time ({unit.name})")
    figure.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right upper")
    figure.suptitle("Utilization over time, services every design has", x=0.01, ha="left")
    caption = _utilization_caption(comparison, series, services, shown)
    return Plot("compare-utilization", "Utilization over time", caption, figure)


def _utilization_caption(
    comparison: Comparison, series: Mapping[str, Any], services: list[str], shown: list[str]
) -> str:
    text = (
        "Fraction of each service's servers busy in each report interval, one line per "
        "design; warm-up intervals included."
    )
    if len(services) > len(shown):
        text += f" The {len(services) - len(shown)} least saturated common services are left out."
    lacking = [s for s in comparison.services if s not in services]
    if lacking:
        text += f" Not drawn, as some design lacks them (see Services): {', '.join(lacking)}."
    text += _incident_caption(comparison, _span(series))
    missing = [n for n in comparison.names if n not in series]
    if missing:
        text += f" No time series for {', '.join(missing)}."
    return text


def _incident_caption(comparison: Comparison, span_s: tuple[float, float]) -> str:
    """What the hatching means, and how many incidents fall outside the plotted time."""
    if not comparison.incidents:
        return ""
    shown = [i for i in comparison.incidents if _overlaps(i, span_s)]
    text = ""
    if shown:
        text = (
            " Hatched: incident windows of the compared runs (a window several runs share is "
            "drawn once; the legend names the designs when not every design had it)."
        )
    outside = len(comparison.incidents) - len(shown)
    if outside:
        many = "windows fall" if outside > 1 else "window falls"
        text += f" {outside} incident {many} outside the plotted time."
    return text


def _cost_rows(comparison: Comparison) -> dict[str, dict[str, float]]:
    components = [k for k in comparison.cost if k not in ("monthly_usd", "per_user_month_usd")]
    return {
        k: {n: math.nan if v is None else v for n, v in comparison.cost[k].items()}
        for k in components[:MAX_BARS]
    }


def _per_user(ax: Axes, comparison: Comparison) -> None:
    names = comparison.names
    colors = colors_for(names)
    values = [comparison.overview[n].per_user_month_usd for n in names]
    y = np.arange(len(names))[::-1]
    ax.barh(y, [math.nan if v is None else v for v in values], color=[colors[n] for n in names])
    for yi, value in zip(y, values, strict=True):
        text = " no cost in its summary" if value is None else f" {fmt_usd(value)}"
        ax.text(
            value or 0.0, yi, text, va="center", fontsize=9, color="0.35" if value is None else "0"
        )
    ax.set_yticks(y, names)
    top = max((v for v in values if v is not None), default=1.0)
    ax.set_xlim(0, top * 1.25 if top > 0 else 1.0)
    ax.set_xlabel("cost per user per month (USD)")
    ax.set_title("cost per user", loc="left")
    ax.grid(axis="y", visible=False)


def compare_cost_plot(comparison: Comparison) -> Plot | None:
    """Cost per user per design, and monthly cost by component (union) when designs list it."""
    if not any(o.per_user_month_usd is not None for o in comparison.overview.values()):
        return None
    rows = _cost_rows(comparison)
    figure, axes = new_figure(2 if rows else 1, row_height_in=3.0)
    _per_user(axes[0, 0], comparison)
    if rows:
        ax = axes[1, 0]
        _grouped(ax, rows, comparison.names)
        ax.set_ylim(bottom=0)
        plain_ticks(ax)
        ax.set_ylabel("monthly cost (USD)")
        ax.set_title("monthly cost by component", loc="left")
        _legend_right(ax)
    figure.suptitle("Cost, by design", x=0.01, ha="left")
    caption = "Monthly cost at each run's load, per user and by component, in US dollars."
    return Plot("compare-cost", "Cost per user and by component", caption, figure)


def compare_plots(comparison: Comparison, series: Mapping[str, pd.DataFrame]) -> Iterator[Plot]:
    """Every figure the data allows, in page order, built one at a time."""
    for build in (
        lambda: compare_percentiles_plot(comparison),
        lambda: peaks_plot(comparison),
        lambda: compare_utilization_plot(comparison, series),
        lambda: compare_cost_plot(comparison),
    ):
        plot = build()
        if plot is not None:
            yield plot
