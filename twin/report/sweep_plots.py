"""The figures of `twin sweep`'s page: heat maps of designs (rows) x loads (columns).

One per SLO, of its margin (green meets it, red misses it, pale at the target; the colours
stop at +-100 %, past which a cell is as deep as it goes; a grey cell has no value), and one
of the cost per user. Every cell is labelled with its figure, so the page reads without a
colour scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.ticker import PercentFormatter

from twin.report.figures import Plot, new_figure
from twin.results.slo import lookup
from twin.results.sweep import COST_KEY, Grid, margin

__all__ = ["sweep_plots"]

Cell = Callable[[Mapping[str, Any]], float | None]


def _matrix(grid: Grid, summaries: Sequence[Mapping[str, Any]], cell: Cell) -> np.ndarray:
    values = [[cell(summaries[i]) for i in row] for row in grid.cell]
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)


def _load_text(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= 1e4:
        return f"{value:,.0f}"
    return "as given" if value is None else str(value)


def _heatmap(
    grid: Grid,
    matrix: np.ndarray,
    *,
    title: str,
    cmap: str,
    norm: Any,
    text: Callable[[float], str],
) -> Any:
    rows, cols = matrix.shape
    figure, axes = new_figure(1, row_height_in=max(2.4, 0.55 * rows + 1.2))
    ax = axes[0, 0]
    ax.grid(False)
    masked = np.ma.masked_invalid(matrix)
    colormap = mpl.colormaps[cmap].with_extremes(bad="#d9dee7")
    image = ax.imshow(masked, cmap=colormap, norm=norm, aspect="auto")
    for r in range(rows):
        for c in range(cols):
            value = matrix[r, c]
            shown = "no value" if math.isnan(value) else text(value)
            ink = "#1d2430" if math.isnan(value) else _ink(image.to_rgba(value))
            ax.text(c, r, shown, ha="center", va="center", fontsize=9, color=ink)
    ax.set_xticks(range(cols), [_load_text(v) for v in grid.loads])
    ax.set_yticks(range(rows), list(grid.designs))
    ax.set_xlabel(grid.load.label if grid.load is not None else "")
    ax.set_title(title, loc="left")
    bar = figure.colorbar(image, ax=ax, shrink=0.9)
    if isinstance(norm, TwoSlopeNorm):
        bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    return figure


def _ink(rgba: Any) -> str:
    """Dark text on a light cell, white on a dark one (relative luminance)."""
    red, green, blue = rgba[:3]
    return "#1d2430" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.5 else "#ffffff"


def _margin_cell(name: str) -> Cell:
    def cell(summary: Mapping[str, Any]) -> float | None:
        verdict = next((v for v in summary.get("slo", []) if v["name"] == name), None)
        return None if verdict is None else margin(verdict)

    return cell


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")[:48] or "slo"


def slo_names(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every SLO judged at any point, in the order first seen."""
    names: list[str] = []
    for summary in summaries:
        names += [v["name"] for v in summary.get("slo", []) if v["name"] not in names]
    return names


def sweep_plots(grid: Grid, summaries: Sequence[Mapping[str, Any]]) -> Iterator[Plot]:
    """The margin heat map of every SLO, then the cost-per-user heat map."""
    for k, name in enumerate(slo_names(summaries), start=1):
        matrix = _matrix(grid, summaries, _margin_cell(name))
        figure = _heatmap(
            grid, matrix, title=f"Margin: {name}", cmap="RdYlGn",
            norm=TwoSlopeNorm(vcenter=0.0, vmin=-1.0, vmax=1.0), text=lambda v: f"{v:+.0%}",
        )  # fmt: skip
        caption = (
            "Headroom against the target, as a share of it: green meets it, red misses it by "
            "that much; grey has no value there (a miss)."
        )
        yield Plot(f"sweep-slo-{k}-{_slug(name)}", f"SLO margin: {name}", caption, figure)
    matrix = _matrix(grid, summaries, lambda s: lookup(s, COST_KEY))
    figure = _heatmap(
        grid, matrix, title="Cost per user per month (USD)", cmap="Blues", norm=None,
        text=lambda v: f"${v:,.3f}" if v < 1 else f"${v:,.2f}",
    )  # fmt: skip
    caption = "The month's bill over the riders, for each design at each load."
    yield Plot("sweep-cost-per-user", "Cost per user", caption, figure)
