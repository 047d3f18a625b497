"""`twin calibrate` over one or more drills: measured CPU, a cv search, then per-type delays.

The model a drill is calibrated into (see `scenarios/architectures/reference-platform.yaml`)
has two *loops*, single servers that every request crosses: `client` (the load generator's
event loop) and `api` (the target's). Under load, requests wait for them; that wait is how a
drill's latency grows with its load. The rest of each request type's path is its own station.

1. The loops' costs are measured, not fitted: the CPU seconds each side spent under the
   drills' load (`drill.load_cpu_s`, `drill.target_cpu_s`), split by least squares over the
   drills into seconds per request and seconds per MB moved. The client's per-MB cost is
   service on the client loop (`BLOCKING`: gevent reads a whole segment without yielding, so
   light requests wait behind a 4K segment); the server's is the `transfer` delay. Segments
   are charged each rendition's MB (`twin.runs.segment_service`). The split needs drills
   whose MB per request differ; without them, or for a side not measured, the file's stand.
2. Each drill is put at the calibration's machine speed: its Locust CPU over what the fitted
   costs say it should have spent, times its wait for a CPU per CPU second against the
   drills' pooled one (`twin.drill.predict.speed_index`, `twin.drill.starvation`); shared
   machines drift by 20 %. The client's costs and the pooled wait are written to the file as
   `load_cpu`, so a later drill can scale the model to its own machine the same way.
3. With two drills or more, a grid searches the share of the per-request CPU that is on a
   request's own path (`PATH_SHARE_GRID`: the rest is the processes' background work, e.g.
   Locust's statistics, the server's stream consumers) and the loops' cv (`CV_GRID`); for
   each, step 4 runs and the pair whose predictions miss least is kept. With one drill, the
   file's loops stand.
4. Every other service on the drills' routes is fitted (`fit_services`) to the measured p50
   and p95 of the types crossing it, pooled over the drills, then again (`_ROUNDS` times)
   against those figures less what the exact engine adds to them at each drill's load beyond
   the sum of the services (`_queueing`: the waits at the loops, and waking a loop that
   slept, `wake`). The amount is subtracted, not divided out: a wake-up is the same ~1 ms
   on a 1 ms request and a 10 ms one, and a ratio took a dozen rounds to settle. A pinned
   p95 weighs a quarter of a p50 (`P95_WEIGHT`): identical drills move a light request's p95
   by 2x. A p95 the drill did not pin down (its 95 % interval wider than 25 %,
   `measure.pinned`) weighs a fifth of that (`LOOSE_P95_WEIGHT`): without it a service whose
   types' p95s are all loose kept the cv of its first guess, the busiest drill's p95.

Four services are measured from what the drills saved, not fitted (`MEASURED_DELAYS`): the
load generator's `timer` from their request logs (`twin.drill.lateness`), the recommender's
`scoring` and the `sqlite` thread's busy time per writing request from the target's metrics
(`twin.drill.scoring`, `twin.drill.writer`), and the `wakeup` a request sent on its own pays,
from both (`twin.drill.wake`), which also measures the target loop's wake-up from idle
(`wake`); without those files the file's values stand and the wake-up is searched
(`WAKE_GRID`, with two drills or more). What is fitted starts from fixed values (`START_FIT`,
and `WAKE_START` for the pair's search), not the file's: a fit started elsewhere ends
elsewhere, and calibrating the file this writes on the same drills must write it again.

The errors before and after are the exact engine's predictions of each drill's own workload.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from twin.config.builtin import builtin_folder, find_architecture, find_scenario
from twin.config.network import ServiceTime
from twin.drill.fit import (
    API,
    Fit,
    FitTarget,
    calibrated_yaml,
    fit_services,
    no_wait_quantiles,
    prediction_errors,
    targets_from_summary,
)
from twin.drill.incidents import fault_timeline
from twin.drill.loop_costs import (
    CLIENT,
    LOOPS,
    MEASURED,
    TRANSFER,
    LoopCost,
    load_cpu,
    loop_costs,
    measured_costs,
    target_cpu,
)
from twin.drill.measure import pinned
from twin.drill.measured import MEASURED_DELAYS, START_FIT, fit_starts
from twin.drill.out_of_sample import check_disjoint, error_table
from twin.drill.overload import fault_series
from twin.drill.predict import (
    compile_target,
    drill_platform,
    ridden,
    scaled_services,
    speed_parts,
    target_architecture,
    target_speed,
)
from twin.drill.predict_timeline import predicted_timeline, stream_setup, with_faults
from twin.drill.repeats import repeat_agreement
from twin.drill.run import DrillOptions, compile_drill
from twin.drill.run_report import CONSUMERS as _CONSUMERS
from twin.drill.wake_start import WAKE_GRID, WAKE_START, wake_of, wake_start, woken
from twin.errors import InputError
from twin.runs.compile import segment_mb
from twin.runs.engines import simulate
from twin.runs.segment_service import plus_segment_mb, segment_mb_mix

__all__ = [
    "CLIENT",
    "CV_GRID",
    "LOOPS",
    "MEASURED",
    "MEASURED_DELAYS",
    "PATH_SHARE_GRID",
    "START_FIT",
    "TRANSFER",
    "WAKE_GRID",
    "WAKE_START",
    "LoopCost",
    "loop_costs",
    "run_calibration",
]

_TINY_S = 1e-6
CV_GRID = (0.5, 1.0, 2.0)
# the share of a loop's CPU per request that is on the request's own path
PATH_SHARE_GRID = (0.35, 0.5, 0.75, 1.0)
_REPLICATIONS = 3
_MIN_COUNT = 20  # types with fewer requests in a drill are not fitted to (their p95 is noise)
_MB = 1e6
# step 4's rounds: fit the delays to the measured percentiles less what the model adds there
_ROUNDS = 2
_FLOOR = 0.2


@dataclass(frozen=True)
class _Drill:
    """One drill folder: what it measured and its workload on the architecture's model."""

    folder: Path
    measured: dict[str, Any]
    scenario: Any
    platform: Any  # the drill's CompiledPlatform on the architecture being calibrated
    speed: float = 1.0  # its machine's speed against the fitted CPU costs (`speed_index`)
    # the target's own speed and the components it scales (`target_speed`), or None: `speed`
    target: tuple[float, frozenset[str]] | None = None
    work: Any = None  # its DrillWorkload
    faults: Any = None  # the incident it replayed (`FaultSeries`), None without one


