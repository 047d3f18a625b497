"""Writes `twin compare`'s page: its PNGs and one self-contained `compare.html`.

The tables set the designs side by side, first design as the baseline: each figure carries
its change against the baseline on a second line, the best design of a row is marked, and
a design without a request type or service shows a dash. Counts are per run (a run's total
over its replications divided by their number), so runs with different replications line
up. The page has the run report's look and its guarantees (images embedded as data URIs,
no script, files written atomically with the HTML last).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.colors import to_hex

import twin
from twin.report.compare_plots import compare_plots
from twin.report.figures import colors_for
from twin.report.html import Image, environment, write_images
from twin.report.tables import Cell, Table
from twin.report.units import MISSING, fmt_count, fmt_duration_s, fmt_ms, fmt_pct, fmt_usd
from twin.results.compare import Comparison, Design, change
from twin.results.files import write_bytes
from twin.results.reading import is_number

__all__ = ["COMPARE_NAME", "GroupedTable", "page_context", "render_compare"]

COMPARE_NAME = "compare.html"
_ABSENT = Cell(MISSING, "this design has none", "absent")
_UNKNOWN = Cell(MISSING, "not in this run's summary", "absent")

Fmt = Callable[[object], str]


@dataclass(frozen=True)
class GroupedTable:
    """A table whose columns are grouped under a heading per design."""

    lead: str
    groups: tuple[tuple[str, int], ...]  # (design name, columns it spans)
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""


def _pct2(value: object) -> str:
    return fmt_pct(value, digits=2)


def _delta(value: object, base: object) -> str:
    """`+25% vs baseline`, or nothing when there is nothing to set against."""
    if not (is_number(value) and is_number(base)):
        return ""
    relative = change(float(value), float(base))
    if relative is None:
        return ""
    if abs(relative) < 0.0005:
        return "same"
    return f"{relative:+.1%}" if abs(relative) < 0.1 else f"{relative:+.0%}"


def _best(values: Sequence[object], better: str | None) -> int | None:
    """Index of the best of several distinct numbers (`low` or `high` is better)."""
    numbers = [(i, float(v)) for i, v in enumerate(values) if is_number(v)]
    if better is None or len(numbers) < 2 or len({v for _, v in numbers}) < 2:
        return None
    pick = min if better == "low" else max
    return pick(numbers, key=lambda item: item[1])[0]


def _cells(values: Sequence[object], fmt: Fmt, better: str | None) -> list[Cell]:
    """One cell per design: formatted, exact value as tooltip, change against the first."""
    best = _best(values, better)
    cells = []
    for i, value in enumerate(values):
        if value is None:
            cells.append(_UNKNOWN)
            continue
        sub = _delta(value, values[0]) if i > 0 else ""
        css = "best" if i == best else ""
        cells.append(Cell(fmt(value), repr(value) if is_number(value) else "", css, sub))
    return cells


def _slo_cell(passed: int | None, total: int | None) -> Cell:
    if not total:
        return _UNKNOWN
    return Cell(f"{passed} of {total}", css="pass" if passed == total else "fail")


_OVERVIEW: tuple[tuple[str, str, Fmt, str | None], ...] = (
    ("bottleneck", "bottleneck", str, None),
    ("its peak utilization", "utilization_peak", fmt_pct, "low"),
    ("headroom (1 - peak)", "headroom", fmt_pct, "high"),
    ("load growth to 100%", "load_growth", fmt_pct, "high"),
    ("worst p99 end to end", "worst_p99_ms", fmt_ms, "low"),
    ("requests completed per run", "requests_per_run", fmt_count, None),
    ("error ratio", "error_ratio", _pct2, "low"),
    ("monthly cost", "monthly_usd", fmt_usd, None),  # designs may serve different riders
    ("cost per user per month", "per_user_month_usd", fmt_usd, "low"),
)


def overview_table(comparison: Comparison) -> Table:
    """Metrics down, designs across: the figures an architect decides on."""
    rows = []
    for label, key, fmt, better in _OVERVIEW:
        values = [getattr(comparison.overview[n], key) for n in comparison.names]
        if all(v is None for v in values):
            continue
        cells = _cells(values, fmt, better)
        if key == "worst_p99_ms":
            cells = [
                _with_sub(c, o.worst_request) for c, o in zip(cells, _ov(comparison), strict=True)
            ]
        rows.append((Cell(label, css="name"), *cells))
    slo = [(o.slo_passed, o.slo_total) for o in _ov(comparison)]
    if any(total for _, total in slo):
        cells = [_slo_cell(p, t) for p, t in slo]
        rows.append((Cell("SLOs met", css="name"), *cells))
    note = (
        "The first design is the baseline: the small line under a figure is its change "
        "against the baseline; the best figure of a row is in bold. Counts are per run: a "
        "run's total divided by its replications. Peaks are per report interval, so runs "
        "with shorter intervals show higher peaks."
    )
    return Table(("", *comparison.names), tuple(rows), note)


def _ov(comparison: Comparison) -> list[Any]:
    return [comparison.overview[n] for n in comparison.names]


def _with_sub(cell: Cell, request: str | None) -> Cell:
    if request is None:
        return cell
    sub = f"{request}, {cell.sub}" if cell.sub else request
    return Cell(cell.text, cell.title, cell.css, sub)


def _grouped(
    comparison: Comparison,
    rows_by_key: Mapping[str, Mapping[str, Any]],
    columns: Sequence[tuple[str, str, Fmt, str | None]],
    lead: str,
) -> GroupedTable:
    names = comparison.names
    rows = []
    for key, cells in rows_by_key.items():
        per_column = [
            _cells([_attr(cells[n], attr) for n in names], fmt, better)
            for _, attr, fmt, better in columns
        ]
        row = [Cell(key, css="name")]
        for i, name in enumerate(names):
            row += [_ABSENT if cells[name] is None else c[i] for c in per_column]
        rows.append(tuple(row))
    heads = tuple(label for label, *_ in columns) * len(names)
    return GroupedTable(lead, tuple((n, len(columns)) for n in names), heads, tuple(rows))


def _attr(figures: object, attr: str) -> object:
    return None if figures is None else getattr(figures, attr)


def compare_requests_table(comparison: Comparison) -> GroupedTable | None:
    """Per request type: p50, p95, p99 and error ratio of each design."""
    if not comparison.requests:
        return None
    columns = (
        ("p50", "p50_ms", fmt_ms, "low"),
        ("p95", "p95_ms", fmt_ms, "low"),
        ("p99", "p99_ms", fmt_ms, "low"),
        ("errors", "error_ratio", _pct2, "low"),
    )
    return _grouped(comparison, comparison.requests, columns, "request")


def services_table(comparison: Comparison) -> GroupedTable | None:
    """Per service (union of the designs, hottest first): servers, peak, headroom, p99."""
    if not comparison.services:
        return None
    columns = (
        ("servers", "servers", fmt_count, None),
        ("peak", "utilization_peak", fmt_pct, "low"),
        ("headroom", "headroom", fmt_pct, "high"),
        ("p99", "p99_ms", fmt_ms, "low"),
    )
    table = _grouped(comparison, comparison.services, columns, "service")
    note = "A dash: that design has no such service. Latency here is at the service only."
    return GroupedTable(table.lead, table.groups, table.columns, table.rows, note)


def _simple(
    comparison: Comparison,
    rows: Mapping[str, Mapping[str, Any]],
    fmt: Callable[[str], Fmt],
    better: Callable[[str], str | None] = lambda _key: "low",
) -> Table | None:
    if not rows:
        return None
    body = []
    for key, cells in rows.items():
        values = [cells.get(n) for n in comparison.names]
        body.append((Cell(key, css="name"), *_cells(values, fmt(key), better(key))))
    return Table(("", *comparison.names), tuple(body))


def _experience_fmt(label: str) -> Fmt:
    if "(s)" in label:
        return fmt_duration_s
    return fmt_pct if "fraction" in label else fmt_count


def _cost_label(key: str) -> str:
    return {"monthly_usd": "total per month", "per_user_month_usd": "per user per month"}.get(
        key, key
    )


def compare_cost_table(comparison: Comparison) -> Table | None:
    """Monthly USD per component (union), then the total and per user."""
    rows = {_cost_label(k): v for k, v in comparison.cost.items()}
    # Only cost per user is better when lower: designs may serve different numbers of riders.
    return _simple(
        comparison,
        rows,
        lambda _key: fmt_usd,
        lambda key: "low" if key == _cost_label("per_user_month_usd") else None,
    )


def compare_slo_table(comparison: Comparison) -> Table | None:
    """Each SLO any design was judged on: PASS, FAIL, or a dash where it was not judged."""
    if not comparison.slo:
        return None
    rows = []
    for name, cells in comparison.slo.items():
        row = [Cell(name, css="name")]
        for design in comparison.names:
            verdict = cells.get(design)
            row.append(
                _ABSENT
                if verdict is None
                else Cell("PASS", css="pass")
                if verdict
                else Cell("FAIL", css="fail")
            )
        rows.append(tuple(row))
    return Table(("SLO", *comparison.names), tuple(rows))


def _design_row(design: Design, color: str) -> dict[str, str]:
    simulated = design.simulated_seconds
    return {
        "name": design.name,
        "color": color,
        "scenario": design.scenario or MISSING,
        "architecture": design.architecture or MISSING,
        "engine": design.engine or MISSING,
        "riders": fmt_count(design.riders),
        "seed": MISSING if design.seed is None else str(design.seed),
        "replications": MISSING if design.replications is None else str(design.replications),
        "simulated": fmt_duration_s(simulated),
        "folder": design.folder,
    }


def page_context(comparison: Comparison, images: Sequence[Image]) -> dict[str, Any]:
    """Everything the template lays out."""
    colors = colors_for(comparison.names)
    return {
        "version": twin.__version__,
        "title": " vs ".join(comparison.names),
        "designs": [_design_row(d, to_hex(colors[d.name])) for d in comparison.designs],
        "overview": overview_table(comparison),
        "requests": compare_requests_table(comparison),
        "services": services_table(comparison),
        "experience": _simple(comparison, comparison.experience, _experience_fmt),
        "slo": compare_slo_table(comparison),
        "cost": compare_cost_table(comparison),
        "images": list(images),
    }


def _write_plots(
    out_dir: Path, comparison: Comparison, series: Mapping[str, pd.DataFrame]
) -> list[Image]:
    return write_images(out_dir, lambda: compare_plots(comparison, series))


def render_compare(
    out_dir: Path, comparison: Comparison, series: Mapping[str, pd.DataFrame]
) -> Path:
    """Write the PNGs, then `compare.html`, into `out_dir`; return the page's path.

    `series` maps design names to their time series (`t_s`, `interval_s`, `service`,
    `utilization`); designs without one are left out of the over-time figure.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = _write_plots(out_dir, comparison, series)
    template = environment().get_template("compare.html.j2")
    page = template.render(page_context(comparison, images))
    path = out_dir / COMPARE_NAME
    write_bytes(path, page.encode("utf-8"))
    return path
