"""The blocks only a drill writes: `drill` (how the load was made and how well it followed its
plan) and, in the `predicted.json` beside it, `prediction` (how the twin predicted it).
Drill seconds are wall-clock seconds of the compressed drill; times in ms, rates per second.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from twin.results.base import Block, Number, Omittable, keys

__all__ = ["Drill", "DrillRun", "DrillSessions", "FaultApplied", "LocustStats", "Prediction",
           "RouteFault", "Tracking", "TrackingWindow"]  # fmt: skip


class TrackingWindow(Block):
    """One window of the drill: achieved against requested riders and request rate."""

    t_s: int = Field(description="Window start (drill s).")
    riders_requested: Number = Field(description="Mean riders the plan asked for.")
    riders_achieved: Number | None = Field(
        description="Mean riders (Locust users) achieved; null when Locust reported none."
    )
    rate_requested: Number = Field(description="Requests per second the plan asked for.")
    rate_achieved: Number = Field(description="Requests per second sent.")
    riders_error: Number | None = Field(description="|achieved - requested| / requested.")
    rate_error: Number | None = Field(description="|achieved - requested| / requested.")
    rate_noise: Number | None = Field(
        None, description="The rate's counting noise, 1/sqrt(requests expected in the window)."
    )


class Tracking(Block):
    """How closely the drill followed its plan, window by window."""

    window_s: int = Field(description="Window width (drill s).")
    target: Number = Field(description="Tracking error aimed at in every window (0.05: 5 %).")
    windows: list[TrackingWindow] = Field(description="Each window, in time order.")
    riders_error_max: Number | None = Field(description="Worst window's riders error.")
    riders_error_mean: Number | None = Field(description="Mean riders error.")
    rate_error_max: Number | None = Field(description="Worst window's rate error.")
    rate_error_mean: Number | None = Field(description="Mean rate error.")
    met: bool = Field(description="Whether both worst errors are within `target`.")


class LocustStats(Block):
    """Locust's own final statistics for one request name (its `_stats.csv`)."""

    count: int = Field(description="Requests.")
    failures: int = Field(description="Failed requests.")
    mean_ms: Number | None = Field(description="Mean response time (ms).")
    p50_ms: Number | None = Field(description="Median response time (ms).")
    p95_ms: Number | None = Field(description="95th percentile (ms).")
    p99_ms: Number | None = Field(description="99th percentile (ms).")
    max_ms: Number | None = Field(description="Largest response time (ms).")
    requests_per_s: Number | None = Field(description="Requests per second.")


class RouteFault(Block):
    """A fault on one route of the target (its admin API's document)."""

    latency_s: Omittable[Number] = Field(None, description="Latency added (s).")
    error_ratio: Omittable[Number] = Field(None, description="Share of requests failed (0-1).")


class FaultApplied(Block):
    """A change of the faults an incident replay sent to the target's admin API."""

    t_s: Number = Field(description="When it was planned (drill s).")
    at: Omittable[Number] = Field(None, description="When it was applied (drill s).")
    error: Omittable[str] = Field(None, description="Why the target refused it.")
    paused_consumers: Omittable[int] = Field(None, description="Stream consumers paused.")
    origin_down: Omittable[bool] = Field(None, description="Whether the video origin is down.")
    origin_egress_bps: Number | None = Field(
        None, description="Origin egress cap (bits per second); null: no cap."
    )
    routes: Omittable[dict[str, RouteFault | None]] = Field(
        None,
        description="Faults by route; a route set to null is cleared.",
        json_schema_extra=keys("route"),
    )


class DrillRun(Block):
    """One run of a repeated drill (`--repeat`), in its own folder."""

    folder: str = Field(description="The run's folder.")
    t0: Number = Field(description="When its load started (epoch s).")
    locust_wall_s: Number = Field(description="Wall time Locust ran (s).")
    requests_total: int = Field(description="Requests sent.")
    errors_total: int = Field(description="Requests failed.")
    load_cpu_s: Number | None = Field(description="CPU time of the load processes (s).")
    target_cpu_s: Number | None = Field(description="CPU time of the target (s), if it exports it.")
    target_counters: dict[str, Number] | None = Field(
        None,
        description="How much the target's counters that explain a type's latency grew over "
        "the run (`recommendation_cache_hit`, `recommendation_cache_miss`); null if it "
        "exports none.",
    )
    load_wait_s: Number | None = Field(
        None, description="Time the load processes waited, runnable, for a CPU (s)."
    )
    target_wait_s: Number | None = Field(
        None, description="Time the target waited, runnable, for a CPU (s); local target only."
    )
    cpu_pressure_s: Number | None = Field(
        None, description="Time some task on the machine waited for a CPU (PSI, s)."
    )
    tracking: Tracking = Field(description="How closely this run followed the plan.")
    locust: dict[str, LocustStats] = Field(
        description="Locust's statistics by request name (and `Aggregated`).",
        json_schema_extra=keys("name"),
    )


class DrillSessions(Block):
    """The sessions the drill's riders rode, by kind, all runs."""

    started: int = Field(description="Sessions started (resumed ones not included).")
    live: int = Field(description="Of which live: a class of the target's, joined.")
    on_demand: int = Field(description="Of which on demand.")
    live_unjoinable: int = Field(
        description="On-demand sessions that were to be live but found no live class of the "
        "target's running: the target's schedule, not the plan, made them on demand."
    )
    resumed: int = Field(
        description="Sessions a new Locust user took over from a stopped one (its app not "
        "opened again)."
    )