def _load(folder: Path, base: Any) -> _Drill:

    path = Path(folder) / "summary.json"
    if not path.is_file():
        raise InputError(str(folder), None, "no summary.json: not a drill's output folder")
    measured = json.loads(path.read_text(encoding="utf-8"))
    if measured.get("engine") != "drill":
        raise InputError(str(path), "engine", "not a drill's summary")
    d = measured["drill"]
    scenario_file = _scenario_file(d.get("scenario_file"), measured["scenario"])
    options = DrillOptions(
        scenario=scenario_file, out=Path(folder), target="local", scale=d["scale"],
        speedup=d["speedup"], duration=d["duration_s"],
    )  # fmt: skip
    scenario, _arch, compiled, work = compile_drill(options)
    work = ridden(work, measured)  # its live riders as it rode them
    faults = None
    if d.get("faults_applied"):  # the drill replayed its scenario's incident
        faults = fault_series(fault_timeline(compiled, work, consumers=_CONSUMERS),
                              work.duration_s)  # fmt: skip
    return _Drill(Path(folder), measured, scenario,
                  drill_platform(compile_target(scenario, base), work), work=work,
                  faults=faults)  # fmt: skip


def _scenario_file(recorded: str | None, name: str) -> Path:
    """The drill's scenario: the file it recorded, else (a drill made on another machine or
    checkout) the built-in scenario of that name. A recorded built-in of another checkout
    (`.../twin/scenarios/<file>`, still there) is this checkout's built-in of that file: a
    stored drill is read with the twin that reads it, not with the one that made it."""
    path = Path(recorded) if recorded else None
    if path is not None and path.is_file():
        ours = builtin_folder() / path.name
        if path.parent.name == "scenarios" and path.parent.parent.name == "twin" and (
            ours.is_file() and path.resolve() != ours.resolve()
        ):
            return ours
        return path
    return find_scenario(name)


def _riding_devices(drill: _Drill) -> list[str]:
    """The devices of the riders the drill's plan gave its first Locust users (none without
    the plan: the shards are then taken as even)."""
    plan = drill.folder / "plan.json"
    if not plan.is_file():
        return []
    riders = json.loads(plan.read_text(encoding="utf-8")).get("riders") or []
    users = math.ceil(float(np.max(drill.work.users))) if drill.work is not None else 0
    return [r["device_id"] for r in riders[:users] if r.get("device") != "app"]


