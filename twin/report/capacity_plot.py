"""The capacity plot: each SLO metric against load, with its target and the knee marked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import FuncFormatter

from twin.report.capacity_page import render_capacity
from twin.report.figures import Plot, colors_for, new_figure, plot_style, png_bytes, set_value_scale
from twin.results.capacity import CapacityResult, distinct
from twin.results.files import write_bytes, write_json
from twin.results.slo import Slo

__all__ = ["capacity_png", "write_capacity"]


def capacity_png(result: CapacityResult, slos: Sequence[Slo], *, load_label: str) -> bytes:
    """PNG bytes of one panel per SLO: observed value per probed load, target, max load."""
    with plot_style():
        plot = _capacity_plot(result, slos, load_label)
        return png_bytes(plot.figure)


def _capacity_plot(result: CapacityResult, slos: Sequence[Slo], load_label: str) -> Plot:
    slos = distinct(slos)  # one panel per distinct SLO, however often it was given
    figure, axes = new_figure(len(slos), 1, row_height_in=3.0)
    colors = colors_for([s.metric for s in slos])
    probes = sorted(result.probes, key=lambda p: p.load)
    for ax, slo in zip(axes[:, 0], slos, strict=True):
        loads = np.array([p.load for p in probes])
        values = np.array(
            [
                np.nan if p.observed.get(slo.metric) is None else p.observed[slo.metric]
                for p in probes
            ],
            dtype=float,
        )
        ok = np.array([p.passed for p in probes])
        ax.plot(loads, values, "-", color=colors[slo.metric], alpha=0.6)
        ax.scatter(loads[ok], values[ok], color="tab:green", label="meets every SLO", zorder=3)
        ax.scatter(
            loads[~ok], values[~ok], color="tab:red", marker="x", label="misses an SLO", zorder=3
        )
        ax.axhline(
            slo.target, color="black", linestyle=":", label=f"target {slo.op} {slo.target:g}"
        )
        if result.max_load is not None:
            ax.axvline(
                result.max_load,
                color="tab:blue",
                linestyle="--",
                label=f"max {load_label}: {_load_text(result.max_load)}",
            )
        shown = np.append(values, slo.target)
        # symlog (with its 0 tick) only when a zero is drawn; else a plain log axis
        set_value_scale(ax, shown, zero_possible=bool((shown == 0).any()))
        ax.set_title(slo.name, loc="left")
        ax.set_xlabel(load_label)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _load_text(x)))
        ax.set_ylabel(_axis_label(slo.metric))
        ax.legend(loc="upper left")
    figure.suptitle(f"Capacity: each SLO against {load_label}")
    return Plot("capacity", "Capacity", "Where each SLO breaks as load grows.", figure)


def _load_text(value: float) -> str:
    """Riders as 8,812,500; load factors as 0.653."""
    return f"{value:,.0f}" if float(value).is_integer() or value >= 100 else f"{value:.3g}"


def _axis_label(metric: str) -> str:
    """`requests.join.latency_ms.p99` reads as `p99 latency (ms)`."""
    parts = metric.split(".")
    for unit, word in (("latency_ms", "latency (ms)"), ("wait_ms", "wait (ms)")):
        if unit in parts and parts[-1] != unit:
            return f"{parts[-1]} {word}"
    return parts[-1].replace("_", " ")


def write_capacity(
    out_dir: Path, result: CapacityResult, slos: Sequence[Slo], knob: str,
    document: dict[str, Any],
) -> None:  # fmt: skip
    """Write `capacity.png`, `capacity.html` (twin.report.capacity_page), then `capacity.json`,
    into `out_dir`."""
    label = "riders" if knob == "riders" else "load factor (x scenario rates)"
    write_bytes(out_dir / "capacity.png", capacity_png(result, slos, load_label=label))
    render_capacity(out_dir, document, slos, "capacity.png")
    write_json(out_dir / "capacity.json", document)
