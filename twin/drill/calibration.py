"""`twin calibrate` over one or more drills: measured CPU, a cv search, then per-type delays.

The model a drill is calibrated into (see `scenarios/architectures/reference-platform.yaml`)
has two *loops*, single servers that every request crosses: `client` (the load generator's
event loop) and `api` (the target's). Under load, requests wait for them; that wait is how a
drill's latency grows with its load. The rest of each request type's path is its own station.

1. The loops' service times are measured, not fitted: the CPU seconds each side spent under
   the drills' load (`drill.load_cpu_s`, `drill.target_cpu_s`), split by least squares over
   the drills into seconds per request (the loop's service) and seconds per MB moved (a 4 MB
   segment costs the client ~8 ms of reading where a playlist costs ~1 ms): the per-MB parts
   of both sides make the `transfer` station's `service_per_mb_s`, a delay (the loops
   interleave the copying with other requests). The split needs drills whose MB per request
   differ (e.g. two scenarios); without them, or for a side the drills did not measure, the
   file's figures stand.
2. Their cv sets how fast waiting grows with load. With two drills or more at different loads
   it is searched on a grid (`CV_GRID`, both loops alike): for each value, step 3 runs and the
   value whose predictions miss the measurements least is kept. With one drill, the cv in the
   architecture file is kept (one load level cannot tell a heavier tail from a longer delay).
3. Every other service on the drills' routes is fitted (`fit_services`) to the measured p50
   and p95 of the types crossing it, pooled over the drills, then again against those figures
   divided by the queueing the exact engine adds at each drill's load (`_queueing`).

The errors before and after are the exact engine's predictions of each drill's own workload.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from twin.drill.calibrate import (
    API,
    Fit,
    Target,
    architecture_source,
    calibrated_yaml,
    fit_services,
    no_wait_quantiles,
    prediction_errors,
    targets_from_summary,
)

__all__ = [
    "CLIENT",
    "CV_GRID",
    "LOOPS",
    "MEASURED",
    "TRANSFER",
    "LoopCost",
    "loop_costs",
    "run_calibration",
]

CLIENT = "client"
LOOPS = (CLIENT, API)
TRANSFER = "transfer"  # moving a segment's bytes: interleaved on both loops, so a delay
MEASURED = (*LOOPS, TRANSFER)  # services whose times come from the drills' CPU, not a fit
_TINY_S = 1e-6
CV_GRID = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
_CPU_KEYS = {CLIENT: "load_cpu_s", API: "target_cpu_s"}
_REPLICATIONS = 3
_MIN_COUNT = 20  # types with fewer requests in a drill are not fitted to (their p95 is noise)
_MB = 1e6
_MIN_SPREAD = 0.1  # MB per request must differ by 10 % across drills to tell the two costs apart


@dataclass(frozen=True)
class LoopCost:
    """A loop's CPU per request: `per_request_s` plus `per_mb_s` for each MB it moves."""

    per_request_s: float
    per_mb_s: float

    def mean_s(self, mb: float) -> float:
        return self.per_request_s + self.per_mb_s * mb


@dataclass(frozen=True)
class _Drill:
    """One drill folder: what it measured and its workload on the architecture's model."""

    folder: Path
    measured: dict[str, Any]
    scenario: Any
    platform: Any  # the drill's CompiledPlatform on the architecture being calibrated


def _load(folder: Path, base: Any) -> _Drill:
    from twin.drill.predict import compile_target, drill_platform
    from twin.drill.run import DrillOptions, compile_drill
    from twin.errors import InputError

    path = Path(folder) / "summary.json"
    if not path.is_file():
        raise InputError(str(folder), None, "no summary.json: not a drill's output folder")
    measured = json.loads(path.read_text(encoding="utf-8"))
    if measured.get("engine") != "drill":
        raise InputError(str(path), "engine", "not a drill's summary")
    d = measured["drill"]
    scenario_file = Path(d.get("scenario_file") or f"scenarios/{measured['scenario']}.yaml")
    options = DrillOptions(
        scenario=scenario_file, out=Path(folder), target="local", scale=d["scale"],
        speedup=d["speedup"], duration=d["duration_s"],
    )  # fmt: skip
    scenario, _arch, _compiled, work = compile_drill(options)
    return _Drill(Path(folder), measured, scenario,
                  drill_platform(compile_target(scenario, base), work))  # fmt: skip


def _volume(m: Mapping[str, Any]) -> tuple[float, float]:
    """(requests, MB) a drill moved."""
    blocks = m.get("requests", {}).values()
    return (float(m["drill"].get("requests_total") or 0),
            sum(float(b.get("bytes") or 0) for b in blocks) / _MB)  # fmt: skip


