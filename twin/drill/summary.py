"""The drill's `summary.json`: the same keys as a simulated run, with `engine: "drill"`.

`requests.<type>` is end to end as the riders saw it: `latency_ms` from each request's intended
send time (HdrHistogram, coordinated omission corrected) with `latency_ci95_ms`, each
percentile's 95 % interval: the wider of the order-statistics interval (independent samples)
and the block bootstrap over the drill's latency windows (requests close in time are not
independent); `service_latency_ms` from when it was actually sent, and Locust's own figures
under `drill.locust`. `experience` holds join failures, the share of degraded video segments
and, when the target exports it, the measured leaderboard lag, and, when the drill sent
music sessions' cadence, the stroke-to-tempo lag. Keys that a drill cannot
measure are omitted, never faked. Pure calculation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from twin.config.audio import Audio
from twin.drill.measure import Measured, TypeMeasure, latency_block, quantile_ci, window_ci
from twin.drill.plan import DrillWorkload
from twin.results.slo import verdicts
from twin.sim.tempo import DRAWS, tempo_block

__all__ = ["drill_summary", "request_blocks"]

_CI_OF = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def interval(m: TypeMeasure, q: float, rng: np.random.Generator) -> list[float] | None:
    """The 95 % interval (ms) of quantile `q`: the hull of the order-statistics interval and
    the block bootstrap over latency windows (when the records have windows)."""
    iid = quantile_ci(m.intended, q)
    windows = window_ci(m.windows, q, rng, run_starts=m.run_starts) if m.windows else None
    if iid is None or windows is None:
        return iid
    return [min(iid[0], windows[0]), max(iid[1], windows[1])]


def request_blocks(
    measured: Measured, work: DrillWorkload, rng: np.random.Generator
) -> dict[str, dict[str, Any]]:
    """`requests.<type>`: counts, errors, latencies, and requested against achieved rates."""
    seconds = work.duration_s
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(measured.types) | set(work.rates)):
        m = measured.types.get(name)
        block: dict[str, Any] = {"count": 0, "errors": 0}
        if m is not None:
            block.update(
                count=m.count,
                errors=m.errors,
                latency_ms=latency_block(m.intended),
                # how well the drill pinned its percentiles down
                latency_ci95_ms={k: interval(m, q, rng) for k, q in _CI_OF.items()},
                service_latency_ms=latency_block(m.service),
                bytes=m.bytes,
                achieved_per_s=round(float(m.series(seconds).mean()) / measured.runs, 4),
            )
            if m.messages:
                block["error_messages"] = dict(m.messages)
        if name in work.rates:
            block["requested_per_s"] = round(float(work.rates[name].mean()), 4)
        out[name] = block
    return out


def _experience(measured: Measured, lag: Mapping[str, float] | None) -> dict[str, Any]:
    exp = measured.experience
    out: dict[str, Any] = {"join_failures": int(exp.get("join_failures", 0))}
    segments = exp.get("segments", 0)
    if segments:
        out["video_degraded_fraction"] = round(exp.get("segments_degraded", 0) / segments, 6)
        out["downshifts"] = int(exp.get("downshifts", 0))
    if lag:
        out["leaderboard_lag_s"] = dict(lag)
    return out


def _sessions(exp: Mapping[str, float]) -> dict[str, Any]:
    """The sessions ridden by kind (`drill.sessions`), when the load processes counted them."""
    if "sessions_live" not in exp and "sessions_on_demand" not in exp:
        return {}
    return {"sessions": {
        "started": int(exp.get("sessions", 0)), "live": int(exp.get("sessions_live", 0)),
        "on_demand": int(exp.get("sessions_on_demand", 0)),
        "live_unjoinable": int(exp.get("live_unjoinable", 0)),
        "resumed": int(exp.get("resumed", 0)),
    }}  # fmt: skip


def _tempo(measured: Measured, audio: Audio | None, rng: np.random.Generator) -> dict[str, Any]:
    """The music's stroke-to-tempo lag: the measured tempo answers (from their intended send
    times) plus the parts outside the platform the twin adds to its own (`twin.sim.tempo`)."""
    m = measured.types.get("tempo")
    if audio is None or m is None or m.count == 0:
        return {}
    recorded = [(i.value_iterated_to, i.count_at_value_iterated_to)
                for i in m.intended.get_recorded_iterator()]  # fmt: skip
    if not recorded:
        return {}
    values, counts = (np.array(v, dtype=float) for v in zip(*recorded, strict=True))
    route_s = rng.choice(values, size=DRAWS, p=counts / counts.sum()) / 1e6  # microseconds
    block = tempo_block(route_s, audio, m.errors / m.count, rng)
    block["tempo_lag_ms"]["samples"] = int(m.count - m.errors)
    return block


def drill_summary(
    meta: Mapping[str, Any],
    work: DrillWorkload,
    measured: Measured,
    *,
    drill: Mapping[str, Any],
    lag: Mapping[str, float] | None = None,
    services: Mapping[str, Any] | None = None,
    slos: Iterable[Any] = (),
    rng: np.random.Generator | None = None,
    audio: Audio | None = None,
) -> dict[str, Any]:
    """The whole summary mapping; `meta` holds scenario, architecture, riders, seed...
    `rng` draws the bootstrap resamples (default: seeded by `meta["seed"]`); `audio` (when the
    drill drove music sessions) adds the stroke-to-tempo lag to `experience`."""
    rng = rng or np.random.default_rng(int(meta.get("seed") or 0))

    summary: dict[str, Any] = {
        **meta,
        "engine": "drill",
        "replications": measured.runs,  # `--repeat`: drills pooled into this summary
        "simulated_seconds": round(work.duration_s * work.speedup, 3),
        "services": dict(services or {}),
        "requests": request_blocks(measured, work, rng),
        "experience": {**_experience(measured, lag), **_tempo(measured, audio, rng)},
        "drill": {
            **drill,
            "requests_total": measured.total,
            "errors_total": measured.errors,
            "error_ratio": round(measured.errors / measured.total, 6) if measured.total else None,
            "load_processes": measured.processes,
            "requested_riders_mean": round(float(np.mean(work.riders)), 4),
            **_sessions(measured.experience),
        },
    }
    ranked = sorted(
        summary["services"],
        key=lambda n: summary["services"][n].get("utilization_peak") or 0.0,
        reverse=True,
    )
    summary["bottlenecks"] = ranked
    summary["slo"] = verdicts(list(slos), summary)
    return summary
