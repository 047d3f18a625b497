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


# `twin drill`'s options, named here so that the command reads as its steps
_SCENARIO = typer.Argument(..., help="A platform scenario file, or a built-in scenario's name.")
_TARGET = typer.Option(None, "--target", help="'local': start twin serve.")
_HOST = typer.Option(None, "--host", help="Drill this URL instead.")
_CA_CERT = typer.Option(
    None, "--ca-cert", help="PEM CA bundle to check an https:// --host's certificate."
)
_SCALE = typer.Option(1e-4, "--scale", help="Riders in the drill per scenario rider.")
_SPEEDUP = typer.Option(60.0, "--speedup", help="Scenario seconds per drill second.")
_DURATION = typer.Option(
    None, "--duration", help="Drill seconds (default: the whole scenario, compressed)."
)
_WORKERS = typer.Option(1, "--workers", help="Locust worker processes.")
_MASTER = typer.Option(
    False,
    "--master",
    help="Run Locust's master alone; remote workers (`twin drill-worker`) make the load.",
)
_EXPECT_WORKERS = typer.Option(
    1, "--expect-workers", help="With --master: the remote workers to wait for."
)
_MASTER_BIND_HOST = typer.Option(
    "*", "--master-bind-host", help="With --master: the interface workers reach."
)
_MASTER_BIND_PORT = typer.Option(
    5557, "--master-bind-port", help="With --master: the port workers reach."
)
_REPEAT = typer.Option(
    1, "--repeat", help="Run the drill N times (run-1, run-2...) and pool the runs."
)
_OUT = typer.Option(None, "--out", help="Output folder.")
_ARCHITECTURE = typer.Option(
    None,
    "--architecture",
    help="The architecture modelling the target, for predicted.json "
    "(default reference-platform with --target local).",
)
_PROFILE = typer.Option(
    None,
    "--profile",
    help="The target's profile: a YAML file or a shipped one's name (reference-platform, "
    "nginx-hls); default reference-platform. See `twin schema profile`.",
)
_DRIFT_BASELINE = typer.Option(
    None,
    "--drift-baseline",
    help="An earlier drill's --out folder: test each type's latency against it "
    "instead of the prediction (summary `drift.<type>`).",
)
_AB = typer.Option(
    None,
    "--ab",
    help="A/B drill: the treatment (variant B). With --target local, its `twin serve` "
    "options (e.g. '--cache-ttl 1'); with --host, its URL. Writes ab.json and one report.",
)
_SPLIT = typer.Option(
    50, "--split", help="A/B: per cent of riders (by a stable hash of the id) in control."
)
_AB_VARIANT = typer.Option(None, "--ab-variant", hidden=True)
_SERVE_ARGS = typer.Option(None, "--serve-args", hidden=True)
_AB_SYNC = typer.Option(None, "--ab-sync", hidden=True)
_INCIDENTS = typer.Option(
    True, "--incidents/--no-incidents", help="Replay incidents on the admin API."
)
_REQUEST_LOG = typer.Option(
    False, "--request-log",
    help="Also write requests.csv: every request (send time, type, latency, status, rider).",
)  # fmt: skip
_QUIET = typer.Option(False, "--quiet", "-q", help="Print only the output folder.")
_AS_JSON = typer.Option(
    False, "--json", help="Print the measured summary.json (with --ab: ab.json)."
)


def register(app: typer.Typer) -> None:
    @app.command("drill")
    def drill(
        scenario: Path = _SCENARIO,
        target: str | None = _TARGET,
        host: str | None = _HOST,
        ca_cert: Path | None = _CA_CERT,
        scale: float = _SCALE,
        speedup: float = _SPEEDUP,
        duration: float | None = _DURATION,
        workers: int = _WORKERS,
        master: bool = _MASTER,
        expect_workers: int = _EXPECT_WORKERS,
        master_bind_host: str = _MASTER_BIND_HOST,
        master_bind_port: int = _MASTER_BIND_PORT,
        repeat: int = _REPEAT,
        out: Path | None = _OUT,
        architecture: str | None = _ARCHITECTURE,
        profile: str | None = _PROFILE,
        drift_baseline: Path | None = _DRIFT_BASELINE,
        ab: str | None = _AB,
        split: int = _SPLIT,
        ab_variant: str | None = _AB_VARIANT,
        serve_args: str | None = _SERVE_ARGS,
        ab_sync: Path | None = _AB_SYNC,
        incidents: bool = _INCIDENTS,
        request_log: bool = _REQUEST_LOG,
        quiet: bool = _QUIET,
        as_json: bool = _AS_JSON,
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
            request_log=request_log,
        )  # fmt: skip
        options.check()
        folder = prepare_out_dir(out or default_out_dir(f"drill-{scenario.stem}"))

        chatty = not (quiet or as_json)
        say = (lambda line: typer.echo(f"twin drill: {line}")) if chatty else (lambda _line: None)
        run_drill(replace(options, out=folder), say)
        _print_result(folder, ab=ab is not None, quiet=quiet, as_json=as_json,
                      log=request_log)  # fmt: skip


def _print_result(folder: Path, *, ab: bool, quiet: bool, as_json: bool,
                  log: bool = False) -> None:  # fmt: skip
    """What `twin drill` prints when done: the files it wrote, the folder (`--quiet`), or the
    summary (`--json`; an A/B drill's ab.json)."""
    if ab and not as_json:
        typer.echo(str(folder) if quiet else f"twin drill: wrote {folder}/ab.json, report.html")
    elif ab:
        typer.echo((folder / "ab.json").read_text(encoding="utf-8").rstrip())
    elif as_json:
        typer.echo((folder / "summary.json").read_text(encoding="utf-8").rstrip())
    elif quiet:
        typer.echo(str(folder))
    else:
        from twin.drill.request_log import LOG_NAME

        extra = f", {LOG_NAME}" if log and (folder / LOG_NAME).is_file() else ""
        typer.echo(f"twin drill: wrote {folder}/summary.json, predicted.json, report.html{extra}")
