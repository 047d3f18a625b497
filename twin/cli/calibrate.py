"""`twin calibrate DRILL_DIR --architecture NAME -o FILE`: service times fitted to a drill.

Reads the drill's `summary.json`, fits a lognormal service time (mean, cv) to every service
the drill's request types crossed (`twin.drill.calibrate`), writes the calibrated
architecture to FILE (the original's comments kept, a header saying from which drill and
when), and prints the exact engine's p50/p95 error against the drill before and after.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

__all__ = ["register"]


def _row(rtype: str, result: dict[str, Any]) -> str:
    def lat(summary: dict[str, Any], q: str) -> float:
        return float(summary["requests"][rtype]["latency_ms"][q])

    m, b, a = result["measured"], result["before"], result["after"]
    eb, ea = result["errors_before"][rtype], result["errors_after"][rtype]
    return (
        f"{rtype:<12} {lat(m, 'p50'):>8.2f} {lat(m, 'p95'):>8.2f} | "
        f"{lat(b, 'p50'):>8.2f} {lat(b, 'p95'):>8.2f} {eb['p50']:>+7.0%} {eb['p95']:>+7.0%} | "
        f"{lat(a, 'p50'):>8.2f} {lat(a, 'p95'):>8.2f} {ea['p50']:>+7.0%} {ea['p95']:>+7.0%}"
    )


def _mean_abs(errors: dict[str, dict[str, float]]) -> float:
    values = [abs(v) for e in errors.values() for v in e.values()]
    return sum(values) / len(values) if values else float("nan")


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate(
        drill_dir: Path = typer.Argument(..., help="A drill's output folder (summary.json)."),
        architecture: str = typer.Option(
            "reference-platform", "--architecture", help="The architecture to calibrate."
        ),
        out: Path = typer.Option(..., "-o", "--out", help="The calibrated architecture file."),
        seed: int = typer.Option(0, "--seed", help="Seed of the fit and the engine runs."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the file written."),
        as_json: bool = typer.Option(False, "--json", help="Print fits and errors as JSON."),
    ) -> None:
        """Fit service times to a drill's measurements; print the error before and after."""
        from twin.drill.calibrate import run_calibration

        result = run_calibration(drill_dir, architecture, out, seed=seed)
        before, after = _mean_abs(result["errors_before"]), _mean_abs(result["errors_after"])
        if as_json:
            fits = {n: {"mean_s": f.mean_s, "cv": f.cv} for n, f in result["fits"].items()}
            typer.echo(json.dumps({"file": str(out), "fits": fits,
                                   "errors_before": result["errors_before"],
                                   "errors_after": result["errors_after"],
                                   "mean_abs_error_before": before,
                                   "mean_abs_error_after": after}, indent=2))  # fmt: skip
            return
        if quiet:
            typer.echo(str(out))
            return
        typer.echo("service       mean_ms      cv")
        for name, fit in sorted(result["fits"].items()):
            typer.echo(f"{name:<12} {fit.mean_s * 1e3:>8.3f} {fit.cv:>7.3f}")
        typer.echo(f"{'':<12} {'measured (ms)':>17} | {'before: predicted, error':>33} | "
                   f"{'after: predicted, error':>33}")  # fmt: skip
        quads = " | ".join([f"{'p50':>8} {'p95':>8} {'p50':>7} {'p95':>7}"] * 2)
        typer.echo(f"{'request':<12} {'p50':>8} {'p95':>8} | {quads}")
        for rtype in result["errors_after"]:
            if rtype in result["errors_before"]:
                typer.echo(_row(rtype, result))
        typer.echo(f"mean |error| of p50 and p95: before {before:.1%}, after {after:.1%}")
        typer.echo(f"twin calibrate: wrote {out}")
