"""The drill report's "Drift" section: each distribution's KS and KL against its reference.

Reads the summary's `drift` block (`twin.drill.drift`, the rule in `twin.results.drift`) and
returns a `Table`, one row per request type (and telemetry field), drifted rows first, and
`drift_figure` draws each type's measured and reference CDFs. Pure: nothing is written here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from twin.report.tables import Cell, Table

__all__ = ["FIGURE", "drift_figure", "drift_table"]

FIGURE = "drift.png"
_COLS = 4

_COLUMNS = ("distribution", "against", "n measured / reference", "median measured / reference",
            "KS D", "KS p", "KL (nats)", "verdict")  # fmt: skip
_ORDER = {"drift": 0, "agrees": 1, "too few": 2}


def _num(value: Any, spec: str) -> str:
    return "-" if not isinstance(value, int | float) else format(value, spec)


def _p(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    return "< 1e-6" if value < 1e-6 else format(value, ".2g")


def _row(name: str, entry: Mapping[str, Any]) -> tuple[Cell, ...]:
    verdict = str(entry.get("verdict"))
    medians = " / ".join(_num(entry.get(k), ".3g") for k in ("median_measured",
                                                             "median_reference"))  # fmt: skip
    return (
        Cell(name, css="name"),
        Cell(str(entry.get("against"))),
        Cell(f"{entry.get('n_measured')} / {entry.get('n_reference')}"),
        Cell(medians),
        Cell(_num(entry.get("ks_d"), ".3f"), title=str(entry.get("ks_d"))),
        Cell(_p(entry.get("ks_p")), title=str(entry.get("ks_p"))),
        Cell(_num(entry.get("kl"), ".3f"), title=str(entry.get("kl"))),
        Cell(verdict, css={"drift": "fail", "agrees": "pass"}.get(verdict, "")),
    )


def drift_table(summary: Mapping[str, Any]) -> Table | None:
    """The drift checks as a table, drifted first; None when the summary has none."""
    block = summary.get("drift")
    if not isinstance(block, Mapping) or not block:
        return None
    names = sorted(block, key=lambda n: (_ORDER.get(str(block[n].get("verdict")), 3), n))
    return Table(_COLUMNS, tuple(_row(n, block[n]) for n in names))


def _cdf(counts: np.ndarray) -> np.ndarray:
    total = float(np.sum(counts))
    return np.cumsum(counts) / total if total > 0 else np.zeros(len(counts))


def _panel(ax: Any, name: str, curve: tuple[Any, Any, Any], entry: Mapping[str, Any]) -> None:
    values, measured, reference = (np.asarray(c, dtype=float) for c in curve)
    used = np.flatnonzero((measured > 0) | (reference > 0))
    if used.size == 0:
        ax.set_visible(False)
        return
    keep = slice(max(used[0] - 1, 0), used[-1] + 2)
    x = np.maximum(values[keep], 1e-3)
    ax.step(x, _cdf(measured)[keep], where="post", color="#1f77b4", label="measured")
    ax.step(x, _cdf(reference)[keep], where="post", color="#d62728", linestyle="--",
            label=str(entry.get("against", "reference")))  # fmt: skip
    ax.set_xscale("log")
    # plain numbers; within a decade only 2 and 5 (matplotlib's own minor labels, 3x10^0 and
    # the like, ran into each other on a panel spanning less than a decade)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_formatter(
        FuncFormatter(lambda v, _pos: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
    d = entry.get("ks_d")
    ax.set_title(f"{name}: D {d:.2f}, {entry.get('verdict')}" if isinstance(d, float | int)
                 else name, fontsize=9)  # fmt: skip
    ax.tick_params(which="both", labelsize=7)
    ax.grid(alpha=0.3)


def drift_figure(
    curves: Mapping[str, tuple[Any, Any, Any]], entries: Mapping[str, Mapping[str, Any]]
) -> Figure | None:
    """One panel per request type: the CDFs of measured and reference latency (ms, log x);
    None without curves."""
    names = [n for n in sorted(curves) if np.sum(curves[n][1]) and np.sum(curves[n][2])]
    if not names:
        return None
    rows = math.ceil(len(names) / _COLS)
    fig = Figure(figsize=(10, 2.3 * rows + 0.4), dpi=110)
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(rows, _COLS, squeeze=False)).ravel()
    for ax, name in zip(axes, names, strict=False):
        _panel(ax, name, curves[name], entries.get(name, {}))
    for ax in axes[len(names):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.supxlabel("latency (ms, log scale)", fontsize=8)
    fig.supylabel("share of requests at or below", fontsize=8)
    fig.tight_layout()
    return fig
