"""`run_drill`: plan the scaled, compressed workload, drive the target with Locust, measure.

The order of a drill: load the target's profile (`twin.drill.profile`; the reference
platform's by default) and the scenario, and compile the workload of the request types the
profile drives; start `twin serve` (for
`--target local`) or check the host; build the rider pool with tokens for the target's
secret; write the plan; replay the scenario's incidents on the admin API while Locust runs;
let the stream drain; merge the measurements and write `summary.json`; run the twin on the
same scaled, compressed workload on the architecture modelling the target (`predicted.json`,
`twin.drill.predict`) and write `report.html` with both side by side (`twin.report.drill_page`).
The local platform and every Locust process are stopped however the drill ends (an error,
Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from twin.config.architecture import REQUEST_TYPES
from twin.config.loader import load
from twin.config.platform import PlatformScenario
from twin.drill.ab import meet, variant_pool
from twin.drill.ab_run import run_ab
from twin.drill.drift import (
    drift_block,
    read_baseline,
    stored_telemetry,
    telemetry_drift,
)
from twin.drill.incidents import IncidentReplay
from twin.drill.lag import (
    METRICS_NAME,
    LagScrape,
    counters_since,
    lag_figures,
    lag_since,
    parse_metrics,
    process_cpu_s,
    target_counters,
)
from twin.drill.loadgen import LocustRun, run_locust, sigterm_as_interrupt
from twin.drill.measure import (
    achieved_users,
    locust_stats,
    merge_records,
    pool_measured,
    sampled_users,
)
from twin.drill.plan import DrillWorkload, drill_duration, drill_workload, od_lengths, plan_document
from twin.drill.profile import TargetProfile, apply_auth, load_profile
from twin.drill.request_log import LOG_NAME, REQUEST_LOG_GLOB, merge_request_logs
from twin.drill.rider_pool import rider_pool
from twin.drill.run_report import LOCAL_ARCHITECTURE, drill_faults, predict_and_report
from twin.drill.schedstat import cpu_pressure_s, run_delay_s
from twin.drill.summary import drill_summary
from twin.drill.target import LocalPlatform, Target, hls_problem
from twin.drill.timeline import LagPoint, timeline
from twin.drill.tracking import SERIES_COLUMNS, SERIES_FILE, tracking, window_s, write_series
from twin.drill.wire import RECORD_GLOB
from twin.errors import InputError, TargetError
from twin.platform.scenario_riders import scenario_catalog
from twin.platform.telemetry import TELEMETRY_LAWS
from twin.results.files import write_summary, write_timeseries
from twin.results.slo import Slo
from twin.runs.compile import build_platform
from twin.serve.tokens import check_secret, sign

__all__ = ["DrillOptions", "compile_drill", "run_drill"]

_DRAIN_S = 20.0


@dataclass(frozen=True)
class DrillOptions:
    """What `twin drill` was asked for."""

    scenario: Path
    out: Path
    target: str | None = None
    host: str | None = None
    scale: float = 1e-4
    speedup: float = 60.0
    duration: float | None = None
    workers: int = 1
    architecture: str | None = None
    replay_incidents: bool = True
    repeat: int = 1  # drills of the same workload, pooled (each on a fresh local platform)
    ca_cert: Path | None = None  # PEM CA bundle the https:// --host's certificate is checked with
    profile: str | None = None  # the target's profile: a file or a shipped name (None: reference)
    master: bool = False  # Locust's master alone, for `expect_workers` remote workers
    expect_workers: int = 1
    master_bind_host: str = "*"
    master_bind_port: int = 5557
    # an earlier drill's folder: the drift checks' reference instead of the prediction
    drift_baseline: Path | None = None
    ab: str | None = None  # the treatment: `twin serve` options (local) or a URL (`--ab`)
    split: int = 50  # per cent of riders in the control (`--split`)
    variant: str | None = None  # this drill is one variant of an A/B drill: its riders only
    serve_args: tuple[str, ...] = ()  # more `twin serve` options of the local platform
    ab_sync: Path | None = None  # an A/B drill's meeting folder: both variants start together
    request_log: bool = False  # also write requests.csv: every request, one row each

    def check(self) -> None:
        if (self.target is None) == (self.host is None):
            raise InputError("twin drill", None, "give exactly one of --target local, --host URL")
        if self.target is not None and self.target != "local":
            raise InputError("--target", None, f"only 'local' is known, got {self.target!r}")
        if self.host is not None and not self.host.startswith(("http://", "https://")):
            raise InputError("--host", None, f"must be an http:// or https:// URL: {self.host!r}")
        if self.workers < 1:
            raise InputError("--workers", None, f"must be >= 1, got {self.workers}")
        if self.repeat < 1:
            raise InputError("--repeat", None, f"must be >= 1, got {self.repeat}")
        if self.ca_cert is not None:
            if not (self.host or "").startswith("https://"):
                raise InputError("--ca-cert", None, "only with an https:// --host")
            if not self.ca_cert.is_file():
                raise InputError("--ca-cert", None, f"no such file: {self.ca_cert}")
        if self.request_log and self.master:
            raise InputError("--request-log", None,
                             "not with --master: remote workers keep no log on this machine")
        if self.expect_workers < 1:
            raise InputError("--expect-workers", None, f"must be >= 1, got {self.expect_workers}")
        if self.master and self.workers != 1:
            raise InputError(
                "--master", None, "takes remote workers (--expect-workers), not --workers"
            )
        if not 1 <= self.split <= 99:
            raise InputError("--split", None, f"must be a whole per cent in 1-99, got {self.split}")
        if self.drift_baseline is not None and not Path(self.drift_baseline).is_dir():
            raise InputError("--drift-baseline", None, f"no such folder: {self.drift_baseline}")


def compile_drill(
    options: DrillOptions, profile: TargetProfile | None = None
) -> tuple[Any, Any, Any, DrillWorkload]:
    """(scenario, architecture, compiled platform, drill workload) for the options; the
    workload holds only the request types `profile` drives (all without one)."""

    loaded = load(options.scenario)
    scenario, architecture = loaded.scenario, loaded.architecture
    if not isinstance(scenario, PlatformScenario) or architecture is None:
        raise InputError(str(options.scenario), "kind", "a drill needs a platform scenario")
    # Compiled at the scenario's own scale: capacities (shards, egress) are absolute, so the
    # shortfalls an incident replay maps onto the target exist only at full demand.
    build = build_platform(scenario, architecture)
    seconds = drill_duration(scenario.duration_s, options.speedup, options.duration)
    work = drill_workload(
        build.compiled, build.sessions, scale=options.scale, speedup=options.speedup,
        seconds=seconds,
    )  # fmt: skip
    if profile is not None:
        left_out = set(profile.not_driven(list(work.rates)))
        work = replace(work, rates={k: v for k, v in work.rates.items() if k not in left_out})
    return scenario, architecture, build.compiled, work


class _LagWatch:
    """Scrapes the target's lag metrics once a second in a thread while the drill runs."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.scrapes: list[LagScrape] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def scrape(self) -> LagScrape | None:
        text = self.target.metrics()
        found = parse_metrics(text) if text else None
        if found is not None:
            found.at = time.time()
            self.scrapes.append(found)
        return found

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self.scrape()

    def __enter__(self) -> _LagWatch:
        self.first = self.scrape()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def drain(self, timeout_s: float = _DRAIN_S) -> LagScrape | None:
        """Wait (up to `timeout_s`) until the stream's backlog is empty; the last scrape."""
        deadline, last = time.monotonic() + timeout_s, self.scrape()
        while last is not None and last.backlog_total > 0 and time.monotonic() < deadline:
            time.sleep(0.5)
            last = self.scrape()
        return last

    def series(self, t0: float) -> list[LagPoint]:
        """Per scrape: (drill second, p99 lag of the samples that reached the leaderboard since
        the scrape before, the stream's backlog): the timeline's. NaN lag: none did."""
        return [(now.at - t0, lag_since(before, now, 0.99), now.backlog_total)
                for before, now in itertools.pairwise(self.scrapes)]  # fmt: skip

    def figures(self) -> dict[str, float] | None:
        if not self.scrapes:
            return None
        return lag_figures(self.first, self.scrapes[-1], self.scrapes)


