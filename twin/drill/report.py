"""The drill's `report.html`: the measured run, with the twin's prediction beside it.

`report.html` is the ordinary run report (`twin.report.render_report`) of the measured
summary, with one section added at its top: per request type, the measured and predicted
counts, error ratios and p50/p95/p99 latencies and their ratio (measured / predicted), a
figure of the same, and a link to `compare.html`, the full comparison page of the two
summaries (`twin.results.compare` + `twin.report.render_compare`: requests, services, experience,
SLOs). `side_by_side` is the pure table; the rest writes files.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["QUANTILES", "render_drill_report", "side_by_side"]

QUANTILES = ("p50", "p95", "p99")
COMPARE_DIR = "vs-predicted"
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


def _measured(row: dict, q: str) -> str:
    ci = row.get(f"{q}_ci_measured")
    text = _fmt(row[f"{q}_measured"])
    return text if ci is None else f"{text} [{ci[0]:.1f}-{ci[1]:.1f}]"


def _table(rows: list[dict]) -> str:
    head = ["request", "count (m / p)", "error ratio (m / p)"]
    head += [f"{q} ms (m [95 % interval] / p, ratio)" for q in QUANTILES]
    out = ['<div class="scroll"><table><thead><tr>']
    out += [f"<th>{html.escape(h)}</th>" for h in head] + ["</tr></thead><tbody>"]
    for r in rows:
        cells = [
            r["request"],
            f"{_fmt(r['count_measured'])} / {_fmt(r['count_predicted'])}",
            f"{_fmt(r['error_ratio_measured'], 4)} / {_fmt(r['error_ratio_predicted'], 4)}",
        ]
        cells += [f"{_measured(r, q)} / {_fmt(r[f'{q}_predicted'])}, "
                  f"{_fmt(r[f'{q}_ratio'], 2)}" for q in QUANTILES]  # fmt: skip
        out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _figure(out_dir: Path, rows: list[dict]) -> str | None:
    """Measured against predicted p50 and p95 per request type (log scale), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import FuncFormatter

    kept = [r for r in rows if r["p50_measured"] and r["p50_predicted"]]
    if not kept:
        return None
    x = np.arange(len(kept))
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=110)
    for i, (q, key, color) in enumerate((("p50", "measured", "#1f77b4"),
                                         ("p50", "predicted", "#9ecae1"),
                                         ("p95", "measured", "#d62728"),
                                         ("p95", "predicted", "#f4a6a6"))):  # fmt: skip
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
    fig.savefig(out_dir / FIGURE)
    plt.close(fig)
    return FIGURE


def _section(
    rows: list[dict], predicted: Mapping[str, Any], image: str | None, runs: int = 1
) -> str:
    pred = predicted.get("prediction", {})
    pooled = (f" The measured figures pool {runs} runs of the drill (<code>--repeat {runs}</code>:"
              " <code>run-1</code> ...); their intervals include how much the runs differ."
              if runs > 1 else "")  # fmt: skip
    text = (
        f"The twin's prediction for this drill's workload ({html.escape(str(pred.get('engine')))}"
        f" engine on <code>{html.escape(str(predicted.get('architecture')))}</code>, scale "
        f"{pred.get('scale')}, speedup {pred.get('speedup')}x, {pred.get('duration_s')} s) beside"
        " what the drill measured (m = measured, from each request's intended send time; p ="
        " predicted; ratio = measured / predicted). The full comparison (services,"
        f' experience, SLOs): <a href="{COMPARE_DIR}/compare.html">measured vs predicted</a>.'
        + pooled
    )
    fig = "" if image is None else (
        f"<figure><img src=\"{image}\" alt=\"measured and predicted latency per request type\">"
        "<figcaption><strong>Measured against predicted.</strong> p50 and p95 per request "
        "type (log scale); the whiskers are the measured percentile's 95 % interval "
        f"(<code>latency_ci95_ms</code>). <span class=\"file\">({image})</span>"
        "</figcaption></figure>"
    )  # fmt: skip
    return (f"<section id=\"drill\">\n<h2>Measured against predicted</h2>\n<p class=\"note\">"
            f"{text}</p>\n{_table(rows)}\n{fig}\n</section>\n\n")  # fmt: skip


def render_drill_report(
    out_dir: Path, measured: dict[str, Any], predicted: dict[str, Any] | None,
    *, incidents: Any = (), series: Mapping[str, Any] | None = None,
    timeseries: Any = None,
) -> Path:  # fmt: skip
    """Write `report.html` (and `vs-predicted/compare.html` with a prediction) into `out_dir`.

    `series` is the per-second tracking series (the columns of `tracking.csv`) of the run
    the summary's tracking speaks for; the "Load shape" section plots it. `timeseries` is the
    drill's timeline (`twin.drill.timeline`): the run report's time plots draw it."""
    import pandas as pd

    from twin.drill.report_tracking import tracking_section
    from twin.report import render_report
    from twin.report.compare_page import render_compare
    from twin.results.compare import RunInput, compare

    out_dir = Path(out_dir)
    frame = pd.DataFrame() if timeseries is None else timeseries
    path = render_report(out_dir, measured, frame, incidents=incidents)
    runs = int(measured.get("replications") or 1)
    section = tracking_section(out_dir, (measured.get("drill") or {}).get("tracking"), series, runs)
    if predicted is not None:
        comparison = compare([RunInput("predicted", predicted), RunInput("measured", measured)])
        render_compare(out_dir / COMPARE_DIR, comparison, {})
        rows = side_by_side(measured, predicted)
        section = _section(rows, predicted, _figure(out_dir, rows), runs) + section
    page = path.read_text(encoding="utf-8")
    anchor = '<section id="findings">'
    page = page.replace(anchor, section + anchor, 1) if anchor in page else page + section
    path.write_text(page, encoding="utf-8")
    return path