def _predict_checked(drill: _Drill, fits: Mapping[str, Fit], loops: Mapping[str, LoopCost],
                     cv: Mapping[str, float], seed: int, base: Any) -> dict[str, Any]:  # fmt: skip
    """A validation drill's prediction with the fitted file; one that replayed an incident
    gets the faults' 503s and waits in its figures, as `twin drill`'s own prediction does."""
    predicted = _predict(drill, fits, loops, cv, seed)
    if drill.faults is None or not drill.faults.any:
        return predicted
    platform = scaled_services(_with_fits(drill.platform, fits, loops, cv), drill.speed,
                               drill.target)  # fmt: skip
    setup = stream_setup(base, platform, _riding_devices(drill), _CONSUMERS)
    timeline = predicted_timeline(platform, drill.work, drill.faults, setup,
                                  name=drill.scenario.name, seed=seed,
                                  replications=_REPLICATIONS, width_s=1.0)  # fmt: skip
    return with_faults(predicted, timeline.whole)


def _mb_per_request(m: Mapping[str, Any]) -> dict[str, float]:
    return {t: float(b.get("bytes") or 0) / _MB / b["count"]
            for t, b in m.get("requests", {}).items() if b.get("count")}  # fmt: skip


def _fits_of(architecture: Any) -> dict[str, Fit]:
    out = {}
    for name, comp in architecture.services.items():
        st = comp.station.service
        cv = {"exponential": 1.0, "deterministic": 0.05}.get(st.dist, st.cv or 1.0)
        out[name] = Fit(float(st.mean_s or 0.001), float(cv))
    return out


def _lognormal(mean_s: float, cv: float) -> Any:

    return ServiceTime(dist="lognormal", mean_s=mean_s, cv=cv)


def _with_fits(platform: Any, fits: Mapping[str, Fit], loops: Mapping[str, LoopCost],
               cv: Mapping[str, float]) -> Any:  # fmt: skip
    """The drill platform with these service times swapped in; a loop serves each request
    type its cost for the MB the twin's workload gives that type (`segment_mb`)."""

    mix = segment_mb_mix(segment_mb(platform.demand, platform.bytes_per_s),
                         platform.riders_by_rendition)  # fmt: skip
    services = {}
    for name, spec in platform.services.items():
        if name in loops:
            cost = loops[name]
            own = _lognormal(cost.per_request_s, cv[name])
            by_type = {t: plus_segment_mb(own, cost.per_mb_s, mix)
                       for t in ("segment",) if cost.per_mb_s > 0}  # fmt: skip
            spec = replace(spec, service=own, own_service=own if by_type else None,
                           service_by_request=by_type)  # fmt: skip
        elif name in fits:
            spec = replace(spec, service=_lognormal(fits[name].mean_s, fits[name].cv))
        services[name] = spec
    return replace(platform, services=services)


def _predict(drill: _Drill, fits: Mapping[str, Fit], loops: Mapping[str, LoopCost],
             cv: Mapping[str, float], seed: int) -> dict[str, Any]:  # fmt: skip

    platform = scaled_services(_with_fits(drill.platform, fits, loops, cv), drill.speed,
                               drill.target)  # fmt: skip
    result = simulate(
        platform, engine="exact", name=drill.scenario.name, seed=seed,
        replications=_REPLICATIONS,
    )  # fmt: skip
    return dict(result.summary)


def _queueing(predicted: Mapping[str, Any], bare: Mapping[str, tuple[float, float]],
              speed: float = 1.0) -> dict:  # fmt: skip
    """What the model adds to each type's p50 and p95 beyond their no-wait values (s, >= 0):
    the waits at the loops and the stations that sleep while idle (`wake`). `predicted` is at
    the drill's `speed`, `bare` at the fit's reference speed (as the targets are, `_targets`):
    the prediction is brought to the reference before the no-wait values are taken off."""
    out = {}
    for rtype, (p50, p95) in bare.items():
        lat = (predicted.get("requests", {}).get(rtype) or {}).get("latency_ms") or {}
        if lat.get("p50"):
            out[rtype] = (max(0.0, lat["p50"] / 1e3 / speed - p50),
                          max(0.0, lat["p95"] / 1e3 / speed - p95))  # fmt: skip
    return out


