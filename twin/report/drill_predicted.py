"""The drill page's "Measured against predicted" section: per request type, side by side.

Per request type the twin models: the measured and predicted counts, error ratios and
p50/p95/p99 latencies with their ratio (measured / predicted), and the measured percentiles'
95 % intervals when the drill gives them. `side_by_side` is the pure table of numbers;
`predicted_table` formats it for the page and `predicted_figure` draws its p50 and p95.
Nothing here writes a file (`twin.report.drill_page` does).
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

__all__ = ["FIGURE", "QUANTILES", "predicted_figure", "predicted_tables", "side_by_side"]

QUANTILES = ("p50", "p95", "p99")
FIGURE = "measured-vs-predicted.png"


def _latency(block: Mapping[str, Any] | None, q: str) -> float | None:
    value = ((block or {}).get("latency_ms") or {}).get(q)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _error_ratio(block: Mapping[str, Any] | None) -> float | None:
    if not block:
        return None
    count, errors = block.get("count") or 0, block.get("errors") or block.get("dropped") or 0
    return round(errors / count, 6) if count else None


def _interval(block: Mapping[str, Any] | None, q: str) -> tuple[float, float] | None:
    ci = ((block or {}).get("latency_ci95_ms") or {}).get(q)
    return (float(ci[0]), float(ci[1])) if isinstance(ci, list | tuple) and len(ci) == 2 else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a is not None and b else None


def side_by_side(measured: Mapping[str, Any], predicted: Mapping[str, Any]) -> list[dict]:
    """One row per request type the twin models: measured (with its 95 % interval, when the
    drill gives one), predicted and their ratio."""
    m_req, p_req = measured.get("requests", {}), predicted.get("requests", {})
    reps = max(1, int(predicted.get("replications") or 1))  # the engine counts every replication
    rows = []
    for rtype in [r for r in p_req if r in m_req]:
        m, p = m_req[rtype], p_req[rtype]
        row: dict[str, Any] = {
            "request": rtype,
            "count_measured": m.get("count"),
            "count_predicted": None if p.get("count") is None else round(p["count"] / reps, 1),
            "error_ratio_measured": _error_ratio(m),
            "error_ratio_predicted": _error_ratio(p),
        }
        for q in QUANTILES:
            a, b = _latency(m, q), _latency(p, q)
            row[f"{q}_measured"], row[f"{q}_predicted"], row[f"{q}_ratio"] = a, b, _ratio(a, b)
            row[f"{q}_ci_measured"] = _interval(m, q)
        rows.append(row)
    return rows


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _measured(row: Mapping[str, Any], q: str) -> str:
    ci = row.get(f"{q}_ci_measured")
    text = _fmt(row[f"{q}_measured"])
    return text if ci is None else f"{text} [{ci[0]:.1f}-{ci[1]:.1f}]"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def predicted_tables(rows: list[dict]) -> tuple[Table, Table]:
    """The rows of `side_by_side` as the page shows them, in two tables narrow enough for a
    phone: counts and errors (`m / p`), and latency (`m [interval] / p, ratio` per percentile)."""
    counts, latency = [], []
    for r in rows:
        counts.append(tuple(Cell(c) for c in (
            r["request"],
            f"{_fmt(r['count_measured'])} / {_fmt(r['count_predicted'])}",
            f"{_pct(r['error_ratio_measured'])} / {_pct(r['error_ratio_predicted'])}",
        )))  # fmt: skip
        cells = [f"{_measured(r, q)} / {_fmt(r[f'{q}_predicted'])}, "
                 f"{_fmt(r[f'{q}_ratio'], 2)}" for q in QUANTILES]  # fmt: skip
        latency.append(tuple(Cell(str(c)) for c in [r["request"], *cells]))
    return (
        Table(("request", "count (m / p)", "errors (m / p)"), tuple(counts)),
        Table(("request", *(f"{q} ms" for q in QUANTILES)), tuple(latency)),
    )


_BARS = (("p50", "measured", "#1f77b4"), ("p50", "predicted", "#9ecae1"),
         ("p95", "measured", "#d62728"), ("p95", "predicted", "#f4a6a6"))  # fmt: skip


def predicted_figure(rows: list[dict]) -> Figure | None:
    """Measured against predicted p50 and p95 per request type (log scale), the measured
    percentiles' 95 % intervals as whiskers; None when no type has both p50s."""
    kept = [r for r in rows if r["p50_measured"] and r["p50_predicted"]]
    if not kept:
        return None
    x = np.arange(len(kept))
    fig = Figure(figsize=(9, 3.6), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for i, (q, key, color) in enumerate(_BARS):
        values = np.array([r[f"{q}_{key}"] or np.nan for r in kept], dtype=float)
        ax.bar(x + (i - 1.5) * 0.2, values, 0.2, label=f"{q} {key}", color=color)
        intervals = [r.get(f"{q}_ci_{key}") for r in kept]
        if key == "measured" and any(intervals):
            lo = np.array([v - c[0] if c else 0.0 for v, c in zip(values, intervals, strict=True)])
            hi = np.array([c[1] - v if c else 0.0 for v, c in zip(values, intervals, strict=True)])
            ax.errorbar(x + (i - 1.5) * 0.2, values, yerr=[np.maximum(lo, 0), np.maximum(hi, 0)],
                        fmt="none", ecolor="#333333", elinewidth=0.9, capsize=2.5)  # fmt: skip
    ax.set_xticks(x, [r["request"] for r in kept])
    ax.set_yscale("log")
    # plain numbers (3, 10, 40, not 3 x 10^0); between decades only 2, 3 and 5 are labelled
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(
        FuncFormatter(lambda v, _pos: f"{v:g}" if f"{v:g}"[0] in "235" else "")
    )
    ax.set_ylabel("latency (ms)")
    ax.legend(ncol=4, fontsize=8, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
