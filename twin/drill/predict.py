"""The twin's prediction for a drill: the same scaled, compressed workload on the target's model.

Only the request types the drill drives are predicted (`DrillWorkload.rates`: a target profile
may leave types out), and the ingest flows only when telemetry is driven.

`drill_platform` takes the scenario compiled on the architecture that models the target (for
`twin serve`, `reference-platform`) and makes it the drill's own platform run: one tick per
drill second, each request type at the rate the drill asked for (`DrillWorkload.rates`:
scaled by `--scale`, session events `--speedup` times as often), the ingest flows behind the
routes (stream records, leaderboard writes, persistence) scaled like the telemetry that feeds
them, and each service's servers as the architecture lists them (a drill scales riders, not
the target). `predict` runs the exact engine on it: at drill scale (tens to hundreds of
requests/s) every request can be simulated, and the exact engine is the twin's oracle.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from twin.config.architecture import load_architecture
from twin.config.builtin import find_architecture
from twin.config.network import ServiceTime
from twin.drill.plan import DrillWorkload, compress
from twin.drill.stampede import class_end_bursts, moved_demand
from twin.drill.starvation import stall_factor, wait_ratio
from twin.drill.wire import IN_PROGRESS_S, PARK_S
from twin.runs.compile import build_platform
from twin.runs.engines import simulate

__all__ = [
    "SCORING",
    "TIMER",
    "WAKEUP",
    "awake_shares",
    "compile_target",
    "cpu_index",
    "drill_platform",
    "drill_seconds",
    "drill_volume",
    "fresh_app_opens",
    "predict",
    "predict_latency",
    "prediction_platform",
    "recommendation_misses",
    "ridden",
    "scaled_services",
    "speed_index",
    "speed_parts",
    "target_architecture",
    "target_speed",
]

# The architecture's component for the load generator's timers (`reference-platform`): a
# periodic request (a live player's reload, an on-demand segment, telemetry, the leaderboard,
# tempo) is sent when its timer fires, and its latency counts from the time it was due; a
# request sent right behind a response (`awake_shares`) never waits for it.
TIMER = "timer"
# The component for what a request sent on its own pays over one sent right behind a response,
# whatever the target's idle gap (`twin.drill.wake`): requests behind a response skip it too.
WAKEUP = "wakeup"
# The component for the recommender's scoring on a cache miss (`reference-platform`): last on
# the `recommend` route, reached by the app opens that miss (`recommendation_misses`).
SCORING = "scoring"


def target_architecture(name_or_path: str, scenario_path: Path) -> Any:
    """The architecture `name_or_path` (`--architecture`), found as a scenario's would be."""

    where = ("--architecture", None)
    return load_architecture(find_architecture(str(name_or_path), Path(scenario_path), where=where))


def compile_target(scenario: Any, architecture: Any) -> Any:
    """The scenario's workload compiled on `architecture` (the scenario's own riders)."""

    return build_platform(scenario, architecture).compiled


def _routed(demand: dict[str, np.ndarray], visits: dict[str, Any], names: Any) -> dict:
    out = {name: 0.0 for name in names}
    for rtype, hops in visits.items():
        if rtype in demand:
            for hop, share in hops:
                out[hop] = out[hop] + np.asarray(demand[rtype], dtype=float) * share
    return out