def _less(measured: float, added: float) -> float:
    """A measured percentile less what the model adds to it, kept above a fifth of it."""
    return max(measured - added, _FLOOR * measured)


def _score(drills: Sequence[_Drill], predicted: Sequence[Mapping[str, Any]]) -> float:
    """Mean |relative error| of p50 and p95 over every drill's fitted types, where the drill
    pinned the percentile down (`pinned`: its 95 % interval within 25 %); the p95 of a few
    hundred light requests moves 2x between identical drills, and chasing it would fit noise."""
    values = [abs(v) for d, p in zip(drills, predicted, strict=True)
              for t, e in prediction_errors(d.measured, p, _MIN_COUNT).items()
              for q, v in e.items() if pinned(d.measured["requests"][t], q)]  # fmt: skip
    return sum(values) / len(values) if values else float("inf")


def _targets(drill: _Drill, i: int, loops: Mapping[str, LoopCost], cv: Mapping[str, float],
             fits: dict[str, Fit]) -> dict[str, FitTarget]:  # fmt: skip
    """The drill's measured types; a loop hop is the type's own (`client@0:segment`), its
    service the loop's cost for the MB that type moved in this drill (added to `fits`)."""

    mb = _mb_per_request(drill.measured)
    out = {}
    for t, tg in targets_from_summary(drill.measured, drill.platform.visits, _MIN_COUNT).items():
        hops = []
        for hop, share in tg.hops:
            if hop in drill.platform.timers:  # requests sent right behind a response skip it
                share *= 1.0 - float(drill.platform.awake.get(t, 0.0))
            if hop in loops:
                name = f"{hop}@{i}:{t}"
                cost = loops[hop]
                if t == "segment" and cost.per_mb_s > 0:  # at each rendition's size
                    mix = segment_mb_mix(mb.get(t, 0.0), drill.platform.riders_by_rendition)
                    fits[name] = Fit(cost.per_request_s, cv[hop],
                                     tuple((cost.per_mb_s * m, s) for m, s in mix))  # fmt: skip
                else:
                    fits[name] = Fit(cost.mean_s(mb.get(t, 0.0)), cv[hop])
                hop = name
            hops.append((hop, share))
        k = _type_speed(drill, hops, fits)
        out[f"{i}:{t}"] = replace(tg, hops=tuple(hops), p50=tg.p50 / k, p95=tg.p95 / k)
    return out  # at the reference speed


def _type_speed(drill: _Drill, hops: Sequence[tuple[str, float]], fits: Mapping[str, Fit],
                ) -> float:  # fmt: skip
    """How much slower the drill ran a request type than the reference: its speed, or, when
    the target has its own (`_Drill.target`), the two weighted by the type's no-wait time at
    each side's stations (a loop's hop is named `client@0:segment`)."""
    if drill.target is None:
        return drill.speed
    k, components = drill.target
    num = den = 0.0
    for hop, share in hops:
        fit = fits.get(hop)
        if fit is None:
            continue
        mean = share * (fit.mean_s + sum(s * p for s, p in fit.atoms))
        num += mean * (k if hop.split("@")[0] in components else drill.speed)
        den += mean
    return num / den if den > 0 else drill.speed


def _fit_delays(
    drills: Sequence[_Drill], fits: dict[str, Fit], loops: Mapping[str, LoopCost],
    cv: Mapping[str, float], fixed: frozenset[str], seed: int,
) -> tuple[dict[str, Fit], list[dict[str, Any]]]:  # fmt: skip
    """Step 3 at the loops' figures: the fitted services and each drill's prediction."""
    rng = np.random.default_rng([seed, 0xCA1])
    fits = dict(fits)
    pooled = {
        k: tg for i, d in enumerate(drills) for k, tg in _targets(d, i, loops, cv, fits).items()
    }
    fixed = fixed | {n for n in fits if "@" in n}
    speeds = {key: _type_speed(drills[int(key.split(":", 1)[0])], tg.hops, fits)
              for key, tg in pooled.items()}  # fmt: skip
    fits = fit_services(fits, pooled, rng, fixed=fixed)
    for _ in range(_ROUNDS):
        mid = [_predict(d, fits, loops, cv, seed) for d in drills]
        bare = no_wait_quantiles(fits, pooled, rng)
        less = {}
        for key, tg in pooled.items():
            i, t = key.split(":", 1)
            added = _queueing(mid[int(i)], {t: bare[key]}, speeds[key]).get(t, (0.0, 0.0))
            less[key] = replace(tg, p50=_less(tg.p50, added[0]), p95=_less(tg.p95, added[1]))
        fits = fit_services(fits, less, rng, fixed=fixed)
    fits = {n: f for n, f in fits.items() if "@" not in n}
    return fits, [_predict(d, fits, loops, cv, seed) for d in drills]