class LoadShare(Block):
    """One load-generating process's share of a drill (a local Locust process or a remote
    `twin drill-worker`)."""

    process: str = Field(
        description="Its records file: `rec-<pid>`, or `rec-worker-<Locust client id>`."
    )
    run: int = Field(description="The run it belongs to (1 unless `repeat` > 1).")
    requests: int = Field(description="Requests it recorded.")
    errors: int = Field(description="Of which failed.")
    cpu_s: Number | None = Field(description="Its CPU time under load (s); null if unknown.")
    wait_s: Number | None = Field(
        description="Its time runnable but waiting for a CPU under load (s); null if unknown."
    )


class Drill(Block):
    """How the drill made its load, and how well it followed the plan."""

    target: str = Field(description="`local` (a `twin serve` it started) or `host`.")
    host: str = Field(description="The URL drilled.")
    scale: Number = Field(description="Drill riders per scenario rider.")
    speedup: Number = Field(description="Scenario seconds per drill second.")
    duration_s: int = Field(description="Length of one run (drill s).")
    workers: int = Field(description="Locust worker processes.")
    repeat: Omittable[int] = Field(None, description="Runs pooled into this summary.")
    t0: Number = Field(description="When the load started (epoch s).")
    locust_wall_s: Number = Field(description="Wall time Locust ran, first run (s).")
    tracking: Tracking = Field(description="The tracking of the run that followed the plan least.")
    locust: dict[str, LocustStats] = Field(
        description="Locust's statistics by request name (and `Aggregated`), first run.",
        json_schema_extra=keys("name"),
    )
    faults_applied: list[FaultApplied] = Field(
        description="Incident replay: each change of faults sent to the target, in order."
    )
    load_cpu_s: Number | None = Field(
        description="CPU time of the load processes under load, all runs (s)."
    )
    target_cpu_s: Number | None = Field(
        description="CPU time of the target under load, all runs (s); null if not exported."
    )
    target_counters: dict[str, Number] | None = Field(
        None,
        description="How much the target's counters that explain a type's latency grew over "
        "the drill, all runs: its recommendation cache's hits and misses "
        "(`recommendation_cache_hit`, `recommendation_cache_miss`; `twin serve` exports "
        "them); null if it exports none.",
    )
    load_wait_s: Number | None = Field(
        None,
        description="Time the load processes waited, runnable, for a CPU under load, all runs "
        "(s, `/proc/<pid>/schedstat`); null where /proc lacks it.",
    )
    target_wait_s: Number | None = Field(
        None,
        description="Time the target process waited, runnable, for a CPU under load, all runs "
        "(s); null unless the drill started it (`--target local`).",
    )
    cpu_pressure_s: Number | None = Field(
        None,
        description="Time at least one task on the machine waited for a CPU while Locust ran, "
        "all runs (s, PSI `some` of /proc/pressure/cpu); null without PSI.",
    )
    sessions: Omittable[DrillSessions] = Field(
        None, description="The sessions ridden, live and on demand (none from older drills)."
    )
    load_shares: Omittable[list[LoadShare]] = Field(
        None, description="Each load process's requests, errors, CPU and wait, all runs."
    )
    scenario_architecture: str = Field(description="The architecture the scenario names.")
    scenario_file: str = Field(description="The scenario file drilled.")
    profile: Omittable[str] = Field(None, description="The target profile's name (`--profile`).")
    not_driven: Omittable[list[str]] = Field(
        None,
        description="Request types the profile does not drive: not planned, not predicted.",
    )
    runs: Omittable[list[DrillRun]] = Field(None, description="Each run, when `repeat` > 1.")
    variant: Omittable[Literal["control", "treatment"]] = Field(
        None, description="An A/B drill's variant (`--ab`): only the riders hashed into it."
    )
    split: Omittable[int] = Field(
        None, description="An A/B drill's per cent of riders in the control (`--split`)."
    )
    requests_total: int = Field(description="Requests sent, all runs.")
    errors_total: int = Field(description="Requests failed, all runs.")
    error_ratio: Number | None = Field(description="`errors_total / requests_total`.")
    load_processes: int = Field(description="Load processes that recorded, all runs.")
    requested_riders_mean: Number = Field(description="Mean riders the plan asked for.")


class Prediction(Block):
    """`predicted.json`: how the twin predicted a drill (the exact engine at drill scale)."""

    of: Literal["drill"] = Field(description="What was predicted.")
    engine: str = Field(description="The engine that predicted it.")
    why: str = Field(description="Why that engine, in words.")
    scale: Number = Field(description="Drill riders per scenario rider.")
    speedup: Number = Field(description="Scenario seconds per drill second.")
    duration_s: int = Field(description="Length of the drill (drill s).")
    engine_seconds: Number | None = Field(description="Seconds the engine simulated.")
    requested_per_s: dict[str, Number] = Field(
        description="Requests per drill second the workload asked for, by type.",
        json_schema_extra=keys("type"),
    )
    speed_index: Number | None = Field(
        description="The drilled machine's speed against the calibration's; null if unknown."
    )
    cpu_index: Number | None = Field(
        None, description="Its factor from CPU time per unit of work; null if unknown."
    )
    stall_factor: Number | None = Field(
        None, description="Its factor from the wait for a CPU, (1 + r) / (1 + r_cal)."
    )
    wait_per_cpu: Number | None = Field(
        None, description="r: seconds the drill's processes waited for a CPU per CPU second."
    )
    calibration_wait_per_cpu: Number | None = Field(
        None, description="r_cal: the same in the calibration drills (`load_cpu.wait_per_cpu`)."
    )
    target_cpu_index: Number | None = Field(
        None, description="The target's CPU time per unit of work against the calibration's "
        "(`target_cpu`); null if unknown."
    )
    target_speed_index: Number | None = Field(
        None, description="The target's own speed (its CPU index times the stall factor), by "
        "which its components' service times scale; null: they scale by `speed_index`."
    )
