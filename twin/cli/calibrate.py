"""`twin calibrate DRILL_DIR... --architecture NAME -o FILE`: service times fitted to drills.

Reads each drill's `summary.json`, sets the event loops' service times from the CPU the drill
measured, searches their cv across the drills' loads (two drills or more) and fits a lognormal
service time to every other service the drills' request types crossed
(`twin.drill.calibration`); writes the calibrated architecture to FILE (the original's
comments kept, a header saying from which drills and when), and prints, per drill, the exact
engine's p50/p95 error before and after. `--validate DIR...` names drills the fit does not
see (`twin.drill.out_of_sample`): it prints their error with the fitted file beside the
drills' own, per request type and percentile, and which figures count, and, when some checks
are the same drill made more than once, how well each predicts its repeats beside the model
(`twin.drill.repeats`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer

__all__ = ["register", "spread_validate"]


def spread_validate(argv: list[str]) -> list[str]:
    """`calibrate ... --validate A B C` as click reads it (`--validate A --validate B ...`):
    every word after `--validate` up to the next option is a validation drill, so a shell
    glob (`--validate drills/check-*`) never slips a drill into the fitted set."""
    if not argv or argv[0] != "calibrate":
        return argv
    out, spreading = [], False
    for word in argv:
        if word == "--validate":
            spreading = True
            continue
        if word.startswith("-"):
            spreading = False
        out.extend(["--validate", word] if spreading else [word])
    return out


def _oos_table(title: str, block: dict[str, Any]) -> None:
    """Per drill, type and percentile: measured, predicted, error; `*` marks what counts."""
    typer.echo(f"{title} (* counts: >= 20 requests and the percentile pinned within 25 %)")
    typer.echo(f"{'request':<12} {'q':<4} {'n':>6} {'measured':>9} {'predicted':>9} {'error':>7}")
    drill = None
    for row in block["rows"]:
        if row["drill"] != drill:
            drill = row["drill"]
            typer.echo(f"drill {drill}")
        mark = "*" if row["counts"] else " "
        typer.echo(f"{row['request']:<12} {row['q']:<4} {row['count']:>6} "
                   f"{row['measured_ms']:>9.2f} {row['predicted_ms']:>9.2f} "
                   f"{row['error']:>+7.0%} {mark}")  # fmt: skip
    mean = block["mean_abs_error"]
    typer.echo(f"{title}: {block['counted']} figures count, mean |error| "
               + ("-" if mean is None else f"{mean:.1%}")
               + f", {block['within_target']} within {block['target']:.0%}")  # fmt: skip


def _repeats(block: dict[str, Any]) -> None:
    """Identical drills among the checks, each scored as a prediction of its repeats."""

    def score(t: dict[str, Any]) -> str:
        mean = "-" if t["mean_abs_error"] is None else f"{t['mean_abs_error']:.1%}"
        return f"{t['within_target']} of {t['counted']} within {t['target']:.0%}, mean {mean}"

    n = len(block["groups"])
    typer.echo(f"identical drills among the checks ({n} group{'s' * (n != 1)}: "
               "same scenario, seed and drill settings), each as the prediction of its "
               f"repeats: {score(block['repeats'])}; the model on the same figures: "
               f"{score(block['model'])}")  # fmt: skip


def _row(rtype: str, result: dict[str, Any]) -> str:
    def lat(summary: dict[str, Any], q: str) -> float:
        return float(summary["requests"][rtype]["latency_ms"][q])

    m, b, a = result["measured"], result["before"], result["after"]  # one drill's
    eb, ea = result["errors_before"][rtype], result["errors_after"][rtype]
    return (
        f"{rtype:<12} {lat(m, 'p50'):>8.2f} {lat(m, 'p95'):>8.2f} | "
        f"{lat(b, 'p50'):>8.2f} {lat(b, 'p95'):>8.2f} {eb['p50']:>+7.0%} {eb['p95']:>+7.0%} | "
        f"{lat(a, 'p50'):>8.2f} {lat(a, 'p95'):>8.2f} {ea['p50']:>+7.0%} {ea['p95']:>+7.0%}"
    )


_WAKE_HOW = {
    "measured": "measured from the drills' request logs, not fitted",
    "searched": "searched across the drills",
    "file": "the file's: one drill without a request log",
}


def _print(result: dict[str, Any], before: float, after: float, out: Path) -> None:
    typer.echo("service       mean_ms      cv")
    for name, fit in sorted(result["fits"].items()):
        typer.echo(f"{name:<12} {fit.mean_s * 1e3:>8.3f} {fit.cv:>7.3f}")
    measured = ", ".join(result["loops_measured"]) or "none"
    cv = result["loop_cv"]
    typer.echo(
        f"event loops: mean = {result['path_share']:g} x measured CPU per request ({measured}); cv "
        + (f"{cv:g}, searched across the drills" if cv is not None else "from the file")
    )
    wake, how = result.get("wake"), _WAKE_HOW[result.get("wake_how", "file")]
    typer.echo("server loop's wake-up: " + ("none" if wake is None else
               f"{wake[0] * 1e3:g} ms after a long idle, time constant {wake[1] * 1e3:g} ms")
               + f" ({how})")  # fmt: skip
    for name, got in (result.get("measured_delays") or {}).items():
        typer.echo(f"{name}: mean {got['mean_s'] * 1e3:.3g} ms, cv {got['cv']:g}, measured on "
                   f"{got['samples']} of the drills' requests (not fitted)")  # fmt: skip
    for drill in result["drills"]:
        typer.echo(f"drill {drill['folder']}")
        typer.echo(f"{'':<12} {'measured (ms)':>17} | {'before: predicted, error':>33} | "
                   f"{'after: predicted, error':>33}")  # fmt: skip
        quads = " | ".join([f"{'p50':>8} {'p95':>8} {'p50':>7} {'p95':>7}"] * 2)
        typer.echo(f"{'request':<12} {'p50':>8} {'p95':>8} | {quads}")
        for rtype in drill["errors_after"]:
            if rtype in drill["errors_before"]:
                typer.echo(_row(rtype, drill))
    def pct(value: float) -> str:  # no pinned figure: nothing to average (inf)
        return f"{value:.1%}" if math.isfinite(value) else "- (no percentile pinned)"

    typer.echo(f"mean |error| of p50 and p95: before {pct(before)}, after {pct(after)}")
    _oos_table("in sample", result["in_sample"])
    if result.get("out_of_sample"):
        _oos_table("out of sample", result["out_of_sample"])
    if result.get("repeatability"):
        _repeats(result["repeatability"])
    typer.echo(f"twin calibrate: wrote {out}")


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate(
        drill_dirs: list[Path] = typer.Argument(
            ...,
            help="Drill output folders (summary.json); drills at different loads fit the "
            "event loops' cv.",
        ),
        architecture: str = typer.Option(
            "reference-platform", "--architecture", help="The architecture to calibrate."
        ),
        out: Path = typer.Option(..., "-o", "--out", help="The calibrated architecture file."),
        seed: int = typer.Option(0, "--seed", help="Seed of the fit and the engine runs."),
        validate: list[Path] = typer.Option(
            [], "--validate",
            help="Drill folders to check the fit on, not fitted (out of sample); "
            "`--validate A B C` takes every folder up to the next option.",
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the file written."),
        as_json: bool = typer.Option(False, "--json", help="Print fits and errors as JSON."),
    ) -> None:
        """Fit service times to a drill's measurements; print the error before and after."""
        # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
        from twin.drill.calibration import run_calibration

        result = run_calibration(drill_dirs, architecture, out, seed=seed, validate=validate)
        drills = result["drills"]
        before, after = result["mean_abs_error_before"], result["mean_abs_error_after"]
        if as_json:
            fits = {n: {"mean_s": f.mean_s, "cv": f.cv} for n, f in result["fits"].items()}
            typer.echo(json.dumps({
                "file": str(out), "fits": fits, "loop_cv": result["loop_cv"],
                "path_share": result["path_share"], "wake": result["wake"],
                "wake_how": result["wake_how"],
                "measured_delays": result["measured_delays"],
                "loops_measured": result["loops_measured"],
                "drills": [{k: d[k] for k in ("folder", "errors_before", "errors_after")}
                           for d in drills],
                "mean_abs_error_before": before, "mean_abs_error_after": after,
                "in_sample": result["in_sample"], "out_of_sample": result["out_of_sample"],
                "repeatability": result["repeatability"],
            }, indent=2))  # fmt: skip
            return
        if quiet:
            typer.echo(str(out))
            return
        _print(result, before, after, out)
