"""`twin compare RUN_DIR RUN_DIR...`: designs side by side, for architects.

Reads each run's summary.json (and timeseries.csv when it is there), writes compare.json,
the PNGs and a self-contained compare.html into `--out`, and prints a table for people
(`--quiet`: only the output folder; `--json`: compare.json on stdout).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twin.cli.gate import load_summary
from twin.errors import InputError
from twin.report.units import MISSING, fmt_ms

__all__ = ["load_series", "register"]

_SERIES_COLUMNS = ("t_s", "interval_s", "service", "utilization")


def _folder(path: Path) -> Path:
    return path.parent if path.is_file() else path


def load_series(folder: Path, engine: Any = None) -> Any:
    """The run's time series (the columns the plots use), or None when it has none.

    A drill's (`engine: drill`) has none of them: it measures the platform from outside, per
    request type, with no utilization to plot."""
    # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
    import pandas as pd

    file = folder / "timeseries.csv"
    if not file.is_file() or engine == "drill":
        return None
    try:
        frame = pd.read_csv(file, usecols=lambda c: c in _SERIES_COLUMNS)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            str(file), None, f"not a readable CSV ({exc.__class__.__name__})"
        ) from None
    missing = [c for c in _SERIES_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(str(file), missing[0], "missing column")
    return frame


def _load(paths: list[Path]) -> tuple[list[Any], list[Any]]:
    """Each run's `RunInput` and time series; refuses fewer than two runs in one line."""
    # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
    from twin.results.compare import RunInput

    if len(paths) < 2:
        got = "nothing" if not paths else f"only {paths[0]}"
        raise InputError("RUN_DIR", None, f"needs two or more run folders to compare, got {got}")
    runs, series = [], []
    for path in paths:
        summary, file = load_summary(path)
        folder = _folder(file)
        runs.append(RunInput(folder=folder.name or str(folder), summary=summary))
        series.append(load_series(folder, summary.get("engine")))
    return runs, series


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare(
        runs: list[Path] = typer.Argument(
            None,
            metavar="RUN_DIR",
            help="Two or more run folders (or their summary.json), the first the baseline.",
            show_default=False,
        ),
        out: Path | None = typer.Option(
            None, help="Output folder (default: reports/compare-<time>)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the output folder."),
        as_json: bool = typer.Option(False, "--json", help="Print compare.json on stdout."),
    ) -> None:
        """Compare designs side by side: latency per request type, headroom, cost per user."""
        # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
        from twin.report.compare_page import render_compare
        from twin.results.compare import compare as build
        from twin.results.files import default_out_dir, prepare_out_dir, write_json

        inputs, frames = _load(list(runs or []))
        comparison = build(inputs)
        series = {
            name: frame
            for name, frame in zip(comparison.names, frames, strict=True)
            if frame is not None and not frame.empty
        }
        out_dir = prepare_out_dir(out or default_out_dir("compare"))
        data = comparison.as_dict()
        write_json(out_dir / "compare.json", data)
        render_compare(out_dir, comparison, series)  # the PNGs, then compare.html last
        if as_json:
            typer.echo(json.dumps(data, indent=2))
        elif quiet:
            typer.echo(str(out_dir))
        else:
            _print(comparison, out_dir)


def _rich_cell(cell: Any) -> str:

    text = f"[bold]{escape(cell.text)}[/]" if cell.css == "best" else escape(cell.text)
    return text + (f" [dim]({escape(cell.sub)})[/]" if cell.sub else "")


def _requests_rich(comparison: Any) -> Any:

    table = Table(title="p50 / p95 / p99 end to end", title_justify="left")
    table.add_column("request")
    for name in comparison.names:
        table.add_column(escape(name), justify="right", overflow="fold")
    for request, cells in comparison.requests.items():
        row = [request]
        for name in comparison.names:
            f = cells[name]
            row.append(
                MISSING
                if f is None
                else " / ".join(fmt_ms(v) for v in (f.p50_ms, f.p95_ms, f.p99_ms))
            )
        table.add_row(*row)
    return table


def _print(comparison: Any, out_dir: Path) -> None:
    # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
    from twin.report.compare_page import COMPARE_NAME, overview_table

    console = Console()
    overview = overview_table(comparison)
    table = Table(
        title=f"Designs side by side (baseline: {escape(comparison.names[0])})",
        title_justify="left",
    )
    table.add_column("")
    for name in comparison.names:
        table.add_column(escape(name), justify="right", overflow="fold")
    for row in overview.rows:
        table.add_row(escape(row[0].text), *(_rich_cell(c) for c in row[1:]))
    console.print(table)
    if comparison.requests:
        console.print(_requests_rich(comparison))
    console.print(
        f"Comparison: {out_dir / COMPARE_NAME}  (compare.json and the PNGs beside it)",
        soft_wrap=True,
    )