def _secret(local: LocalPlatform | None, profile: TargetProfile) -> str:
    if local is not None:
        return local.secret
    if profile.auth.kind != "signed":  # the pool's own tokens are then replaced (apply_auth)
        return secrets.token_urlsafe(32)

    try:  # a drill of another host signs with that host's secret: it must be given
        return check_secret(os.environ.get("TWIN_SECRET", ""))
    except ValueError as exc:
        raise InputError(
            "TWIN_SECRET", None, f"{exc}: set it to the secret the --host signs tokens with"
        ) from None


def run_drill(
    options: DrillOptions, say: Callable[[str], None] = lambda _line: None
) -> dict[str, Any]:
    """Run the whole drill (`options.repeat` times) and write its files into `options.out`;
    the summary. Repeats go to `run-1`, `run-2`... and are pooled (`pool_measured`). With
    `options.ab`, an A/B drill (`twin.drill.ab_run`): the A/B comparison."""
    options.check()
    if options.ab is not None:
        return run_ab(options, run_drill, say)
    started = time.time()
    profile = load_profile(options.profile)
    if options.host is not None:
        # unreachable, or a certificate that does not check: one line, before any work
        Target(options.host, ca_cert=options.ca_cert).call("GET", "/healthz")
        _secret(None, profile[0])  # no secret for the host's tokens: one line, before any work
    scenario, architecture, compiled, work = compile_drill(options, profile[0])
    baseline = None if options.drift_baseline is None else read_baseline(options.drift_baseline)
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    pool_size = max(20, math.ceil(float(work.users.max()) * 1.5) + 5)
    results = []
    for k in range(options.repeat):
        folder = out if options.repeat == 1 else out / f"run-{k + 1}"
        which = f" (run {k + 1} of {options.repeat})" if options.repeat > 1 else ""
        results.append(_run_once(options, scenario, compiled, work, folder, pool_size,
                                 say, which, profile))  # fmt: skip
    return _finish(options, scenario, architecture, compiled, work, results, started, say,
                   profile[0], baseline)  # fmt: skip


