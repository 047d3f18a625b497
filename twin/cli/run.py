"""`twin run SCENARIO`: simulate; write summary.json, timeseries.csv and report.html."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

__all__ = ["parse_precision", "register"]


def parse_precision(text: str | None) -> float | None:
    """`2%` or `0.02` as a fraction; None stays None."""
    from twin.errors import InputError

    if text is None:
        return None
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise InputError("--precision", None, f"{text!r} is not a percentage like 2%") from None
    if not 0 < value < 1:
        raise InputError("--precision", None, f"{text!r} must be between 0% and 100%")
    return value


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        scenario: Path = typer.Argument(..., help="Scenario YAML file."),
        engine: str = typer.Option("exact", help="exact (every request an event) or fluid."),
        riders: int | None = typer.Option(None, help="Override population.riders (platform)."),
        seed: int | None = typer.Option(None, help="Seed (default: the scenario's)."),
        replications: int = typer.Option(1, help="Independent replications."),
        precision: str | None = typer.Option(
            None, help="Add replications until every mean-latency 95% CI is this narrow, e.g. 2%."
        ),
        set_: list[str] = typer.Option([], "--set", help="Override a key: dotted.path=value."),
        out: Path | None = typer.Option(
            None, help="Output folder (default: reports/<name>-<time>)."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the output folder."),
        as_json: bool = typer.Option(False, "--json", help="Print summary.json on stdout."),
    ) -> None:
        """Simulate SCENARIO and write summary.json, timeseries.csv and report.html."""
        result, out_dir = execute(
            scenario,
            engine=engine,
            riders=riders,
            seed=seed,
            replications=replications,
            precision=parse_precision(precision),
            overrides=set_,
            out=out,
            show_progress=not (quiet or as_json),
        )
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        elif quiet:
            typer.echo(str(out_dir))
        else:
            from twin.cli.tables import print_run

            print_run(result, out_dir)


def execute(
    scenario_path: Path,
    *,
    engine: str,
    riders: int | None,
    seed: int | None,
    replications: int,
    precision: float | None,
    overrides: list[str],
    out: Path | None,
    show_progress: bool,
) -> tuple[dict[str, Any], Path]:
    """Load, simulate, write; return the summary and the output folder."""
    from twin.cli.outputs import default_out_dir
    from twin.cli.progress import progress_bar
    from twin.config import load_scenario
    from twin.sim.engines import simulate

    all_overrides = [*overrides, *_rider_override(riders)]
    sc = load_scenario(scenario_path, all_overrides)
    with progress_bar(f"{sc.name} ({engine})", enabled=show_progress) as bar:
        if getattr(sc, "kind", "network") == "platform":
            result = _run_platform(
                scenario_path, all_overrides, engine, seed, replications, precision, bar.update
            )
        else:
            result = simulate(
                sc,
                engine=engine,
                seed=seed,
                replications=replications,
                precision=precision,
                progress=bar.update,
            )
    summary = dict(result.summary)
    _add_analytic(sc, summary)
    _add_slo_verdicts(sc, summary, str(scenario_path))
    out_dir = out if out is not None else default_out_dir(sc.name)
    _write_run(out_dir, summary, result.timeseries)
    return summary, out_dir


def _run_platform(
    path: Path,
    overrides: list[str],
    engine: str,
    seed: int | None,
    replications: int,
    precision: float | None,
    progress: Any,
) -> Any:
    from twin.errors import InputError
    from twin.sim.platform_run import run_platform_file

    if precision is not None:
        raise InputError("--precision", None, "applies to bare networks on the exact engine")
    result, _ = run_platform_file(
        path, overrides, engine=engine, seed=seed, replications=replications, progress=progress
    )
    return result


def _rider_override(riders: int | None) -> list[str]:
    from twin.errors import InputError

    if riders is None:
        return []
    if riders < 1:
        raise InputError("--riders", None, "must be >= 1")
    return [f"population.riders={riders}"]


def _add_analytic(scenario: Any, summary: dict[str, Any]) -> None:
    """Put queueing theory's prediction beside a bare network's simulated means."""
    from twin.analytic.jackson import analyze_network
    from twin.config.network import NetworkScenario
    from twin.errors import TwinError

    if not isinstance(scenario, NetworkScenario):
        return
    try:
        summary["analytic"] = analyze_network(scenario).as_dict()
    except TwinError as exc:  # unstable, or no steady state to speak of: say so, do not fake it
        summary["analytic"] = {"unavailable": str(exc)}


def _add_slo_verdicts(scenario: Any, summary: dict[str, Any], source: str) -> None:
    """Judge the scenario's own `slo:` block, unless the engine already did."""
    from twin.slo import Slo, from_mapping, verdicts

    entries = list(getattr(scenario, "slo", []) or [])
    if not entries or "slo" in summary:
        return
    slos = [
        e if isinstance(e, Slo) else from_mapping(_as_mapping(e), source=source, index=i)
        for i, e in enumerate(entries)
    ]
    summary["slo"] = verdicts(slos, summary)


def _as_mapping(entry: Any) -> dict[str, Any]:
    return entry if isinstance(entry, dict) else entry.model_dump()


def _write_run(out_dir: Path, summary: dict[str, Any], timeseries: Any) -> None:
    from twin.cli.outputs import prepare_out_dir, write_json, write_timeseries

    prepare_out_dir(out_dir)
    write_timeseries(out_dir / "timeseries.csv", timeseries)
    from twin.report import render_report

    render_report(out_dir, summary, timeseries, incidents=summary.get("incidents", []))
    write_json(out_dir / "summary.json", summary)