def drill_platform(compiled: Any, work: DrillWorkload) -> Any:
    """A `CompiledPlatform` over the drill's seconds carrying the drill's workload."""
    seconds = work.duration_s
    factor = float(work.riders.sum() / max(_squeeze(compiled.active_riders, compiled, work).sum(),
                                           1e-12))  # fmt: skip
    rates = {name: np.asarray(work.rates[name], dtype=float) for name in compiled.demand
             if name in work.rates}  # fmt: skip
    # a live class's end sends its riders' workouts, ratings and next app opens at once
    demand, bursts = moved_demand(rates, class_end_bursts(work))
    old = _routed(compiled.demand, compiled.visits, compiled.services)
    new = _routed(demand, compiled.visits, compiled.services)
    # the ingest flows behind the routes come from telemetry: none when it is not driven
    feeds = 1.0 if "telemetry" in demand else 0.0
    services = {}
    for name, spec in compiled.services.items():
        extra = np.maximum(np.asarray(spec.arrivals, dtype=float) - old[name], 0.0) * feeds
        services[name] = replace(
            spec,
            servers=_squeeze(spec.servers, compiled, work),
            instances=_squeeze(spec.instances, compiled, work),
            up=_squeeze(spec.up, compiled, work),
            arrivals=new[name] + _squeeze(extra, compiled, work) * factor,
        )
    scaled = {
        key: _squeeze(getattr(compiled, key), compiled, work) * factor
        * (feeds if key.startswith("telemetry") else 1.0)
        for key in ("bytes_per_s", "telemetry_records_per_s", "telemetry_bytes_per_s",
                    "telemetry_samples_per_s", "riders")
    }  # fmt: skip
    live = _live_shares(compiled, work)
    misses = recommendation_misses(work.users, float(np.sum(rates.get("recommend", 0.0))))
    return replace(
        compiled, t=np.arange(seconds, dtype=float), tick_s=1.0, services=services,
        demand=demand, active_riders=np.asarray(work.riders, dtype=float),
        # a type the target's profile does not drive is neither sent nor predicted; only the
        # app opens that miss the recommender's cache reach its scoring
        visits={k: [(h, s * misses if h == SCORING else s) for h, s in v]
                for k, v in compiled.visits.items() if k in demand},
        **live,
        riders_by_rendition=np.stack([_squeeze(r, compiled, work) * factor
                                      for r in compiled.riders_by_rendition]),
        # the drill's offered load is per drill second: the exact engine runs it as request
        # streams, not as the scenario's riders (whose sessions are on the scenario's clock)
        incidents=(), session_flows=None, bursts=bursts,
        awake=awake_shares(live, work.rates, fresh_app_opens(work.users)),
        timers=frozenset({TIMER, WAKEUP}) & set(compiled.services),
        **scaled,
    )  # fmt: skip


def _live_shares(compiled: Any, work: DrillWorkload) -> dict[str, np.ndarray]:
    """Per drill second, the share of segment and playlist requests from live sessions.

    A live player reloads its playlist and fetches a segment every segment length on the
    wall clock, which a drill does not speed up, while on-demand sessions start (each loading
    its playlist) `--speedup` times as often: so the scenario's shares do not hold in a drill
    (the IoT check at 240x: 94 % of its playlists live by the scenario's share, 40 % in the
    drill). They follow from the drill's own live riders and rates."""
    live = np.asarray(work.riders * work.active_live_share, dtype=float)
    per_s = live / float(compiled.journey.segment_s)
    out = {}
    for key, rtype in (("live_segment_share", "segment"), ("live_playlist_share", "playlist")):
        rate = np.asarray(work.rates.get(rtype, np.zeros_like(per_s)), dtype=float)
        out[key] = np.minimum(np.divide(per_s, rate, out=np.zeros_like(per_s), where=rate > 0),
                              1.0)  # fmt: skip
    return out


def awake_shares(live: dict[str, np.ndarray], rates: dict[str, np.ndarray],
                 fresh: np.ndarray | None = None) -> dict[str, float]:  # fmt: skip
    """The share of each request type's requests the drill's journey sends right behind a
    response to the same rider (`locustfiles/drill_journey.py`), which find the processes
    awake: `join` follows `recommend`, `feedback` its `workout`, a live segment the reload
    that listed it, an on-demand session's playlist its master playlist at the session's
    start (the other playlists are a live player's timed reloads), and `recommend` (an app
    opening) the rider's last session's `workout` or `feedback`, but for the `fresh` app
    opens (`fresh_app_opens`: a new user's first session, after its spawn's stagger). The
    rest are sent when a timer fires. `live` is `_live_shares`, `rates` the drill's
    requests/s per type."""
    shares = {"join": 1.0, "feedback": 1.0,
              "playlist": _weighted(1.0 - live["live_playlist_share"], rates.get("playlist")),
              "segment": _weighted(live["live_segment_share"], rates.get("segment"))}  # fmt: skip
    opens = float(np.sum(rates.get("recommend", 0.0)))
    if fresh is not None and opens > 0:
        shares["recommend"] = float(np.clip(1.0 - float(np.sum(fresh)) / opens, 0.0, 1.0))
    return {k: v for k, v in shares.items() if k in rates}


