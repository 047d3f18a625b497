"""A drill's prediction side, after the load: `predicted.json` on the architecture that models
the target (the speed index scaling its service times, `twin.drill.predict.speed_parts`), its
timeline on the measured intervals with the replayed faults (`predicted-timeseries.csv`,
`over_time`), the drift checks of the measured latencies against it or a baseline drill
(`add_drift`, `summary.json`'s `drift`), then `report.html`, shading what the drill replayed.
`twin.drill.run` calls `predict_and_report` once the summary is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twin.drill.drift import (
    BIN_VALUES_MS,
    baseline_latency,
    drift_block,
    hdr_on_sketch,
    latency_drift,
)
from twin.drill.incidents import fault_timeline, replayed_marks
from twin.drill.overload import FaultSeries, fault_series
from twin.drill.plan import DrillWorkload
from twin.drill.predict import (
    predict_latency,
    prediction_platform,
    ridden,
    speed_parts,
    target_architecture,
    target_speed,
)
from twin.drill.predict_timeline import (
    PREDICTED_SERIES,
    TimelinePrediction,
    predicted_timeline,
    stream_setup,
    with_faults,
)
from twin.report.drill_page import render_drill_report
from twin.results.files import write_summary, write_timeseries
from twin.runs.complete import incident_marks

__all__ = [
    "CONSUMERS",
    "LOCAL_ARCHITECTURE",
    "PREDICTION_REPLICATIONS",
    "add_drift",
    "drill_faults",
    "over_time",
    "predict_and_report",
    "shaded",
]

LOCAL_ARCHITECTURE = "reference-platform"
PREDICTION_REPLICATIONS = 3  # a drill's few hundred requests per type: average three runs
CONSUMERS = 4  # the local platform's stream consumers (`LocalPlatform`), one per shard


def drill_faults(options: Any, compiled: Any, work: DrillWorkload) -> list:
    """The incidents' faults on the drill's clock (none with --no-incidents)."""
    if not options.replay_incidents:
        return []
    return fault_timeline(compiled, work, consumers=CONSUMERS)


def predict_and_report(
    options: Any, scenario: Any, compiled: Any, work: DrillWorkload,
    summary: dict[str, Any], say: Callable[[str], None], series: tuple[Any, Any],
    measured: tuple[Any, Any], devices: list[str],
) -> None:  # fmt: skip
    """`predicted.json` on the architecture modelling the target, its timeline
    (`predicted-timeseries.csv`), the drift checks of the measured latencies against it
    (`summary.json`'s `drift`), then `report.html`."""
    frame, tracked = series  # the drill's timeline; the tracking series of its worst run
    name = options.architecture or (LOCAL_ARCHITECTURE if options.target else None)
    predicted, hists, predicted_frame = None, None, None
    if name is None:
        say("no --architecture names a model of the host: report without a prediction")
    else:
        predicted, hists, predicted_frame = _predict(
            options, (scenario, compiled, work), target_architecture(name, options.scenario),
            summary, say, (frame, devices),
        )  # fmt: skip
    curves = add_drift(options, summary, measured, hists if predicted is not None else None,
                       say, sorted(work.rates))  # fmt: skip
    render_drill_report(options.out, summary, predicted, incidents=shaded(compiled, summary, work),
                        series=tracked, timeseries=frame, drift_curves=curves,
                        predicted_timeseries=predicted_frame)  # fmt: skip


def _predict(
    options: Any, drill: tuple[Any, Any, DrillWorkload], architecture: Any,
    summary: dict[str, Any], say: Callable[[str], None], measured: tuple[Any, list[str]],
) -> tuple[dict[str, Any], dict[str, Any], Any]:  # fmt: skip
    """Write `predicted.json` and `predicted-timeseries.csv`, service times scaled by the speed
    index; the prediction, its latency histograms and its timeline."""
    scenario, compiled, work = drill
    work = ridden(work, summary)  # its live riders as the drill rode them
    parts = speed_parts(summary, architecture.load_cpu, architecture.target_cpu)
    speed, target = parts["speed_index"], target_speed(parts, architecture.target_cpu)
    if speed is not None:
        own = ("" if target is None else
               f"; the target's components by its own, {target[0]:.2f} (its CPU time per "
               f"request {_x(parts['target_cpu_index'])})")  # fmt: skip
        say(f"speed index {speed:.2f} (CPU time per request {_x(parts['cpu_index'])} the "
            f"calibration's, stall factor {_x(parts['stall_factor'])}): the model's service "
            f"times are scaled by it{own}")  # fmt: skip
    predicted, hists = predict_latency(
        scenario, architecture, work, seed=scenario.seed,
        replications=PREDICTION_REPLICATIONS, speed=speed, target=target,
    )  # fmt: skip
    faults = fault_series(drill_faults(options, compiled, work), work.duration_s)
    timeline_ = over_time((scenario, work), faults, architecture, (speed, target), *measured)
    write_timeseries(options.out / PREDICTED_SERIES, timeline_.frame)
    if faults.any:  # the incident's 503s and waits in the whole drill's figures too
        predicted = with_faults(predicted, timeline_.whole)
    predicted["prediction"].update({k: None if v is None else round(v, 4)
                                    for k, v in parts.items()})  # fmt: skip
    write_summary(options.out / "predicted.json", predicted)
    return predicted, hists, timeline_.frame


def shaded(compiled: Any, summary: dict[str, Any], work: DrillWorkload) -> list[dict[str, Any]]:
    """The windows a drill report shades, in drill seconds: the surges the plan carried and
    the faults the target took (`replayed_marks`), not the scenario's declared incidents (a
    shortfall of provisioning, as the IoT overload's, declares none)."""
    x = work.speedup
    surges = [inc for inc in compiled.incidents if inc.get("type") == "surge"]
    windows = [
        {**w, "start_s": (w.get("start_s") or 0.0) / x,
         "end_s": None if w.get("end_s") is None else w["end_s"] / x}
        for w in incident_marks(surges)
    ]  # fmt: skip
    return windows + replayed_marks(summary["drill"].get("faults_applied") or [], work.duration_s)


def _x(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f}x"


def add_drift(
    options: Any, summary: dict[str, Any], measured: tuple[Any, Any],
    predicted: dict[str, Any] | None, say: Callable[[str], None], types: list[str],
) -> dict[str, Any]:  # fmt: skip
    """`summary.json` again, with each driven type's drift check (`twin.drill.drift`) against
    the baseline drill when one was given, else the prediction (none without either); the
    report's curves (ms, measured and reference counts per type)."""
    now, baseline = measured
    against = "baseline" if baseline is not None else "predicted"
    reference = baseline_latency(baseline) if baseline is not None else predicted
    if reference is None:
        return {}
    checks = latency_drift(now, reference, types)
    summary["drift"] = {**summary.get("drift", {}), **drift_block(checks, against)}
    write_summary(options.out / "summary.json", summary)
    drifted = [name for name, c in checks.items() if c.drifted]
    if drifted:
        what = "the baseline drill" if baseline is not None else "the prediction"
        say(f"drift: measured latency departs from {what} for {', '.join(drifted)}")
    return {name: (BIN_VALUES_MS, hdr_on_sketch(now.types[name].intended), reference[name])
            for name in checks}  # fmt: skip


def over_time(
    drill: tuple[Any, DrillWorkload], faults: FaultSeries, architecture: Any,
    speeds: tuple[float | None, tuple[float, frozenset[str]] | None], frame: Any,
    devices: list[str],
) -> TimelinePrediction:  # fmt: skip
    """The prediction on the measured timeline's intervals: the exact engine per interval,
    and the replayed faults' 503s, egress waits, backlog and lag (`twin.drill.overload`)."""
    scenario, work = drill
    width = float(frame["interval_s"].iloc[0]) if len(frame) else 1.0
    platform = prediction_platform(scenario, architecture, work, *speeds)
    return predicted_timeline(
        platform, work, faults, stream_setup(architecture, platform, devices, CONSUMERS),
        name=scenario.name, seed=scenario.seed, replications=PREDICTION_REPLICATIONS,
        width_s=width,
    )  # fmt: skip