def _length(measured: dict) -> str:
    """A drill's length: "60 s", or "3 x 60 s" for a pooled `--repeat 3` drill."""
    runs, seconds = int(measured.get("replications", 1) or 1), measured["drill"].get("duration_s")
    return f"{runs} x {seconds} s" if runs > 1 else f"{seconds} s"


def _header(drills: Sequence[_Drill], cv: float | None, share: float,
            measured_loops: Sequence[str], wake: tuple[float, float] | None = None,
            delays: Mapping[str, tuple[Fit, int]] | None = None, woke: bool = False,
            ) -> list:  # fmt: skip
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"by `twin calibrate` on {when} from {len(drills)} drill(s):"]
    for d in drills:
        m, dr = d.measured, d.measured["drill"]
        out.append(f"  {d.folder} (scenario {m.get('scenario')}, seed {m.get('seed')}, "
                   f"scale {dr.get('scale')}, speedup {dr.get('speedup')}x, "
                   f"{_length(m)}, {dr.get('requests_total')} requests).")  # fmt: skip
    loops = ", ".join(measured_loops) or "none"
    out.append(
        f"Loops' mean service = {share:g} x the CPU seconds per request under load "
        f"(measured: {loops}; the share on the request's own path searched);"
    )
    out.append("their cv " + ("searched across the drills' loads" if cv is not None
                              else "kept from the file (one drill)") + "; every other service"
               " was fitted to its types' p50/p95 (lognormal).")  # fmt: skip
    if len(drills) >= 2 or woke:
        how = "measured (the request logs, `twin.drill.wake`)" if woke else "searched"
        out.append(f"The api loop's wake-up from idle {how}: " + (
            "none" if wake is None else
            f"{wake[0] * 1e3:g} ms after a long idle, time constant {wake[1] * 1e3:g} ms") + ".")
    for name, (fit, n) in (delays or {}).items():
        out.append(f"`{name}` measured ({MEASURED_DELAYS[name][1]}, {n} of them): "
                   f"mean {fit.mean_s * 1e3:.3g} ms, cv {fit.cv:g}.")  # fmt: skip
    return out