def _run_once(
    options: DrillOptions, scenario: Any, compiled: Any, work: DrillWorkload, folder: Path,
    pool_size: int, say: Callable[[str], None], which: str,
    profile: tuple[TargetProfile, Path],
) -> dict[str, Any]:  # fmt: skip
    """One drill into `folder`: a fresh local platform (if any), Locust, the drain."""
    folder.mkdir(parents=True, exist_ok=True)
    local = (LocalPlatform(folder / "serve", riders=pool_size, serve_args=options.serve_args)
             if options.target else None)  # fmt: skip
    with sigterm_as_interrupt():
        try:
            url = local.start() if local is not None else str(options.host)
            say(f"target {url}; {work.duration_s} s at {options.speedup:g}x, "
                f"{float(work.riders.mean()):.1f} riders on average{which}")  # fmt: skip
            secret = _secret(local, profile[0])
            pid = local.process.pid if local is not None and local.process else None
            result = _drive(options, folder, scenario, compiled, work, url, secret, pool_size,
                            profile, pid)  # fmt: skip
        finally:
            if local is not None:
                local.stop()
    result["measured"] = merge_records(result["load_dir"])
    merge_request_logs(result["load_dir"], folder / LOG_NAME)
    return result


def _drive(
    options: DrillOptions, folder: Path, scenario: Any, compiled: Any, work: DrillWorkload,
    url: str, secret: str, pool_size: int, profile: tuple[TargetProfile, Path],
    server_pid: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Everything that needs the target up: pool, plan, Locust, incidents, drain. With the
    target's `server_pid` (a local platform), its wait for a CPU under load too."""

    target = Target(url, ca_cert=options.ca_cert)
    pool = variant_pool(
        lambda n: rider_pool(n, seed=scenario.seed, secret=secret, mix=scenario.population.mix,
                             device_share=work.device_share),
        pool_size, options.variant, options.split,
    )  # fmt: skip
    pool = apply_auth(profile[0], profile[1], pool)
    # Locust's start-up on a busy machine; remote workers must also connect and get the plan
    lead = 6.0 + options.workers + (15.0 + options.expect_workers if options.master else 0.0)
    t0, load_dir, plan_path = _write_plan(options, folder, scenario, compiled, work, target,
                                          profile, pool, lead)  # fmt: skip
    timeline = drill_faults(options, compiled, work)
    admin = sign("admin", "twin-drill", secret, 86_400.0)
    run = LocustRun(url, plan_path, load_dir, options.workers,
                    timeout_s=lead + work.duration_s + 120.0, ca_cert=options.ca_cert,
                    remote_workers=options.expect_workers if options.master else 0,
                    bind_host=options.master_bind_host,
                    bind_port=options.master_bind_port,
                    request_log=options.request_log)  # fmt: skip
    text0 = target.metrics()
    cpu0 = process_cpu_s(text0)
    waits0 = _waits(server_pid)
    with _LagWatch(target) as lag, IncidentReplay(target, admin, timeline, t0) as replay:
        wall = run_locust(run)
    waits = _since(waits0, _waits(server_pid))
    if timeline:
        _clear_quietly(target, admin)
    lag.drain()
    # the telemetry the target stored for this drill's devices (the reference API's only)
    reference = profile[0].name == "reference-platform" and "telemetry" in work.rates
    stored = stored_telemetry(target, pool, since=t0 - lead) if reference else {}
    text = target.metrics()  # the target's own view (per-route server latency), kept as is
    if text:
        (folder / METRICS_NAME).write_text(text, encoding="utf-8")
    cpu1 = process_cpu_s(text)
    target_cpu = None if cpu0 is None or cpu1 is None else round(cpu1 - cpu0, 3)
    counters = counters_since(target_counters(text0), target_counters(text))
    # the devices riding (Locust's users take the pool's riders in order): their shards
    riding = pool[: math.ceil(float(work.users.max()))]
    return {"url": url, "t0": t0, "wall": wall, "lag": lag.figures(), "load_dir": load_dir,
            "faults": replay.applied, "target_cpu_s": target_cpu, "target_counters": counters,
            "target_wait_s": waits[0], "cpu_pressure_s": waits[1],
            "lag_series": lag.series(t0), "telemetry": stored,
            "devices": [r["device_id"] for r in riding if r.get("device") != "app"]}  # fmt: skip


def _write_plan(
    options: DrillOptions, folder: Path, scenario: Any, compiled: Any, work: DrillWorkload,
    target: Target, profile: tuple[TargetProfile, Path], pool: Any, lead: float,
) -> tuple[float, Path, Path]:  # fmt: skip
    """The target's classes checked, the plan written: (its start t0, the records' folder,
    the plan's file). Records of an earlier drill in the folder are removed."""
    hours = max(1, math.ceil((work.duration_s + lead + 60) / 3600) + 1)
    live, on_demand = _classes(target, profile[0], pool[0], hours)
    _check_streams(target, profile, pool[0], live, on_demand)
    load_dir = folder / "load"
    for stale in [*load_dir.glob(RECORD_GLOB), *load_dir.glob(REQUEST_LOG_GLOB)]:
        stale.unlink()
    t0 = (time.time() if options.ab_sync is None else meet(options.ab_sync, options.variant)) + lead
    plan = plan_document(work, t0=t0, pool=pool, live=live, on_demand=on_demand,
                         out_dir=load_dir, seed=scenario.seed, segment_s=4.0,
                         od=od_lengths(scenario_catalog(scenario)),
                         profile=profile[0].to_wire(), tempo_s=compiled.journey.tempo_s,
                         music_share=scenario.demand.music_share)  # fmt: skip
    plan_path = folder / "plan.json"
    plan_path.write_text(json.dumps(plan.to_json()), encoding="utf-8")
    return t0, load_dir, plan_path


def _waits(pid: int | None) -> tuple[float | None, float | None]:
    """(the target process's run-queue wait so far, PSI's CPU `some` total), from `/proc`."""
    return (None if pid is None else run_delay_s(pid)), cpu_pressure_s()


def _since(before: tuple[Any, ...], after: tuple[Any, ...]) -> tuple[float | None, ...]:
    return tuple(None if a is None or b is None else round(a - b, 4)
                 for b, a in zip(before, after, strict=True))  # fmt: skip


def _classes(
    target: Target, profile: TargetProfile, rider: dict[str, Any], hours: int
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """The target's live classes (epoch start and end) and on-demand lengths: from the
    reference API, or as the profile lists them (live ones running through the drill)."""
    if profile.classes == "api":
        target.check(rider["rider_token"])
        return target.classes(rider["rider_token"], hours)
    now = time.time()
    live = [{"id": c, "start": now - 3600.0, "end": now + hours * 3600.0, "weight": 1.0}
            for c in profile.classes.live]  # fmt: skip
    return live, dict(profile.classes.on_demand)


def _check_streams(
    target: Target, profile: tuple[TargetProfile, Path], rider: dict[str, Any],
    live: list[dict[str, Any]], on_demand: dict[str, float],
) -> None:  # fmt: skip
    """Before any load: each master playlist template, filled in for one class, answers an
    HLS playlist (else one line naming the profile's field and the URL)."""
    streaming, source = profile[0].streaming, str(profile[1])
    if streaming is None:
        return
    wire = profile[0].to_wire()
    headers = dict(wire.headers)
    if wire.auth_header and rider.get("rider_token"):
        headers[wire.auth_header] = wire.auth_prefix + str(rider["rider_token"])
    checks = (
        ("live_master", streaming.live_master, live[0]["id"] if live else None),
        ("on_demand_master", streaming.on_demand_master, next(iter(on_demand), None)),
    )
    for field, template, class_id in checks:
        if template is None or class_id is None:
            continue
        values = {"rider": rider["rider_id"], "device": rider["device_id"], "class": class_id}
        problem = hls_problem(target, template.format_map(values), headers)
        if problem is not None:
            raise InputError(source, f"streaming.{field}", problem)


def _clear_quietly(target: Target, admin: str) -> None:
    with suppress(TargetError):
        target.clear_faults(admin)


def _finish(
    options: DrillOptions, scenario: Any, architecture: Any, compiled: Any,
    work: DrillWorkload, results: list[dict[str, Any]], started: float,
    say: Callable[[str], None], profile: TargetProfile, baseline: Any = None,
) -> dict[str, Any]:  # fmt: skip

    measured = pool_measured([r["measured"] for r in results])
    first = results[0]
    if measured.total == 0:
        raise TargetError(
            f"no request reached {first['url']} (see {first['load_dir']}/locust-0.log)"
        )
    figures = [_run_figures(work, r) for r in results]
    runs = [run for run, _series in figures]
    # the run that followed the plan least well speaks for the pooled drill
    worst, series = max(figures, key=lambda f: _worst_error(f[0]["tracking"]))
    tracked = worst["tracking"]
    meta = {
        "scenario": scenario.name,
        "architecture": options.architecture or (LOCAL_ARCHITECTURE if options.target else None),
        "riders": round(scenario.population.riders * work.scale, 3),
        "seed": scenario.seed,
        "wall_seconds": round(time.time() - started, 3),
    }
    drill = _drill_block(options, work, first, runs, measured, tracked, scenario, profile)
    if options.variant is not None:  # one variant of an A/B drill (`twin.drill.ab_run`)
        drill.update(variant=options.variant, split=options.split)
    if options.repeat > 1:
        drill["runs"] = runs
    summary = drill_summary(meta, work, measured, drill=drill, lag=_worst_lag(results),
                            slos=_slos(scenario, drill["not_driven"]),
                            audio=compiled.audio if "tempo" in work.rates else None)  # fmt: skip
    stored = {name: [v for r in results for v in r["telemetry"].get(name, [])]
              for name in TELEMETRY_LAWS}  # fmt: skip
    if any(stored.values()):  # the devices' samples as the target stored them, vs the laws
        summary["drift"] = drift_block(telemetry_drift(stored, TELEMETRY_LAWS), "population")
    write_summary(options.out / "summary.json", summary)
    say(f"measured {measured.total} requests, {measured.errors} errors; {_tracked(tracked)}")
    unjoinable = int(measured.experience.get("live_unjoinable", 0))
    if unjoinable:
        say(f"{unjoinable} sessions meant to be live rode on demand: the target ran no live "
            "class to join then (its schedule); live and on-demand sessions are in "
            "summary.json, drill.sessions")  # fmt: skip
    if measured.errors >= measured.total:
        messages = next((m.messages for m in measured.types.values() if m.messages), {})
        raise TargetError(
            f"every one of {measured.total} requests to {first['url']} failed "
            f"(e.g. {next(iter(messages), 'no answer')})"
        )
    frame = timeline([r["measured"] for r in results], [r["lag_series"] for r in results],
                     work.duration_s)  # fmt: skip
    write_timeseries(options.out / "timeseries.csv", frame)
    predict_and_report(options, scenario, compiled, work, summary, say, (frame, series),
                        (measured, baseline), first.get("devices") or [])  # fmt: skip
    return summary


def _drill_block(
    options: DrillOptions, work: DrillWorkload, first: dict[str, Any],
    runs: list[dict[str, Any]], measured: Any, tracked: dict[str, Any], scenario: Any,
    profile: TargetProfile,
) -> dict[str, Any]:  # fmt: skip
    """The summary's `drill` block: how the drill ran, what it cost the load processes and the
    target, and which of the model's request types it drove."""
    target_cpu = [r["target_cpu_s"] for r in runs]
    waited = {key: _summed([r[key] for r in runs]) for key in ("target_wait_s", "cpu_pressure_s")}
    drill = {
        "target": options.target or "host", "host": first["url"], "scale": work.scale,
        "speedup": work.speedup, "duration_s": work.duration_s,
        "workers": options.expect_workers if options.master else options.workers,
        "repeat": options.repeat, "t0": first["t0"], "locust_wall_s": runs[0]["locust_wall_s"],
        "tracking": tracked, "locust": runs[0]["locust"], "faults_applied": first["faults"],
        # CPU seconds under load (all runs): the load processes' (Locust) and the target's own
        # (`process_cpu_seconds_total`, when it exports it): what `twin calibrate` fits.
        "load_cpu_s": measured.cpu_s,
        "target_cpu_s": None if None in target_cpu else round(sum(target_cpu), 3),
        # the target's counters that explain a type's latency (its recommendation cache)
        "target_counters": _summed_counters([r.get("target_counters") for r in runs]),
        # ... and the time they waited, runnable, for a CPU (`/proc/<pid>/schedstat`; the
        # target's when the drill started it), and the machine's (PSI `some`): what the
        # prediction's stall factor reads (`twin.drill.starvation`)
        "load_wait_s": measured.wait_s, **waited,
        # each load process's share (a remote worker's records name its Locust client id)
        "load_shares": measured.shares,
        "scenario_architecture": scenario.architecture,
        "scenario_file": str(Path(options.scenario).resolve()),
        "profile": profile.name,
        # the model's request types this target is not driven with: not planned, not predicted
        "not_driven": profile.not_driven(REQUEST_TYPES),
    }  # fmt: skip
    return drill


def _worst_error(tracked: dict[str, Any]) -> float:
    return max(tracked["riders_error_max"] or 0.0, tracked["rate_error_max"] or 0.0)


def _tracked(tracked: dict[str, Any]) -> str:
    """The CLI's tracking line: worst errors, and the counting noise beside the rate's."""
    rows: list[dict[str, Any]] = tracked["windows"]
    worst = max(rows, key=lambda w: w.get("rate_error") or 0.0, default={})
    noise = worst.get("rate_noise")

    def pct(v: Any) -> str:
        return "-" if v is None else f"{100 * v:.1f} %"

    aside = f" (counting noise there {pct(noise)})" if noise is not None else ""
    riders, rate = pct(tracked["riders_error_max"]), pct(tracked["rate_error_max"])
    target = pct(tracked.get("target"))
    return f"worst tracking error: riders {riders}, rate {rate}{aside}; target {target}"


def _run_figures(
    work: DrillWorkload, result: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One run's own figures (how it tracked the plan, its CPU, Locust's statistics) and its
    per-second tracking series, which it also writes to the run's `tracking.csv`."""
    measured, load_dir, seconds = result["measured"], result["load_dir"], work.duration_s
    users = sampled_users(measured, seconds)
    if users is None:  # records without samples: Locust's own history
        users = achieved_users(load_dir, result["t0"], seconds)
    modelled = [m for name, m in measured.types.items() if name in work.rates]
    rate = np.sum([m.series(seconds) for m in modelled], axis=0)
    series = dict(zip(SERIES_COLUMNS, (np.arange(seconds, dtype=float), work.riders, users,
                                       work.total_rate, rate), strict=True))  # fmt: skip
    write_series(load_dir.parent / SERIES_FILE, series)
    return {
        "folder": str(load_dir.parent), "t0": result["t0"],
        "locust_wall_s": round(result["wall"], 3), "requests_total": measured.total,
        "errors_total": measured.errors, "load_cpu_s": measured.cpu_s,
        "target_cpu_s": result["target_cpu_s"], "target_counters": result["target_counters"],
        "load_wait_s": measured.wait_s,
        "target_wait_s": result["target_wait_s"], "cpu_pressure_s": result["cpu_pressure_s"],
        "tracking": tracking(work.riders, users, work.total_rate, rate,
                             window=window_s(seconds)),
        "locust": locust_stats(load_dir),
    }, series  # fmt: skip


def _summed(values: list[Any]) -> float | None:
    return None if None in values else round(sum(values), 3)


def _summed_counters(values: list[dict[str, float] | None]) -> dict[str, float] | None:
    """Each counter over the runs; None when a run's target did not export them."""
    runs = [v for v in values if v is not None]
    if not runs or len(runs) < len(values):
        return None
    keys = sorted({k for v in runs for k in v})
    return {k: round(sum(v.get(k, 0.0) for v in runs), 6) for k in keys}


def _worst_lag(results: list[dict[str, Any]]) -> dict[str, float] | None:
    """The measured leaderboard lag; over repeats, each figure's worst run (samples add up)."""
    lags = [r["lag"] for r in results if r["lag"]]
    if len(lags) <= 1:
        return lags[0] if lags else None
    out = {k: max(lag[k] for lag in lags) for k in ("p50", "p99", "max")}
    return {**out, "samples": sum(lag["samples"] for lag in lags)}


def _slos(scenario: Any, not_driven: list[str]) -> list[Any]:
    """The scenario's SLOs, but those about request types the profile does not drive (and the
    leaderboard lag, without telemetry) or about a service inside the target (a drill times
    requests end to end; its summary has no `services`): nothing the drill measured could meet
    them, and judged on a missing figure they read as failed."""
    skip = ("services.", *(f"requests.{t}." for t in not_driven))
    if "telemetry" in not_driven:
        skip += ("experience.leaderboard_lag_s",)
    if "tempo" in not_driven:
        skip += ("experience.tempo_",)
    return [Slo(name=s.name, metric=s.metric, op=s.op, target=s.target) for s in scenario.slo
            if not s.metric.startswith(skip)]  # fmt: skip
