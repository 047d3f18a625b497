"""What every figure of the report shares: size, style, colours, scales and PNG encoding.

Figures are built on `matplotlib.figure.Figure` with an Agg canvas, never through pyplot,
so building one touches no global backend and leaves nothing open. A figure is 1,000 px
wide; each service keeps its colour in every plot of a report.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullLocator

__all__ = [
    "DPI",
    "WIDTH_IN",
    "Plot",
    "colors_for",
    "new_figure",
    "plain_ticks",
    "plot_style",
    "png_bytes",
    "set_value_scale",
    "spans_decades",
]

DPI = 100
WIDTH_IN = 10.0  # 1,000 px at DPI 100


@dataclass(frozen=True)
class Plot:
    """One figure of the report: file stem, heading, a sentence on how to read it."""

    name: str
    title: str
    caption: str
    figure: Figure


@contextmanager
def plot_style() -> Iterator[None]:
    """The report's look, applied while figures are built and encoded, then undone."""
    with mpl.rc_context(
        {
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.titleweight": "bold",
            "axes.labelsize": 10,
            "axes.grid": True,
            "grid.alpha": 0.35,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "figure.titlesize": 13,
            "figure.titleweight": "bold",
            "lines.linewidth": 1.4,
            "text.parse_math": False,  # names and dollars are text, never formulas
        }
    ):
        yield


def new_figure(
    rows: int,
    cols: int = 1,
    *,
    row_height_in: float = 3.2,
    sharex: bool = False,
    sharey: bool = False,
) -> tuple[Figure, np.ndarray]:
    """A constrained-layout figure 1,000 px wide with a grid of axes (always 2-D)."""
    height = max(3.0, rows * row_height_in + 0.8)
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False, sharex=sharex, sharey=sharey)
    return figure, axes


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG bytes; no timestamp or software tag, so same data, same bytes."""
    _lay_out_once(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _lay_out_once(figure: Figure) -> None:
    """Run the figure's layout engine now, then detach it, so that `savefig` draws once.

    With an engine attached, `savefig` draws the whole figure twice: once without rendering
    (which runs the layout) and once for real. Laying out here, at the saving DPI, and then
    saving without an engine gives the same pixels (the same positions, the same bytes) for
    about a sixth less drawing time."""
    engine = figure.get_layout_engine()
    if engine is None or figure.dpi != DPI:
        return
    engine.execute(figure)
    # None means "no engine" only while these two are off (else it picks one from them)
    with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        figure.set_layout_engine(None)


def colors_for(names: Sequence[str]) -> dict[str, tuple[float, float, float, float]]:
    """A stable colour per name: tab10 up to ten names, tab20 beyond."""
    cmap = mpl.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def spans_decades(values: object, decades: float = 1.5) -> bool:
    """True when the positive values spread over more than `decades` powers of ten."""
    array = np.asarray(values, dtype=float).ravel()
    positive = array[np.isfinite(array) & (array > 0)]
    if positive.size < 2:
        return False
    low, high = np.percentile(positive, [1, 99])
    with np.errstate(over="ignore"):  # a tiny positive low overflows the ratio: that spans decades
        return bool(high / low > 10**decades)


def _tick_label(value: float, _pos: object = None) -> str:
    """Plain numbers with thousands separators: `1,000`, `0.5`; no scientific notation."""
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.6g}"


def plain_ticks(ax: Axes, *, x: bool = False) -> None:
    """Tick labels (y, or x) as plain numbers with thousands separators."""
    (ax.xaxis if x else ax.yaxis).set_major_formatter(FuncFormatter(_tick_label))


def set_value_scale(ax: Axes, values: object, *, zero_possible: bool) -> str:
    """Log (symlog when zeros occur) when values span decades; returns "log" or "linear"."""
    plain_ticks(ax)
    if not spans_decades(values):
        ax.set_ylim(bottom=0)
        return "linear"
    if zero_possible:
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(bottom=0)
    else:
        ax.set_yscale("log")
    plain_ticks(ax)
    # Unlabelled minor ticks add nothing a reader uses and cost most of the drawing time.
    ax.yaxis.set_minor_locator(NullLocator())
    return "log"
