"""`twin capacity SCENARIO --slo EXPR`: the largest load meeting every SLO."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

__all__ = ["register"]


def _knob(scenario: Any) -> tuple[str, float]:
    """What the search varies: riders on a platform, a load factor on a bare network."""
    riders = getattr(getattr(scenario, "population", None), "riders", None)
    return ("riders", float(riders)) if riders is not None else ("load_factor", 1.0)


def _scaled_sources(scenario: Any, factor: float) -> list[str]:
    overrides = []
    for i, src in enumerate(scenario.network.sources):
        points = [[t, r * factor] for t, r in src.rate_per_s.points]
        overrides.append(f"network.sources.{i}.rate_per_s={json.dumps(points)}")
    return overrides


def register(app: typer.Typer) -> None:
    @app.command("capacity")
    def capacity(
        scenario: Path = typer.Argument(..., help="Scenario YAML file."),
        slo: list[str] = typer.Option([], "--slo", help="dotted.key<=number; repeatable."),
        engine: str = typer.Option("fluid", help="Engine for the search (fluid or exact)."),
        seed: int | None = typer.Option(None, help="Seed (default: the scenario's)."),
        set_: list[str] = typer.Option([], "--set", help="Override a key: dotted.path=value."),
        confirm: int = typer.Option(3, help="Replications confirming the final point."),
        out: Path | None = typer.Option(None, help="Output folder (default under reports/)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only max load."),
        as_json: bool = typer.Option(False, "--json", help="Print capacity.json on stdout."),
    ) -> None:
        """Find the largest load that meets every SLO (bisection, then replications)."""
        from twin.capacity import search
        from twin.cli.outputs import default_out_dir, prepare_out_dir, write_json
        from twin.config import load_scenario
        from twin.errors import InputError
        from twin.sim.engines import simulate
        from twin.sim.platform_run import run_platform_file
        from twin.slo import from_mapping, parse_expression

        base = load_scenario(scenario, set_)
        slos = [parse_expression(s) for s in slo] + [
            e if not isinstance(e, dict) else from_mapping(e, source=str(scenario), index=i)
            for i, e in enumerate(getattr(base, "slo", []) or [])
        ]
        if not slos:
            raise InputError(str(scenario), "slo", "nothing to meet: give --slo or an slo: block")
        knob, current = _knob(base)

        def evaluate(load: float, reps: int) -> dict[str, Any]:
            extra = (
                [f"population.riders={int(load)}"]
                if knob == "riders"
                else _scaled_sources(base, load)
            )
            if knob == "riders":
                result, _ = run_platform_file(
                    scenario, [*set_, *extra], engine=engine, seed=seed, replications=reps
                )
                return result.summary
            sc = load_scenario(scenario, [*set_, *extra])
            return simulate(sc, engine=engine, seed=seed, replications=reps).summary

        result = search(
            evaluate, slos, start=current, integer=knob == "riders", confirm_replications=confirm
        )
        out_dir = prepare_out_dir(out or default_out_dir(f"{base.name}-capacity"))
        report = _report(base.name, engine, knob, current, result, slos)
        _write_plot(out_dir, result, slos, knob)
        write_json(out_dir / "capacity.json", report)
        if as_json:
            typer.echo(json.dumps(report, indent=2))
        elif quiet:
            typer.echo(str(report[f"max_{knob}"]))
        else:
            _print(report, out_dir)


def _report(
    name: str, engine: str, knob: str, current: float, result: Any, slos: list[Any]
) -> dict[str, Any]:
    best = result.max_load
    return {
        "scenario": name,
        "engine": engine,
        "knob": knob,
        f"max_{knob}": None if best is None else (int(best) if knob == "riders" else best),
        f"scenario_{knob}": int(current) if knob == "riders" else current,
        "headroom": None if best is None else round(best / current - 1.0, 4),
        "confirmed": result.confirmed,
        "slo": [s.name for s in slos],
        "probes": [
            {
                "load": p.load,
                "passed": p.passed,
                "replications": p.replications,
                "observed": p.observed,
            }
            for p in result.probes
        ],
    }


def _write_plot(out_dir: Path, result: Any, slos: list[Any], knob: str) -> None:
    from twin.report.capacity_plot import capacity_png
    from twin.report.html import write_atomic

    label = "riders" if knob == "riders" else "load factor (x scenario rates)"
    write_atomic(out_dir / "capacity.png", capacity_png(result, slos, load_label=label))


def _print(report: dict[str, Any], out_dir: Path) -> None:
    from rich.console import Console

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
    console.print(f"capacity.json and capacity.png in {out_dir}")