def fresh_app_opens(users: np.ndarray) -> np.ndarray:
    """Per drill second, the app opens of new users: the journey's users spawned after the
    first `IN_PROGRESS_S` (those before start mid-session, with no app open) that find no
    parked rider to resume (one whose user stopped within `PARK_S`). A new user's app open
    follows its spawn's stagger, not a response: the loops it reaches may be asleep. Every
    other app open follows the rider's last session's end at once.

    Measured on two drills' request logs (`--request-log`): 24 and 23 recommends were a
    rider's first request, against 21 and 23 here (IoT overload at 240x, daily peak 1e-3)."""
    u = np.asarray(users, dtype=int)
    out = np.zeros(len(u))
    parked: list[int] = []  # the second each parked rider's user stopped
    for t in range(1, len(u)):
        parked = [p for p in parked if t - p <= PARK_S]
        change = int(u[t] - u[t - 1])
        if change < 0:
            parked += [t] * -change
        elif change > 0:
            resumed = min(change, len(parked))
            parked = parked[resumed:]
            if t >= IN_PROGRESS_S:
                out[t] = change - resumed
    return out


def recommendation_misses(users: np.ndarray, opens: float) -> float:
    """The share of the drill's `opens` app opens whose recommendations miss the target's
    cache: each rider's first. `twin serve` caches a rider's answers for an hour and starts
    empty, and a drill is minutes long, so the misses are its riders' first app opens: the
    new users' (`fresh_app_opens`) and those of the riders in progress at the start (spawned
    within `IN_PROGRESS_S`), who open the app when their session ends.

    On the stored drills' metrics (`recommendation_cache_total`): 0.13 against 0.13-0.14
    measured on the IoT checks (240x), 0.57-0.64 against 0.55-0.63 on the 60x drills."""
    u = np.asarray(users, dtype=float)
    if opens <= 0 or u.size == 0:
        return 1.0
    in_progress = float(np.max(u[: max(1, math.ceil(IN_PROGRESS_S))]))
    return float(np.clip((float(np.sum(fresh_app_opens(u))) + in_progress) / opens, 0.0, 1.0))


def _weighted(share: np.ndarray, rate: Any) -> float:
    """A per-second share averaged over the drill by that second's requests."""
    rate = np.asarray(rate if rate is not None else np.ones_like(share), dtype=float)
    total = float(rate.sum())
    return float((share * rate).sum() / total) if total > 0 else float(np.mean(share))


def ridden(work: DrillWorkload, measured: Any, segment_s: float = 4.0) -> DrillWorkload:
    """The drill's workload with its live riders as the drill rode them: the plan's, times
    the live playlist reloads the drill made over those the plan's live riders make.

    A drill's Locust users start their next session when their last ends, not when the
    scenario's riders start theirs: a live class's joiners come in a burst as it opens, which
    a sped-up drill's users mostly miss (their coin is the scenario's share of live starts).
    The IoT check at 240x rode 0.9 live riders of the plan's 3.9 (every playlist beyond the
    master playlists is a live player's reload, one per `segment_s`). Holding a user's live
    riding to the plan instead (it joined classes late, for a few seconds) opened the app
    1.7x as often as planned, and the target's rate limit answered 429. So the drill rides
    what it rides and the prediction takes the live share it rode, as it takes its machine's
    speed: the platform is what is predicted. `measured` is the drill's summary; the live
    starts are its `drill.sessions.live` (else the plan's share of its app opens). Unchanged
    without the counts or live riders."""
    requests = (measured or {}).get("requests") or {}
    runs = max(1, int((measured or {}).get("replications") or 1))
    playlists, masters = (float((requests.get(t) or {}).get("count") or 0) for t in
                          ("playlist", "master"))  # fmt: skip
    planned = float(np.sum(work.riders * work.active_live_share)) / segment_s
    if not playlists or not masters or planned <= 0:
        return work
    sessions = ((measured.get("drill") or {}).get("sessions") or {})
    starts = (float(sessions["live"]) if "live" in sessions else
              float(np.sum(work.rates.get("recommend", 0.0) * work.live_start_share)) * runs)
    reloads = max(0.0, playlists - masters + starts) / runs
    share = np.minimum(work.active_live_share * (reloads / planned), 1.0)
    return replace(work, active_live_share=share)


