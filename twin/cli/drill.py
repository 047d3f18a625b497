"""`twin drill SCENARIO (--target local | --host URL)`: Locust replays the scenario for real.

The scenario's riders, scaled by `--scale` and compressed by `--speedup`, ride against the
reference platform (`--target local` starts and stops `twin serve` itself) or any host that
speaks the same API (`--host URL`, tokens signed with `TWIN_SECRET`). Writes `summary.json`
(`engine: "drill"`), `predicted.json` (the twin on `--architecture`) and `report.html` (both
side by side) into `--out`; `summary.json`'s `drift` tests each request type's measured
latency against the prediction (or `--drift-baseline`, an earlier drill). `--repeat N` runs
the drill N times (`run-1` ... `run-N`, each on a fresh local platform) and writes the
pooled measurement: percentiles of every run's requests, intervals that see how much the runs
differ. An unreachable host or one that answers nothing
but errors is one line and exit code 2.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

__all__ = ["register"]


def _variant(name: str | None) -> str | None:
    if name not in (None, "control", "treatment"):
        from twin.errors import InputError

        raise InputError("--ab-variant", None, f"control or treatment, got {name!r}")
    return name


def register(app: typer.Typer) -> None:
    @app.command("drill")
    def drill(
        scenario: Path = typer.Argument(
            ..., help="A platform scenario file, or a built-in scenario's name."
        ),
        target: str | None = typer.Option(None, "--target", help="'local': start twin serve."),
        host: str | None = typer.Option(None, "--host", help="Drill this URL instead."),
        ca_cert: Path | None = typer.Option(
            None, "--ca-cert", help="PEM CA bundle to check an https:// --host's certificate."
        ),
        scale: float = typer.Option(
            1e-4, "--scale", help="Riders in the drill per scenario rider."
        ),
        speedup: float = typer.Option(60.0, "--speedup", help="Scenario seconds per drill second."),
        duration: float | None = typer.Option(
            None, "--duration", help="Drill seconds (default: the whole scenario, compressed)."
        ),
        workers: int = typer.Option(1, "--workers", help="Locust worker processes."),
        master: bool = typer.Option(
            False, "--master",
            help="Run Locust's master alone; remote workers (`twin drill-worker`) make the load.",
        ),
        expect_workers: int = typer.Option(
            1, "--expect-workers", help="With --master: the remote workers to wait for."
        ),
        master_bind_host: str = typer.Option(
            "*", "--master-bind-host", help="With --master: the interface workers reach."
        ),
        master_bind_port: int = typer.Option(
            5557, "--master-bind-port", help="With --master: the port workers reach."
        ),
        repeat: int = typer.Option(
            1, "--repeat", help="Run the drill N times (run-1, run-2...) and pool the runs."
        ),
        out: Path | None = typer.Option(None, "--out", help="Output folder."),
        architecture: str | None = typer.Option(
            None,
            "--architecture",
            help="The architecture modelling the target, for predicted.json "
            "(default reference-platform with --target local).",
        ),
        profile: str | None = typer.Option(
            None,
            "--profile",
            help="The target's profile: a YAML file or a shipped one's name (reference-platform, "
            "nginx-hls); default reference-platform. See `twin schema profile`.",
        ),
        drift_baseline: Path | None = typer.Option(
            None, "--drift-baseline",
            help="An earlier drill's --out folder: test each type's latency against it "
            "instead of the prediction (summary `drift.<type>`).",
        ),
        ab: str | None = typer.Option(
            None, "--ab",
            help="A/B drill: the treatment (variant B). With --target local, its `twin serve` "
            "options (e.g. '--cache-ttl 1'); with --host, its URL. Writes ab.json and one report.",
        ),
        split: int = typer.Option(
            50, "--split", help="A/B: per cent of riders (by a stable hash of the id) in control."
        ),
        ab_variant: str | None = typer.Option(None, "--ab-variant", hidden=True),
        serve_args: str | None = typer.Option(None, "--serve-args", hidden=True),
        ab_sync: Path | None = typer.Option(None, "--ab-sync", hidden=True),
        incidents: bool = typer.Option(
            True, "--incidents/--no-incidents", help="Replay incidents on the admin API."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the output folder."),
        as_json: bool = typer.Option(
            False, "--json", help="Print the measured summary.json (with --ab: ab.json)."
        ),
    ) -> None:
        """Drive a real platform with the scenario's workload and compare with the twin."""
        # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
        from twin.config.builtin import find_scenario
        from twin.drill.ab import serve_args as serve_args_of
        from twin.drill.run import DrillOptions, run_drill
        from twin.results.files import default_out_dir, prepare_out_dir

        scenario = find_scenario(scenario)
        options = DrillOptions(
            scenario=scenario, out=Path("."), target=target, host=host, scale=scale,
            speedup=speedup, duration=duration, workers=workers, architecture=architecture,
            replay_incidents=incidents, repeat=repeat, profile=profile, master=master,
            expect_workers=expect_workers, master_bind_host=master_bind_host,
            master_bind_port=master_bind_port, ca_cert=ca_cert, drift_baseline=drift_baseline,
            ab=ab, split=split, variant=_variant(ab_variant),
            serve_args=serve_args_of(serve_args) if serve_args else (), ab_sync=ab_sync,
        )  # fmt: skip
        options.check()
        folder = prepare_out_dir(out or default_out_dir(f"drill-{scenario.stem}"))

        chatty = not (quiet or as_json)
        say = (lambda line: typer.echo(f"twin drill: {line}")) if chatty else (lambda _line: None)
        run_drill(replace(options, out=folder), say)
        if ab is not None and not as_json:
            typer.echo(str(folder) if quiet else f"twin drill: wrote {folder}/ab.json, report.html")
        elif ab is not None:
            typer.echo((folder / "ab.json").read_text(encoding="utf-8").rstrip())
        elif as_json:
            typer.echo((folder / "summary.json").read_text(encoding="utf-8").rstrip())
        elif quiet:
            typer.echo(str(folder))
        else:
            typer.echo(f"twin drill: wrote {folder}/summary.json, predicted.json, report.html")
