"""`twin capacity SCENARIO --slo EXPR`: the largest load meeting every SLO."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from twin.cli.progress import progress_bar
from twin.cli.units import CLUSTER, JOBS, open_units

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("capacity")
    def capacity(
        scenario: Path = typer.Argument(..., help="Scenario YAML file, or a built-in's name."),
        slo: list[str] = typer.Option([], "--slo", help="dotted.key<=number; repeatable."),
        engine: str = typer.Option("fluid", help="Engine for the search (fluid or exact)."),
        seed: int | None = typer.Option(None, help="Seed (default: the scenario's)."),
        set_: list[str] = typer.Option([], "--set", help="Override a key: dotted.path=value."),
        only: bool = typer.Option(
            False, "--only", help="Meet the --slo objectives alone, not the scenario's own."
        ),
        confirm: int = typer.Option(3, help="Replications confirming the final point."),
        out: Path | None = typer.Option(None, help="Output folder (default under reports/)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only max load."),
        as_json: bool = typer.Option(False, "--json", help="Print capacity.json on stdout."),
        jobs: int | None = JOBS,
        cluster: str | None = CLUSTER,
    ) -> None:
        """Find the largest load that meets every SLO (bisection, then replications); with
        several processes, the loads it may probe next are probed at once."""
        # Deferred: the engines and the plot load NumPy, pandas, SimPy and matplotlib.
        from twin.report.capacity_plot import write_capacity
        from twin.results.files import default_out_dir, prepare_out_dir
        from twin.runs.capacity import find_capacity

        units = open_units(jobs, cluster)
        label = f"capacity of {scenario.stem}"
        with units, progress_bar(label, enabled=not (quiet or as_json)) as bar:
            answer = find_capacity(
                scenario, set_, slo, engine=engine, seed=seed, confirm=confirm, only=only,
                units=units, progress=bar.update,
            )  # fmt: skip
        report = answer.document
        out_dir = prepare_out_dir(out or default_out_dir(f"{report['scenario']}-capacity"))
        write_capacity(out_dir, answer.result, answer.slos, answer.knob, report)
        if as_json:
            typer.echo(json.dumps(report, indent=2))
        elif quiet:
            typer.echo(str(report[f"max_{answer.knob}"]))
        else:
            _print(report, out_dir)


def _print(report: dict[str, Any], out_dir: Path) -> None:
    console = Console()
    knob = report["knob"]
    best = report[f"max_{knob}"]
    if best is None:
        console.print(f"[red]No load meets every SLO[/] ({', '.join(report['slo'])}).")
    else:
        head = report["headroom"]
        console.print(
            f"max {knob}: [bold]{best:,}[/] meeting {', '.join(report['slo'])} "
            f"({head:+.0%} against the scenario's {report[f'scenario_{knob}']:,}); "
            + ("confirmed" if report["confirmed"] else "[yellow]not confirmed[/]")
            + " with replications"
        )
    console.print(_binding_line(report.get("binding_slo"), knob), highlight=False)
    console.print(f"capacity.html, capacity.png and capacity.json in {out_dir}", soft_wrap=True)


def _binding_line(binding: dict[str, Any] | None, knob: str) -> str:
    """`bound by p99<=500: 480 at riders 8.8e+06 (meets it), 530 at riders 9e+06 (misses it)`."""
    if binding is None:
        return "bound by: none found (no failing load above the answer was probed)"

    def at(point: dict[str, Any] | None) -> str:
        if point is None:
            return "no passing load"
        value = point["observed"]
        shown = "no value" if value is None else f"{value:.4g}"
        return f"{shown} at {knob.replace('_', ' ')} {point['load']:,.4g}"

    return (
        f"bound by [bold]{binding['name']}[/]: {at(binding['below'])} (meets it), "
        f"{at(binding['above'])} (misses it)"
    )
