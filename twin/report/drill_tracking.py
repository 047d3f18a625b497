"""The drill page's "Load shape" section: how closely the drill followed its plan.

Per drill second, the riders and request rate the plan asked for against what Locust achieved
(the columns of the drill's `tracking.csv`), as a figure; per window, the errors against the
5 % target beside the rate's counting noise (`rate_noise`), so that a small drill's sampling
is not read as a shape that failed to follow. `verdict` is the pure part; nothing here writes
a file (`twin.report.drill_page` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from twin.report.tables import Cell, Table

__all__ = ["FIGURE", "NOISE_SD", "tracking_figure", "tracking_table", "verdict"]

FIGURE = "tracking.png"
NOISE_SD = 2.0  # a rate error within two counting-noise sds is what sampling alone gives


def verdict(row: Mapping[str, Any], target: float) -> str:
    """`ok` (both errors within the target), `noise` (the rate's miss within 2 sd of its
    counting noise, the riders within target) or `miss`."""
    riders, rate, noise = row.get("riders_error"), row.get("rate_error"), row.get("rate_noise")
    if riders is not None and riders > target:
        return "miss"
    if rate is None or rate <= target:
        return "ok"
    return "noise" if noise is not None and rate <= NOISE_SD * noise else "miss"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f} %"


def _num(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}"


def tracking_table(tracked: Mapping[str, Any]) -> Table:
    """One row per tracking window of the summary's `drill.tracking`, with its verdict."""
    head = ("drill s", "riders (requested / achieved)", "error",
            "requests/s (requested / achieved)", "error", "counting noise (1 sd)",
            "verdict")  # fmt: skip
    width, target = int(tracked.get("window_s") or 0), float(tracked.get("target") or 0.05)
    rows = []
    for row in tracked.get("windows", []):
        t = int(row["t_s"])
        cells = (
            f"{t}-{t + width}",
            f"{_num(row.get('riders_requested'))} / {_num(row.get('riders_achieved'))}",
            _pct(row.get("riders_error")),
            f"{_num(row.get('rate_requested'))} / {_num(row.get('rate_achieved'))}",
            _pct(row.get("rate_error")),
            _pct(row.get("rate_noise")),
            verdict(row, target),
        )
        rows.append(tuple(Cell(c) for c in cells))
    return Table(head, tuple(rows))


def tracking_figure(series: Mapping[str, np.ndarray], window: int) -> Figure:
    """Requested against achieved riders (top) and requests per second (bottom), per drill
    second, the tracking windows dotted."""
    t = series["t_s"]
    # Locust's history skips a second now and then: the plot carries the last count over it
    seen = pd.Series(series["riders_achieved"]).ffill().to_numpy()
    shown = {**series, "riders_achieved": seen}
    fig = Figure(figsize=(9, 4.8), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True)
    panels = (("riders", "active riders (Locust users)"), ("rate", "requests per second"))
    for ax, (key, label) in zip(axes, panels, strict=True):
        ax.step(t, shown[f"{key}_requested"], where="post", color="#1f5fa8", lw=1.6,
                label="requested (the twin's workload, scaled)")  # fmt: skip
        ax.step(t, shown[f"{key}_achieved"], where="post", color="#d62728", lw=1.1,
                alpha=0.85, label="achieved")  # fmt: skip
        for edge in range(0, int(t.size) + 1, max(1, window)):
            ax.axvline(edge, color="#999999", lw=0.6, ls=":")
        ax.set_ylabel(label, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    axes[1].set_xlabel("drill second (dotted: the tracking windows)")
    fig.tight_layout()
    return fig
