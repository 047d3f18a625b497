"""`twin sweep SCENARIO --grid KEY=V1,V2 ...`: the scenario at every point of a grid.

Writes `sweep.csv` and `sweep.parquet` (one row per point and metric, with intervals) and
`sweep.html` (each SLO's margin and the cost per user over the grid, the cheapest design
meeting every SLO at each load) into `--out`. A bad grid is refused, one line and exit
code 2, before any point runs; the points run on every core (`--jobs`) or a Dask cluster.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from twin.cli.progress import progress_bar
from twin.cli.units import CLUSTER, JOBS, open_units

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep(
        scenario: Path = typer.Argument(..., help="Scenario YAML file, or a built-in's name."),
        grid: list[str] = typer.Option(
            [], "--grid", help="An axis: KEY=V1,V2 (riders, architecture or any --set key)."
        ),
        engine: str = typer.Option("auto", help="auto, exact or fluid (each point)."),
        replications: int = typer.Option(1, help="Replications at each point."),
        seed: int | None = typer.Option(
            None, help="Seed of every point (default: the scenario's)."
        ),
        set_: list[str] = typer.Option([], "--set", help="Override a key at every point."),
        slo: list[str] = typer.Option([], "--slo", help="Also judge dotted.key<=number."),
        out: Path | None = typer.Option(None, help="Output folder (default under reports/)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the output folder."),
        jobs: int | None = JOBS,
        cluster: str | None = CLUSTER,
    ) -> None:
        """Run SCENARIO at every point of the grid; write sweep.csv, .parquet and .html."""
        from twin.config.grid import parse_grid
        from twin.config.limits import check_replications, check_seed
        from twin.results.slo import parse_expression

        axes = parse_grid(grid)  # its shape and size, before the engines are even imported
        check_replications(replications)
        if seed is not None:
            check_seed(seed)
        slos = [parse_expression(s) for s in slo]
        points = math.prod(len(a.values) for a in axes)
        with open_units(jobs, cluster, units=points) as units:
            _sweep(scenario, grid, set_, slos, engine, replications, seed, out, quiet, units)


def _sweep(
    scenario: Path, grid: list[str], overrides: list[str], slos: list[Any], engine: str,
    replications: int, seed: int | None, out: Path | None, quiet: bool, units: Any,
) -> None:  # fmt: skip
    from twin.report.sweep_page import write_sweep
    from twin.results.files import default_out_dir, prepare_out_dir
    from twin.runs.engines import check_engine
    from twin.runs.sweep import plan_sweep, run_sweep

    check_engine(engine)
    plan = plan_sweep(scenario, overrides, grid)
    out_dir = prepare_out_dir(out or default_out_dir(f"{plan.name}-sweep"))
    label = f"{plan.name}: {len(plan.points)} points"
    with progress_bar(label, enabled=not quiet) as bar:
        summaries = run_sweep(
            plan, units, engine=engine, seed=seed, replications=replications, slos=slos,
            done=bar.update,
        )  # fmt: skip
    meta = {"scenario": plan.name, "engine": engine, "replications": replications}
    page = write_sweep(out_dir, plan.axes, plan.points, summaries, meta | _seed(seed))
    if quiet:
        typer.echo(str(out_dir))
        return
    _print(plan, summaries, page)


def _seed(seed: int | None) -> dict[str, Any]:
    return {} if seed is None else {"seed": seed}


def _print(plan: Any, summaries: list[dict[str, Any]], page: Path) -> None:
    from rich.console import Console

    from twin.results.sweep import Grid, cheapest

    console = Console()
    grid = Grid.of(plan.axes, plan.points)
    load = grid.load.label if grid.load is not None else "load"
    for answer in cheapest(grid, summaries):
        if answer.design is None:
            console.print(f"{load} {answer.load}: [red]no design meets every SLO[/]")
        else:
            cost = answer.per_user_month_usd
            console.print(f"{load} {answer.load}: [bold]{answer.design}[/] at ${cost:,.4f} a user")
    console.print(
        f"sweep.html, sweep.csv and sweep.parquet in {page.parent}", highlight=False, soft_wrap=True
    )