def run_calibration(
    drill_dirs: Sequence[Path], architecture: str, out_file: Path, *, seed: int = 0,
    validate: Sequence[Path] = (),
) -> dict[str, Any]:
    """Fit, write `out_file`, and return the errors before and after and the fits; with
    `validate`, drills the fit does not see, predicted with the fitted file (out of sample:
    `twin.drill.out_of_sample`). What is fitted starts from fixed values, not the file's
    (`fit_starts`), so calibrating the file this writes on the same drills writes it again."""
    check_disjoint(drill_dirs, validate)
    base, scenario_file = _base(drill_dirs, architecture)
    drills = [_load(Path(f), base) for f in drill_dirs]
    checks = [_load(Path(f), base) for f in validate]  # a bad folder fails before the fit
    file_fits = _fits_of(base)
    measured = loop_costs([d.measured for d in drills])
    drills = [_at_speed(d, base.load_cpu, base.target_cpu) for d in drills]
    file_costs = {n: LoopCost(file_fits[n].mean_s, _file_per_mb(base, n)) for n in MEASURED
                  if n in file_fits}  # fmt: skip
    file_cv = {n: file_fits[n].cv for n in file_costs}
    before = [_predict(d, file_fits, file_costs, file_cv, seed) for d in drills]
    drills, refs = _references(drills, measured, base)
    costs = measured_costs(file_costs, measured)
    delays = {name: got for name, (how, _) in MEASURED_DELAYS.items() if name in file_fits
              and (got := how([d.folder for d in drills])) is not None}  # fmt: skip
    start, fixed = fit_starts(file_fits, _crossed(drills), delays)
    drills, wake_how, wake_grid = wake_start(drills)
    score_after, (share, value), fits, after, costs = _search(
        drills, start, costs, file_cv, frozenset(measured), fixed, seed
    )
    score_after, wake, fits, after = _search_wake(
        drills, start, costs, _cvs(file_cv, value), fixed, seed,
        (score_after, wake_of(drills[0].platform), fits, after), wake_grid,
    )  # fmt: skip
    drills, checks = ([replace(d, platform=woken(d.platform, wake)) for d in ds]
                      for ds in (drills, checks))  # fmt: skip
    cv = _cvs(file_cv, value)
    for n, cost in costs.items():
        fits[n] = Fit(round(max(cost.per_request_s, _TINY_S), 7), round(cv[n], 4))
    fitted = (_crossed(drills) - set(MEASURED)) & set(fits) | set(costs)
    source = find_architecture(architecture, scenario_file, where=("--architecture", None))
    _write(out_file, source, {n: fits[n] for n in fitted},
           _header(drills, value, share, sorted(measured), wake, delays, wake_how == "measured"),
           costs, refs, wake)
    checked = [_predict_checked(_at_speed(d, refs[0] or base.load_cpu, refs[1] or base.target_cpu),
                                fits, costs, cv, seed, base) for d in checks]  # fmt: skip
    oos, repeats = _out_of_sample(checks, checked)
    return {
        "in_sample": error_table(_named(drills), after), "out_of_sample": oos,
        "repeatability": repeats, "drills": _drill_rows(drills, before, after),
        "mean_abs_error_before": _score(drills, before), "mean_abs_error_after": score_after,
        "fits": {n: fits[n] for n in sorted(fitted)}, "loop_cv": value, "wake": wake,
        "wake_how": wake_how, "path_share": share, "loops_measured": sorted(measured),
        "out": out_file,
        "measured_delays": {n: {"mean_s": f.mean_s, "cv": f.cv, "samples": k}
                            for n, (f, k) in delays.items()},
        "costs": {n: {"per_request_s": c.per_request_s, "per_mb_s": c.per_mb_s} for n, c in
                  costs.items()},
        "speeds": {str(d.folder): round(d.speed, 4) for d in drills},
    }  # fmt: skip