def loop_costs(measured: Sequence[Mapping[str, Any]]) -> dict[str, LoopCost]:
    """Each measured loop's CPU cost, least squares (non-negative) over the drills.

    Only drills whose MB per request differ by `_MIN_SPREAD` can split the cost into per
    request and per MB; otherwise a loop is left out (the file's costs stand)."""
    from scipy.optimize import nnls

    out = {}
    for loop, key in _CPU_KEYS.items():
        cpu = [m.get("drill", {}).get(key) for m in measured]
        if not all(c is not None and c > 0 for c in cpu):
            continue
        rows = np.array([_volume(m) for m in measured])
        ratio = rows[:, 1] / np.maximum(rows[:, 0], 1.0)
        if len(rows) < 2 or ratio.max() <= (1.0 + _MIN_SPREAD) * max(ratio.min(), 1e-12):
            continue
        (a, b), _ = nnls(rows, np.array(cpu, dtype=float))
        if a > 0:
            out[loop] = LoopCost(float(a), float(b))
    return out


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
    from twin.config.network import ServiceTime

    return ServiceTime(dist="lognormal", mean_s=mean_s, cv=cv)


def _with_fits(platform: Any, fits: Mapping[str, Fit], loops: Mapping[str, LoopCost],
               cv: Mapping[str, float]) -> Any:  # fmt: skip
    """The drill platform with these service times swapped in; a loop serves each request
    type its cost for the MB the twin's workload gives that type (`segment_mb`)."""
    from twin.platform.compile import segment_mb

    mb = segment_mb(platform.demand, platform.bytes_per_s)
    services = {}
    for name, spec in platform.services.items():
        if name in loops:
            cost = loops[name]
            by_type = {t: _lognormal(cost.mean_s(mb), cv[name])
                       for t in ("segment",) if cost.per_mb_s > 0}  # fmt: skip
            own = _lognormal(cost.per_request_s, cv[name])
            spec = replace(spec, service=own, own_service=own if by_type else None,
                           service_by_request=by_type)  # fmt: skip
        elif name in fits:
            spec = replace(spec, service=_lognormal(fits[name].mean_s, fits[name].cv))
        services[name] = spec
    return replace(platform, services=services)


def _predict(drill: _Drill, fits: Mapping[str, Fit], loops: Mapping[str, LoopCost],
             cv: Mapping[str, float], seed: int) -> dict[str, Any]:  # fmt: skip
    from twin.sim.exact.platform import run_exact_platform

    platform = _with_fits(drill.platform, fits, loops, cv)
    result = run_exact_platform(platform, drill.scenario, seed=seed, replications=_REPLICATIONS)
    return dict(result.summary)


def _queueing(predicted: Mapping[str, Any], bare: Mapping[str, tuple[float, float]]) -> dict:
    """Each type's p50 and p95 in the model over their no-wait values (>= 1)."""
    out = {}
    for rtype, (p50, p95) in bare.items():
        lat = (predicted.get("requests", {}).get(rtype) or {}).get("latency_ms") or {}
        if lat.get("p50") and p50 > 0:
            out[rtype] = (max(1.0, lat["p50"] / 1e3 / p50), max(1.0, lat["p95"] / 1e3 / p95))
    return out


def _score(drills: Sequence[_Drill], predicted: Sequence[Mapping[str, Any]]) -> float:
    """Mean |relative error| of p50 and p95 over every drill's fitted types."""
    values = [abs(v) for d, p in zip(drills, predicted, strict=True)
              for e in prediction_errors(d.measured, p, _MIN_COUNT).values()
              for v in e.values()]  # fmt: skip
    return sum(values) / len(values) if values else float("inf")


def _targets(drill: _Drill, i: int, loops: Mapping[str, LoopCost], cv: Mapping[str, float],
             fits: dict[str, Fit]) -> dict[str, Target]:  # fmt: skip
    """The drill's measured types; a loop hop is the type's own (`client@0:segment`), its
    service the loop's cost for the MB that type moved in this drill (added to `fits`)."""
    mb = _mb_per_request(drill.measured)
    out = {}
    for t, tg in targets_from_summary(drill.measured, drill.platform.visits, _MIN_COUNT).items():
        hops = []
        for hop, share in tg.hops:
            if hop in loops:
                name = f"{hop}@{i}:{t}"
                fits[name] = Fit(loops[hop].mean_s(mb.get(t, 0.0)), cv[hop])
                hop = name
            hops.append((hop, share))
        out[f"{i}:{t}"] = Target(tuple(hops), tg.p50, tg.p95, tg.count)
    return out


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
    fits = fit_services(fits, pooled, rng, fixed=fixed)
    mid = [_predict(d, fits, loops, cv, seed) for d in drills]
    bare = no_wait_quantiles(fits, pooled, rng)
    lifted = {}
    for key, tg in pooled.items():
        i, t = key.split(":", 1)
        up = _queueing(mid[int(i)], {t: bare[key]}).get(t, (1.0, 1.0))
        lifted[key] = Target(tg.hops, tg.p50 / up[0], tg.p95 / up[1], tg.count)
    fits = fit_services(fits, lifted, rng, fixed=fixed)
    fits = {n: f for n, f in fits.items() if "@" not in n}
    return fits, [_predict(d, fits, loops, cv, seed) for d in drills]