def _squeeze(series: Any, compiled: Any, work: DrillWorkload) -> np.ndarray:
    return compress(np.asarray(series, dtype=float), compiled.tick_s, work.speedup,
                    work.duration_s)  # fmt: skip


def drill_volume(measured: Any) -> tuple[float, float]:
    """(requests, MB) a drill's summary says it moved."""
    blocks = measured.get("requests", {}).values()
    return (float((measured.get("drill") or {}).get("requests_total") or 0),
            sum(float(b.get("bytes") or 0) for b in blocks) / 1e6)  # fmt: skip


def drill_seconds(measured: Any) -> float:
    """Seconds of load a drill's summary pools: its length times its repeats."""
    length = float((measured.get("drill") or {}).get("duration_s") or 0.0)
    return length * max(1, int(measured.get("replications") or 1))


def cpu_index(measured: Any, load_cpu: Any, key: str = "load_cpu_s") -> float | None:
    """How slow the drilled machine's processor ran against the calibration's: the load
    generator's CPU seconds in this drill over what the calibration drills spent for as many
    requests, MB and seconds (`architecture.load_cpu`). 0.8 is a processor 25 % faster. None
    when either is missing. Each load process has its own per-second background work.

    Service times scale with the processor that serves them (capacity planning scales a
    service demand by the ratio of processor speeds); this measures that ratio on the spot,
    from CPU time, not from the latencies being predicted. It does not see a processor the
    process waits for (`twin.drill.starvation`). With `key="target_cpu_s"` and the file's
    `target_cpu`, the same for the target (one process).
    """
    if load_cpu is None or not measured or getattr(load_cpu, "per_request_s", None) is None:
        return None
    cpu = (measured.get("drill") or {}).get(key)
    requests, mb = drill_volume(measured)
    seconds = drill_seconds(measured)
    expected = load_cpu.per_request_s * requests + load_cpu.per_mb_s * mb
    # each Locust process has its own background work (statistics, timers)
    processes = (max(1, int((measured.get("drill") or {}).get("load_processes") or 1))
                 if key == "load_cpu_s" else 1)
    expected += load_cpu.per_s * seconds * processes
    if not cpu or expected <= 0:
        return None
    return float(cpu) / expected


def speed_parts(measured: Any, load_cpu: Any, target_cpu: Any = None) -> dict[str, float | None]:
    """The speed index and its two factors: `cpu_index` (CPU time per unit of work against
    the calibration's) and `stall_factor` (`(1 + r) / (1 + r_cal)`, the wait for a CPU per
    CPU second against the calibration's, `twin.drill.starvation`), with `wait_per_cpu` (`r`)
    and the file's `r_cal`. `speed_index` is their product, a factor unknown counting 1
    (None when neither is known). With the file's `target_cpu`, the target's own:
    `target_cpu_index` and `target_speed_index` (its CPU index times the same stall factor),
    None when the drill or the file lacks the target's CPU."""
    cpu = cpu_index(measured, load_cpu)
    ratio = wait_ratio((measured or {}).get("drill") or {})
    reference = getattr(load_cpu, "wait_per_cpu", None)
    stall = stall_factor(ratio, reference)
    speed = None if cpu is None and stall is None else (cpu or 1.0) * (stall or 1.0)
    target = cpu_index(measured, target_cpu, "target_cpu_s")
    return {"speed_index": speed, "cpu_index": cpu, "stall_factor": stall,
            "wait_per_cpu": ratio, "calibration_wait_per_cpu": reference,
            "target_cpu_index": target,
            "target_speed_index": None if target is None else target * (stall or 1.0)}  # fmt: skip


