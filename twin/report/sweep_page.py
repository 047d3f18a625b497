"""Writes `twin sweep`'s folder: `sweep.csv`, `sweep.parquet`, the heat maps and `sweep.html`.

The tables are the tidy rows of `twin.results.sweep` (one per point and metric). The page
puts first what an architect presents (the cheapest design meeting every SLO at each load),
then each SLO's margin and the cost per user over the grid, then every point. It has the run
report's look and guarantees: images embedded as data URIs, no script, every file written
atomically, the HTML last.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

import twin
from twin.config.grid import Axis
from twin.report.html import environment, write_images
from twin.report.sweep_plots import sweep_plots
from twin.report.tables import Cell, Table
from twin.report.units import MISSING, fmt_count, fmt_pct, fmt_usd
from twin.results.files import write_bytes
from twin.results.slo import lookup
from twin.results.sweep import COST_KEY, Cheapest, Grid, SweepPoint, cheapest, tidy_rows

__all__ = ["SWEEP_NAME", "sweep_frame", "write_sweep"]

SWEEP_NAME = "sweep.html"


def sweep_frame(
    axes: Sequence[Axis], points: Sequence[SweepPoint], summaries: Sequence[Mapping[str, Any]]
) -> pd.DataFrame:
    """The tidy table as a frame; axis columns keep their values' types where they agree."""
    frame = pd.DataFrame(tidy_rows(axes, points, summaries))
    for column in ("value", "ci95_low", "ci95_high", "target", "margin"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["passed"] = frame["passed"].astype("boolean")
    for axis in axes:
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in axis.values):
            frame[axis.label] = frame[axis.label].astype(str)
    return frame


def _load_text(load: Any) -> str:
    if load is None:
        return "as given"
    return (
        fmt_count(load)
        if isinstance(load, int | float) and not isinstance(load, bool)
        else str(load)
    )


def cheapest_table(grid: Grid, answers: Sequence[Cheapest]) -> Table:
    label = grid.load.label if grid.load is not None else "load"
    rows = []
    for answer in answers:
        if answer.design is None:
            design = Cell("none meets every SLO", css="fail")
            rows.append(
                (Cell(_load_text(answer.load), css="name"), design, Cell(MISSING), Cell(MISSING))
            )
            continue
        rows.append(
            (
                Cell(_load_text(answer.load), css="name"),
                Cell(answer.design, css="best"),
                Cell(fmt_usd(answer.per_user_month_usd), f"{answer.per_user_month_usd!r}"),
                Cell(MISSING if answer.worst_margin is None else fmt_pct(answer.worst_margin)),
            )
        )
    note = "Worst margin: the SLO it meets by the least, as a share of that SLO's target."
    return Table(
        (label, "cheapest design", "cost per user per month", "worst margin"), tuple(rows), note
    )


def points_table(
    axes: Sequence[Axis], points: Sequence[SweepPoint], summaries: Sequence[Mapping[str, Any]]
) -> Table:
    rows = []
    for point, summary in zip(points, summaries, strict=True):
        verdicts = summary.get("slo", [])
        met = sum(bool(v["passed"]) for v in verdicts)
        slo = Cell(f"{met} of {len(verdicts)}", css="pass" if met == len(verdicts) else "fail")
        bottleneck = (summary.get("bottlenecks") or [MISSING])[0]
        rows.append(
            (
                Cell(str(point.index), css="name"),
                *(Cell(_load_text(point.values[a.label])) for a in axes),
                Cell(str(summary.get("engine", MISSING))),
                slo if verdicts else Cell(MISSING),
                Cell(fmt_usd(lookup(summary, COST_KEY))),
                Cell(str(bottleneck)),
            )
        )
    columns = (
        "point",
        *(a.label for a in axes),
        "engine",
        "SLOs met",
        "cost per user",
        "bottleneck",
    )
    return Table(columns, tuple(rows))


def _facts(meta: Mapping[str, Any], axes: Sequence[Axis], n: int) -> list[tuple[str, str]]:
    facts = [("scenario", str(meta.get("scenario"))), ("points", str(n))]
    facts += [(a.label, ", ".join(_load_text(v) for v in a.values)) for a in axes]
    facts += [("engine", str(meta.get("engine"))), ("replications", str(meta.get("replications")))]
    facts += [("seed", str(meta.get("seed", "the scenario's")))]
    return facts


def write_sweep(
    out_dir: Path, axes: Sequence[Axis], points: Sequence[SweepPoint],
    summaries: Sequence[Mapping[str, Any]], meta: Mapping[str, Any],
) -> Path:  # fmt: skip
    """Write the tables, the PNGs and then `sweep.html` into `out_dir`; return the page."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = sweep_frame(axes, points, summaries)
    write_bytes(out_dir / "sweep.csv", frame.to_csv(index=False).encode("utf-8"))
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    write_bytes(out_dir / "sweep.parquet", buffer.getvalue())
    grid = Grid.of(axes, points)
    images = write_images(out_dir, lambda: sweep_plots(grid, summaries))
    context = {
        "version": twin.__version__,
        "title": str(meta.get("scenario")),
        "facts": _facts(meta, axes, len(points)),
        "cheapest": cheapest_table(grid, cheapest(grid, summaries)),
        "points": points_table(axes, points, summaries),
        "images": images,
    }
    page = environment().get_template("sweep.html.j2").render(context)
    path = out_dir / SWEEP_NAME
    write_bytes(path, page.encode("utf-8"))
    return path
