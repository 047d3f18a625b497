"""`twin run SCENARIO`: simulate; write summary.json, timeseries.csv and report.html."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from twin.cli.heap import command_heap, imports_set_aside
from twin.cli.progress import progress_bar
from twin.cli.tables import print_run  # deferred: Rich tables, only when printing
from twin.cli.units import CLUSTER, JOBS, open_units
from twin.errors import InputError

__all__ = ["parse_precision", "register"]


def parse_precision(text: str | None) -> float | None:
    """`2%` or `0.02` as a fraction; None stays None."""
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


# the options whose declarations take several lines (typer reads a default's Option)
_SCENARIO = typer.Argument(
    ..., help="Scenario YAML file, or a built-in scenario's name (twin architectures)."
)
_ENGINE = typer.Option(
    "auto",
    help="auto (exact when it finishes in about a minute, else fluid), exact (every "
    "rider and request an event) or fluid (flows per tick).",
)
_SCALE = typer.Option(
    None,
    help="Run a platform at this fraction of its riders and capacities (0 < F <= 1), "
    "e.g. 0.01, so the exact engine can ride it rider by rider.",
)
_PRECISION = typer.Option(
    None, help="Add replications until every mean-latency 95% CI is this narrow, e.g. 2%."
)
_OUT = typer.Option(
    None, help="Output folder (default: reports/<name>-<time>)."
)
_OPENMETRICS = typer.Option(
    None,
    help="Also write the time series as OpenMetrics text to this file "
    "(for promtool tsdb create-blocks-from openmetrics).",
)
_OPENMETRICS_START = typer.Option(
    None,
    help="ISO 8601 time of the run's start in the OpenMetrics file (default: the "
    "scenario's start; for a bare network, now); without an offset, UTC.",
)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        scenario: Path = _SCENARIO,
        engine: str = _ENGINE,
        scale: float | None = _SCALE,
        riders: int | None = typer.Option(None, help="Override population.riders (platform)."),
        seed: int | None = typer.Option(None, help="Seed (default: the scenario's)."),
        replications: int = typer.Option(1, help="Independent replications."),
        precision: str | None = _PRECISION,
        set_: list[str] = typer.Option([], "--set", help="Override a key: dotted.path=value."),
        out: Path | None = _OUT,
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the output folder."),
        as_json: bool = typer.Option(False, "--json", help="Print summary.json on stdout."),
        openmetrics: Path | None = _OPENMETRICS,
        openmetrics_start: str | None = _OPENMETRICS_START,
        jobs: int | None = JOBS,
        cluster: str | None = CLUSTER,
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
            scale=scale,
            openmetrics=_openmetrics_target(openmetrics, openmetrics_start),
            jobs=jobs,
            cluster=cluster,
        )
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        elif quiet:
            typer.echo(str(out_dir))
        else:
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
    scale: float | None = None,
    openmetrics: tuple[Path, datetime | None] | None = None,
    jobs: int | None = 1,
    cluster: str | None = None,
) -> tuple[dict[str, Any], Path]:
    """Load, simulate (replications as units of work on `jobs` processes or a `cluster`),
    write; return the summary and the output folder."""
    with command_heap():  # what the imports set aside is collectable again after
        # Deferred: the engines and the report load NumPy, pandas, SimPy and matplotlib, which
        # `twin --help` and the other commands should not pay for; and bad input is refused
        # before they are imported (that alone takes seconds on a busy machine).
        with imports_set_aside():
            from twin.config.loader import load
            from twin.config.scaling import check_scale

        if scale is not None:
            check_scale(scale)
        loaded = load(scenario_path, [*overrides, *_rider_override(riders)])
        _check_size(loaded.scenario, engine, seed, replications)
        with imports_set_aside():
            from twin.report.drawing import Drawing
            from twin.report.run_folder import write_run
            from twin.results.files import default_out_dir
            from twin.runs import run_loaded
            from twin.runs.engines import check_engine

        check_engine(engine)
        # The fluid engine's replications share one solved flow: they stay in this process.
        many = max(replications, 3 if precision else 1) if engine != "fluid" else 1
        units = open_units(jobs, cluster, units=many)
        label = f"{loaded.scenario.name} ({engine})"
        # The report's drawing processes start now, so that they import matplotlib on the other
        # cores while the engine runs, before any thread (the progress bar's) exists to fork.
        with Drawing.start() as drawing:
            with units, progress_bar(label, enabled=show_progress) as bar:
                run = run_loaded(
                    loaded, engine=engine, seed=seed, replications=replications,
                    precision=precision, progress=bar.update, scale=scale, units=units,
                )  # fmt: skip
            out_dir = out if out is not None else default_out_dir(run.name)
            write_run(out_dir, run.summary, run.timeseries, drawing)
        if openmetrics is not None:
            _write_openmetrics(openmetrics, run)
        return run.summary, out_dir


def _openmetrics_target(
    path: Path | None, start: str | None
) -> tuple[Path, datetime | None] | None:
    """`--openmetrics` and its start, checked before anything runs."""
    if path is None:
        if start is not None:
            raise InputError("--openmetrics-start", None, "needs --openmetrics FILE")
        return None
    if path.is_dir():
        raise InputError(str(path), None, "--openmetrics must be a file, and this is a folder")
    from twin.results.openmetrics import parse_start

    return path, None if start is None else parse_start(start)


def _write_openmetrics(target: tuple[Path, datetime | None], run: Any) -> None:
    """The run's time series as OpenMetrics, time 0 at the chosen start (or the scenario's)."""
    from twin.results.files import prepare_out_dir, write_text
    from twin.results.openmetrics import openmetrics_text

    path, start = target
    if start is None:
        start = getattr(run.loaded.scenario, "start_utc", None) or datetime.now(UTC).replace(
            microsecond=0
        )
    prepare_out_dir(path.parent if str(path.parent) else Path("."))
    write_text(path, openmetrics_text(run.summary, run.timeseries, start))


def _check_size(scenario: Any, engine: str, seed: int | None, replications: int) -> None:
    """The limits a run can be refused by before the engines are even imported; the engines
    check them again (a platform's size is known only once it is compiled)."""
    from twin.config.limits import (
        AUTO_BUDGET_S,
        EXACT_VISITS_PER_S,
        check_exact_visits,
        check_replications,
        check_seed,
        too_many_ticks,
    )
    from twin.config.network import NetworkScenario

    check_replications(replications)
    check_seed(scenario.seed if seed is None else seed)
    if not isinstance(scenario, NetworkScenario):
        return
    visits = scenario.expected_visits() * replications
    if engine == "auto":  # as twin.runs.engines.choose_engine will choose
        engine = "exact" if visits / EXACT_VISITS_PER_S <= AUTO_BUDGET_S else "fluid"
    if engine == "exact":
        check_exact_visits(scenario.name, visits)
    problem = too_many_ticks(scenario.duration_s, 1.0) if engine == "fluid" else None
    if problem:
        raise InputError("--engine", "fluid", problem)


def _rider_override(riders: int | None) -> list[str]:
    if riders is None:
        return []
    from twin.config.limits import MAX_RIDERS, over

    if riders < 1:
        raise InputError("--riders", None, "must be >= 1")
    if riders > MAX_RIDERS:
        raise InputError("--riders", None, over("riders", riders, MAX_RIDERS, "MAX_RIDERS"))
    return [f"population.riders={riders}"]
