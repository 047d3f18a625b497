"""The drill page's "Over time" section: measured against predicted, interval by interval.

A drill pushed past the platform's capacity (a replayed incident: consumers paused, the
origin down or its egress capped, route errors) is judged by how its figures move, not only
by its percentiles. Four figures, each measured (solid) against predicted (dashed) on the
timeline's intervals, with the replayed incidents shaded:

- latency: p50 and p95 of each request type (a panel per type);
- failed requests (503s, 429s, timeouts) per interval, by type;
- the stream's backlog (samples held);
- the leaderboard lag (p99 of the samples applied in the interval).

Both inputs are the timeline tables (`timeseries.csv`, `predicted-timeseries.csv`). A figure
whose columns neither table has is left out. Nothing here writes a file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

__all__ = ["FIGURES", "OverTimeFigure", "over_time_figures"]

FIGURES = {
    "latency": "over-time-latency.png",
    "failed": "over-time-failed.png",
    "backlog": "over-time-backlog.png",
    "lag": "over-time-lag.png",
}
_MEASURED, _PREDICTED = "#d62728", "#1f5fa8"


@dataclass(frozen=True)
class OverTimeFigure:
    """One figure of the section: its key (`FIGURES`), caption and the matplotlib figure."""

    key: str
    caption: str
    figure: Figure


def _new(rows: int = 1, cols: int = 1, height: float = 2.8) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(9, height * rows), dpi=110)
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, squeeze=False).ravel())
    return fig, axes


def _shade(ax: Axes, incidents: Iterable[Mapping[str, object]], end: float) -> None:
    """The incidents' windows within the drill, shaded; the axis is the drill's seconds."""
    for w in incidents:
        start, stop = w.get("start_s"), w.get("end_s")
        if isinstance(start, int | float) and start < end:
            right = min(float(stop), end) if isinstance(stop, int | float) else end
            ax.axvspan(float(start), right, color="#f2c14e", alpha=0.25, lw=0)
    ax.set_xlim(0.0, end)


def _line(ax: Axes, frame: pd.DataFrame, column: str, *, predicted: bool, label: str,
          alpha: float = 1.0) -> None:  # fmt: skip
    if column not in frame or frame[column].isna().all():
        return
    mid = frame["t_s"] + frame["interval_s"] / 2
    ax.plot(mid, frame[column], color=_PREDICTED if predicted else _MEASURED,
            ls="--" if predicted else "-", lw=1.4, alpha=alpha, label=label)  # fmt: skip


def _per_type(frame: pd.DataFrame, rtype: str) -> pd.DataFrame:
    return frame[frame["service"] == rtype].sort_values("t_s")


def _latency(measured: pd.DataFrame, predicted: pd.DataFrame, shade: list, end: float) -> Figure:
    types = [t for t in dict.fromkeys(measured["service"]) if t in set(predicted["service"])]
    cols = 2
    rows = max(1, math.ceil(len(types) / cols))
    fig, axes = _new(rows, cols, height=1.9)
    for ax, rtype in zip(axes, types, strict=False):
        m, p = _per_type(measured, rtype), _per_type(predicted, rtype)
        _shade(ax, shade, end)
        _line(ax, m, "latency_ms_p95", predicted=False, label="p95 measured")
        _line(ax, p, "latency_ms_p95", predicted=True, label="p95 predicted")
        _line(ax, m, "latency_ms_p50", predicted=False, label="p50 measured", alpha=0.45)
        _line(ax, p, "latency_ms_p50", predicted=True, label="p50 predicted", alpha=0.45)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda _v, _pos: ""))
        ax.set_title(rtype, fontsize=9, loc="left")
        ax.grid(alpha=0.3)
    for ax in axes[len(types):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, ncol=2, loc="upper left")
    fig.supylabel("latency (ms, log)", fontsize=9)
    fig.supxlabel("drill second", fontsize=9)
    fig.tight_layout()
    return fig


def _failed(measured: pd.DataFrame, predicted: pd.DataFrame, shade: list, end: float) -> Figure:
    fig, axes = _new(height=3.2)
    ax = axes[0]
    _shade(ax, shade, end)
    for frame, is_pred, name in ((measured, False, "measured"), (predicted, True, "predicted")):
        total = frame.groupby("t_s", as_index=False).agg(dropped=("dropped", "sum"),
                                                         interval_s=("interval_s", "first"))
        _line(ax, total, "dropped", predicted=is_pred, label=f"all types, {name}")
    return _finish(fig, ax, "failed requests per interval")


def _platform(measured: pd.DataFrame, predicted: pd.DataFrame, column: str, label: str,
              shade: list, end: float) -> Figure | None:  # fmt: skip
    if column not in measured and column not in predicted:
        return None
    fig, axes = _new(height=3.0)
    ax = axes[0]
    _shade(ax, shade, end)
    for frame, is_pred, name in ((measured, False, "measured"), (predicted, True, "predicted")):
        if column in frame and len(frame):
            once = frame.drop_duplicates("t_s").sort_values("t_s")
            _line(ax, once, column, predicted=is_pred, label=name)
    return _finish(fig, ax, label)


def _finish(fig: Figure, ax: Any, ylabel: str) -> Figure:
    """Label, ground at zero, grid and legend of a one-panel figure over drill seconds."""
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_xlabel("drill second")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def over_time_figures(
    measured: pd.DataFrame, predicted: pd.DataFrame,
    incidents: Iterable[Mapping[str, object]] = (),
) -> list[OverTimeFigure]:  # fmt: skip
    """The section's figures (none when either timeline is empty)."""
    if measured.empty or predicted.empty:
        return []
    shade = list(incidents)
    end = float((measured["t_s"] + measured["interval_s"]).max())
    out = [
        OverTimeFigure("latency", "p95 (strong) and p50 (faint) of each request type per "
                       "interval, measured (solid) and predicted (dashed), log scale.",
                       _latency(measured, predicted, shade, end)),
        OverTimeFigure("failed", "Requests answered with an error (503 shed or injected, "
                       "429, a timeout) per interval, every type summed.",
                       _failed(measured, predicted, shade, end)),
    ]  # fmt: skip
    for key, column, label, caption in (
        ("backlog", "ingest_backlog", "samples in the stream",
         "The stream's backlog: samples ingested but not yet applied to the leaderboard."),
        ("lag", "leaderboard_lag_s", "p99 leaderboard lag (s)",
         "Leaderboard lag: p99, sample taken on the bike to visible, of the samples applied "
         "in each interval."),
    ):  # fmt: skip
        figure = _platform(measured, predicted, column, label, shade, end)
        if figure is not None:
            out.append(OverTimeFigure(key, caption, figure))
    return out