def _header(drills: Sequence[_Drill], cv: float | None, measured_loops: Sequence[str]) -> list:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"by `twin calibrate` on {when} from {len(drills)} drill(s):"]
    for d in drills:
        m, dr = d.measured, d.measured["drill"]
        out.append(f"  {d.folder} (scenario {m.get('scenario')}, seed {m.get('seed')}, "
                   f"scale {dr.get('scale')}, speedup {dr.get('speedup')}x, "
                   f"{dr.get('duration_s')} s, {dr.get('requests_total')} requests).")  # fmt: skip
    loops = ", ".join(measured_loops) or "none"
    out.append(f"Loops' mean service = CPU seconds per request under load (measured: {loops});")
    out.append("their cv " + ("searched across the drills' loads" if cv is not None
                              else "kept from the file (one drill)") + "; every other service"
               " was fitted to its types' p50/p95 (lognormal).")  # fmt: skip
    return out


def run_calibration(
    drill_dirs: Sequence[Path], architecture: str, out_file: Path, *, seed: int = 0
) -> dict[str, Any]:
    """Fit, write `out_file`, and return the errors before and after and the fits."""
    from twin.drill.predict import target_architecture

    first = Path(drill_dirs[0]) / "summary.json"
    scenario_file = Path(json.loads(first.read_text(encoding="utf-8"))["drill"]["scenario_file"]
                         ) if first.is_file() else Path("scenarios/x.yaml")  # fmt: skip
    base = target_architecture(architecture, scenario_file)
    drills = [_load(Path(f), base) for f in drill_dirs]
    start = _fits_of(base)
    measured = loop_costs([d.measured for d in drills])
    file_costs = {n: LoopCost(start[n].mean_s, _file_per_mb(base, n)) for n in MEASURED
                  if n in start}  # fmt: skip
    file_cv = {n: start[n].cv for n in file_costs}
    before = [_predict(d, start, file_costs, file_cv, seed) for d in drills]
    costs = {**file_costs, **{n: LoopCost(c.per_request_s, 0.0) for n, c in measured.items()
                             if n in file_costs}}  # fmt: skip
    if TRANSFER in costs and all(n in measured for n in LOOPS if n in file_costs):
        costs[TRANSFER] = LoopCost(_TINY_S, sum(c.per_mb_s for c in measured.values()))
    fixed = frozenset(n for n in start if n in MEASURED or n not in _crossed(drills))
    grid: Sequence[float | None] = CV_GRID if len(drills) >= 2 else (None,)
    best: tuple[float, float | None, dict[str, Fit], list[dict[str, Any]]] | None = None
    for value in grid:
        cv = _cvs(file_cv, value)
        fits, after = _fit_delays(drills, start, costs, cv, fixed, seed)
        score = _score(drills, after)
        if best is None or score < best[0]:
            best = (score, value, fits, after)
    assert best is not None
    score_after, value, fits, after = best
    cv = _cvs(file_cv, value)
    for n, cost in costs.items():
        fits[n] = Fit(round(max(cost.per_request_s, _TINY_S), 7), round(cv[n], 4))
    fitted = (_crossed(drills) - set(MEASURED)) & set(fits) | set(costs)
    text = architecture_source(architecture, scenario_file).read_text(encoding="utf-8")
    header = _header(drills, value, sorted(measured))
    out_file.write_text(
        calibrated_yaml(text, {n: fits[n] for n in fitted}, header,
                        {n: "see header" for n in fitted},
                        per_mb={n: round(c.per_mb_s, 7) for n, c in costs.items()}),
        encoding="utf-8",
    )  # fmt: skip
    return {
        "drills": [
            {"folder": str(d.folder), "measured": d.measured, "before": b, "after": a,
             "errors_before": prediction_errors(d.measured, b, _MIN_COUNT),
             "errors_after": prediction_errors(d.measured, a, _MIN_COUNT)}
            for d, b, a in zip(drills, before, after, strict=True)
        ],
        "mean_abs_error_before": _score(drills, before), "mean_abs_error_after": score_after,
        "fits": {n: fits[n] for n in sorted(fitted)}, "loop_cv": value,
        "costs": {n: {"per_request_s": c.per_request_s, "per_mb_s": c.per_mb_s}
                  for n, c in costs.items()},
        "loops_measured": sorted(measured), "out": out_file,
    }  # fmt: skip


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
