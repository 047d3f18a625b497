"""Writes an A/B drill's `report.html`: every figure per variant, the difference, its interval.

Takes the comparison `twin.drill.ab.compare_variants` made (`ab.json`) and both variants'
summaries; writes `ab-difference.png` (treatment - control per request type, with the 95 %
intervals) and the page, which links each variant's own drill report. Plain data in, files
out: `twin.report` stays below `twin.drill`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from twin.report.html import REPORT_NAME, environment
from twin.report.tables import Cell, Table
from twin.results.files import write_bytes, write_text

__all__ = ["FIGURE", "ab_tables", "difference_figure", "experience_table", "render_ab_report",
           "slo_table"]  # fmt: skip

FIGURE = "ab-difference.png"
_FIGURES = ("mean", "p50", "p95", "p99")


def _ms(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.3g}"


def _signed(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:+.3g}"


def _ci(ci: Any) -> str:
    return "too few windows" if not ci else f"[{ci[0]:+.3g}, {ci[1]:+.3g}]"


def _verdict(ci: Any) -> tuple[str, str]:
    if not ci:
        return "-", ""
    if ci[0] > 0:
        return "B slower", "fail"
    if ci[1] < 0:
        return "B faster", "pass"
    return "no clear difference", ""


def ab_tables(document: Mapping[str, Any]) -> tuple[Table, Table]:
    """(counts and errors per variant; each latency figure per variant with the difference)."""
    counts, latency = [], []
    for name, block in document.get("requests", {}).items():
        c, e = block["count"], block["errors"]
        counts.append((Cell(name, css="name"), Cell(str(c["control"])), Cell(str(c["treatment"])),
                       Cell(str(e["control"])), Cell(str(e["treatment"]))))  # fmt: skip
        for fig in _FIGURES:
            f = block["latency_ms"][fig]
            word, css = _verdict(f["ci95"])
            latency.append((Cell(name if fig == "mean" else "", css="name"), Cell(fig),
                            Cell(_ms(f["control"])), Cell(_ms(f["treatment"])),
                            Cell(_signed(f["difference"])), Cell(_ci(f["ci95"])),
                            Cell(word, css=css)))  # fmt: skip
    heads = ("request", "figure", "A (ms)", "B (ms)", "B - A (ms)", "95 % interval", "reading")
    return (
        Table(("request", "count A", "count B", "errors A", "errors B"), tuple(counts)),
        Table(heads, tuple(latency)),
    )


def experience_table(document: Mapping[str, Any]) -> Table:
    """The riders' experience per variant, and B - A."""
    rows = tuple(
        (Cell(key, css="name"), Cell(_ms(f["control"])), Cell(_ms(f["treatment"])),
         Cell(_signed(f["difference"])))
        for key, f in (document.get("experience") or {}).items()
    )  # fmt: skip
    return Table(("figure", "A", "B", "B - A"), rows,
                 note="One value per drill: no interval (the latency figures above have one).")


def _passed(v: Any) -> Cell:
    if v.get("passed") is None:
        return Cell("-")
    observed = "absent" if v.get("observed") is None else _ms(v["observed"])
    text = f"{'PASS' if v['passed'] else 'FAIL'} ({observed})"
    return Cell(text, css="pass" if v["passed"] else "fail")


def slo_table(document: Mapping[str, Any]) -> Table:
    """The scenario's SLO verdicts on each variant."""
    rows = tuple((Cell(v["name"], css="name"), Cell(v["metric"]), _passed(v["control"]),
                  _passed(v["treatment"])) for v in document.get("slo") or [])  # fmt: skip
    return Table(("SLO", "metric", "A", "B"), rows)


def difference_figure(document: Mapping[str, Any]) -> Figure | None:
    """B - A per request type for p50 and p95, whiskers the 95 % intervals; None if empty."""
    rows = list(document.get("requests", {}).items())
    if not rows:
        return None
    fig = Figure(figsize=(9, 0.5 + 0.45 * len(rows)), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for k, (fig_name, color) in enumerate((("p50", "#1f77b4"), ("p95", "#d62728"))):
        y = np.arange(len(rows)) + (k - 0.5) * 0.3
        diffs = np.array([b["latency_ms"][fig_name]["difference"] for _n, b in rows], dtype=float)
        cis = [b["latency_ms"][fig_name]["ci95"] for _n, b in rows]
        lo = np.array([d - c[0] if c else 0.0 for d, c in zip(diffs, cis, strict=True)])
        hi = np.array([c[1] - d if c else 0.0 for d, c in zip(diffs, cis, strict=True)])
        ax.errorbar(diffs, y, xerr=[np.maximum(lo, 0), np.maximum(hi, 0)], fmt="o",
                    color=color, capsize=3, label=f"{fig_name}: B - A")  # fmt: skip
    ax.axvline(0.0, color="#555555", linewidth=0.8)
    ax.set_yticks(np.arange(len(rows)), [n for n, _b in rows])
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("treatment - control (ms; symmetric log scale, linear within +-1 ms)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def _write_png(out_dir: Path, figure: Figure | None) -> str | None:
    if figure is None:
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    write_bytes(out_dir / FIGURE, buffer.getvalue())
    return FIGURE


def render_ab_report(
    out_dir: Path, document: Mapping[str, Any], summaries: Mapping[str, Mapping[str, Any]]
) -> Path:
    """Write `ab-difference.png` and `report.html` into `out_dir`; the page's path."""
    out_dir = Path(out_dir)
    counts, latency = ab_tables(document)
    variants = document["variants"]
    context = {
        "document": document,
        "variants": [
            {"name": name, "letter": "A" if name == "control" else "B", **variants[name],
             "summary": summaries[name], "report": f"{variants[name]['folder']}/{REPORT_NAME}"}
            for name in ("control", "treatment")
        ],
        "counts": counts,
        "experience": experience_table(document),
        "slos": slo_table(document),
        "latency": latency,
        "image": _write_png(out_dir, difference_figure(document)),
    }  # fmt: skip
    page = environment().get_template("ab.html.j2").render(context)
    return write_text(out_dir / REPORT_NAME, page)