def _drill_rows(drills: Sequence[_Drill], before: Sequence[Mapping[str, Any]],
                after: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """Each fitted drill: what it measured, its predictions before and after, their errors."""
    return [{"folder": str(d.folder), "measured": d.measured, "before": b, "after": a,
             "errors_before": prediction_errors(d.measured, b, _MIN_COUNT),
             "errors_after": prediction_errors(d.measured, a, _MIN_COUNT)}
            for d, b, a in zip(drills, before, after, strict=True)]  # fmt: skip


def _base(drill_dirs: Sequence[Path], architecture: str) -> tuple[Any, Path]:
    """The architecture calibrated, found as the first drill's scenario would find it."""
    first = Path(drill_dirs[0]) / "summary.json"
    measured = json.loads(first.read_text(encoding="utf-8")) if first.is_file() else {}
    drill, name = measured.get("drill") or {}, measured.get("scenario")
    # not a drill's folder: `_load` says so, in one line, next
    scenario_file = (_scenario_file(drill.get("scenario_file"), name) if drill and name
                     else Path("scenarios/x.yaml"))  # fmt: skip
    return target_architecture(architecture, scenario_file), scenario_file


def _write(out_file: Path, source: Path, fits: Mapping[str, Fit], header: list[str],
           costs: Mapping[str, LoopCost], cpu: tuple[Any, Any],
           wake: tuple[float, float] | None) -> None:  # fmt: skip
    """The calibrated architecture file: `source` with the fits, costs and wake-up in it."""
    out_file.write_text(
        calibrated_yaml(source.read_text(encoding="utf-8"), fits, header,
                        {n: "see header" for n in fits},
                        per_mb={n: round(c.per_mb_s, 7) for n, c in costs.items()},
                        load_cpu=cpu[0], wake={API: wake}, target_cpu=cpu[1]),
        encoding="utf-8",
    )  # fmt: skip


def _named(drills: Sequence[_Drill]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(str(d.folder), d.measured) for d in drills]


def _out_of_sample(
    checks: Sequence[_Drill], predicted: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The checks' error table, and how far identical checks agree with each other beside
    the model on the same figures (`twin.drill.repeats`); None, None without checks."""
    if not checks:
        return None, None
    named = _named(checks)
    oos = error_table(named, predicted)
    return oos, repeat_agreement(named, oos["rows"])


# (score, (path share, loop cv), fits, each drill's prediction, the loops' costs at that share)
_Best = tuple[float, tuple[float, float | None], dict[str, Fit], list, dict[str, LoopCost]]


def _search(
    drills: Sequence[_Drill], start: dict[str, Fit], costs: Mapping[str, LoopCost],
    file_cv: Mapping[str, float], measured: frozenset[str], fixed: frozenset[str], seed: int,
) -> _Best:  # fmt: skip
    """Step 3: the (path share, loop cv) whose fitted delays miss the drills least: its score,
    the pair, the fits, each drill's prediction and the loops' costs at that share."""
    grid: Sequence[tuple[float, float | None]] = (
        [(share, v) for share in PATH_SHARE_GRID for v in CV_GRID] if len(drills) >= 2
        else [(1.0, None)]
    )  # fmt: skip
    best: _Best | None = None
    for share, value in grid:
        trial = {n: replace(c, per_request_s=c.per_request_s * share) if n in measured else c
                 for n, c in costs.items()}  # fmt: skip
        fits, after = _fit_delays(drills, start, trial, _cvs(file_cv, value), fixed, seed)
        score = _score(drills, after)
        if best is None or score < best[0]:
            best = (score, (share, value), fits, after, trial)
    assert best is not None
    return best


def _search_wake(
    drills: Sequence[_Drill], start: dict[str, Fit], costs: Mapping[str, LoopCost],
    cv: Mapping[str, float], fixed: frozenset[str], seed: int,
    best: tuple[float, tuple[float, float] | None, dict[str, Fit], list],
    grid: Sequence[tuple[float, float] | None],
) -> tuple[float, tuple[float, float] | None, dict[str, Fit], list]:  # fmt: skip
    """Step 3, last: the target loop's wake-up (`grid`: `WAKE_GRID`, or none when measured)
    at the pair found, fitted like the pair: each value's delays refitted, the one whose
    predictions miss least kept (`best`, the one the pair's search ran with, stands unless
    one does better)."""
    for wake in grid:
        if wake == best[1]:
            continue
        awake = [replace(d, platform=woken(d.platform, wake)) for d in drills]
        fits, after = _fit_delays(awake, start, costs, cv, fixed, seed)
        score = _score(awake, after)
        if score < best[0]:
            best = (score, wake, fits, after)
    return best


def _references(drills: Sequence[_Drill], measured: Mapping[str, LoopCost], base: Any,
                ) -> tuple[list[_Drill], tuple[Any, Any]]:  # fmt: skip
    """The calibration drills' CPU references, Locust's and the target's (None where not
    measured), and each drill at its own machine speed against them (against the file's when
    Locust's was not measured)."""
    refs = (load_cpu([d.measured for d in drills], measured), target_cpu(measured, base.target_cpu))
    if refs[0] is not None:
        drills = [_at_speed(d, *refs) for d in drills]
    return list(drills), refs


def _at_speed(drill: _Drill, load_cpu: Any, target_cpu: Any) -> _Drill:
    """The drill at its machine's speed against `load_cpu`, and its target's own against
    `target_cpu` when both the file and the drill have the target's CPU."""
    parts = speed_parts(drill.measured, load_cpu, target_cpu)
    return replace(drill, speed=parts["speed_index"] or 1.0,
                   target=target_speed(parts, target_cpu))  # fmt: skip


def _cvs(file_cv: Mapping[str, float], value: float | None) -> dict[str, float]:
    """The loops' cv at a grid value (the file's for the others, or with no grid)."""
    return {n: value if value is not None and n in LOOPS else cv for n, cv in file_cv.items()}


def _file_per_mb(architecture: Any, name: str) -> float:
    return float(getattr(architecture.components[name].station, "service_per_mb_s", 0.0) or 0.0)


def _crossed(drills: Sequence[_Drill]) -> set[str]:
    """Services on the route of a request type some drill measured."""
    return {h for d in drills
            for t in targets_from_summary(d.measured, d.platform.visits, _MIN_COUNT).values()
            for h, _ in t.hops}  # fmt: skip