def target_speed(parts: Any, target_cpu: Any) -> tuple[float, frozenset[str]] | None:
    """(the target's speed index, the components it scales) for `scaled_services`, or None
    when it is unknown (every service time then scales by the speed index)."""
    k = (parts or {}).get("target_speed_index")
    return None if k is None or target_cpu is None else (float(k), frozenset(target_cpu.components))


def speed_index(measured: Any, load_cpu: Any) -> float | None:
    """How much longer the drilled machine makes every service time than the calibration's:
    the CPU index times the stall factor (`speed_parts`). Shared machines drift by 20 % within
    an hour; without it a calibrated file is only right on the hour it was made."""
    return speed_parts(measured, load_cpu)["speed_index"]


def _scaled(service: Any, k: float) -> Any:

    if service is None or k == 1.0:
        return service
    if service.dist == "empirical":
        return ServiceTime(dist="empirical", values=[v * k for v in service.values])
    return service.model_copy(update={"mean_s": service.mean * k})


def scaled_services(
    platform: Any, k: float, target: tuple[float, frozenset[str]] | None = None
) -> Any:
    """The platform with every station's service times `k` times as long; with `target`
    (`target_speed`), the target's components' by its own index instead."""
    if k == 1.0 and (target is None or target[0] == 1.0):
        return platform
    services = {}
    for name, spec in platform.services.items():
        f = target[0] if target is not None and name in target[1] else k
        services[name] = spec if f == 1.0 else replace(
            spec, service=_scaled(spec.service, f), own_service=_scaled(spec.own_service, f),
            service_by_request={t: _scaled(v, f) for t, v in spec.service_by_request.items()})
    return replace(platform, services=services)


def prediction_platform(
    scenario: Any, architecture: Any, work: DrillWorkload, speed: float | None = None,
    target: tuple[float, frozenset[str]] | None = None,
) -> Any:  # fmt: skip
    """The drill's workload on `architecture`, service times scaled by `speed` (when known;
    the target's components by `target`'s, `target_speed`): what `predict` runs, and
    `twin.drill.predict_timeline` over time."""
    platform = drill_platform(compile_target(scenario, architecture), work)
    return scaled_services(platform, speed or 1.0, target)


def predict(
    scenario: Any, architecture: Any, work: DrillWorkload, *, seed: int | None = None,
    replications: int = 1, speed: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    """`predicted.json`: the exact engine's summary for the drill's workload on `architecture`,
    its service times scaled by the drilled machine's `speed` (`speed_index`) when known."""
    return predict_latency(scenario, architecture, work, seed=seed, replications=replications,
                           speed=speed)[0]  # fmt: skip


def predict_latency(
    scenario: Any, architecture: Any, work: DrillWorkload, *, seed: int | None = None,
    replications: int = 1, speed: float | None = None,
    target: tuple[float, frozenset[str]] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:  # fmt: skip
    """`predict`'s summary and each request type's predicted latency histogram (the exact
    engine's, on `twin.sim.sketch`'s bins: what the drift checks test against)."""

    platform = prediction_platform(scenario, architecture, work, speed, target)
    result = simulate(
        platform, engine="exact", name=scenario.name,
        seed=scenario.seed if seed is None else seed, replications=replications,
    )  # fmt: skip
    summary = dict(result.summary)
    summary.update(
        # the scenario time the drill stands for, as the measured summary counts it
        simulated_seconds=round(work.duration_s * work.speedup, 3),
        scenario=scenario.name,
        architecture=architecture.name,
        riders=round(float(scenario.population.riders) * work.scale, 3),
        prediction={
            "of": "drill",
            "engine": "exact",
            "why": "at drill scale every request can be simulated; the exact engine is the oracle",
            "scale": work.scale,
            "speedup": work.speedup,
            "duration_s": work.duration_s,
            "engine_seconds": summary.get("simulated_seconds"),
            "requested_per_s": {k: round(float(v.mean()), 4) for k, v in work.rates.items()},
            "speed_index": None if speed is None else round(speed, 4),
        },
    )
    return summary, dict(result.latency_hist)
