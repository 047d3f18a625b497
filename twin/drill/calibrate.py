"""`twin calibrate`: service times fitted to what a drill measured, written into an architecture.

A drill measures each request type end to end (latency from the intended send time, p50 and
p95). A request type crosses the services of its route, so its latency is the sum of what it
spends at each. The fit, per service, of a lognormal service time (mean, cv):

1. `api`, the work every request does on the server's event loop, from the drill's `master`
   playlist (a constant document behind auth: nothing but that work). Without it, `api` keeps
   the architecture's figures.
2. Every other service the drill exercised, in turn (two sweeps, so services that share
   request types settle): (mean, cv) minimising the squared log errors of the p50 and p95 of
   the request types crossing it, weighted by sqrt(count), where a type's latency is the sum
   of its hops' service times (Monte Carlo with common random numbers, so the fit is smooth).
3. Queueing at the measured load: the exact engine runs the drill's own workload on the fitted
   architecture; each type's p50 and p95 over their no-wait values is the queueing the model
   adds, and step 2 runs again against the measured figures divided by it.

`calibrated_yaml` rewrites each fitted `service:` line in the architecture file (comments
kept) and heads it with where the numbers came from. The error before and after is the exact
engine's prediction against the drill for the same workload.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Fit",
    "Target",
    "architecture_source",
    "calibrated_yaml",
    "fit_services",
    "lognormal_from_quantiles",
    "no_wait_quantiles",
    "prediction_errors",
    "run_calibration",
    "targets_from_summary",
]

_Z95 = 1.6448536269514722  # standard normal 95th percentile
_DRAWS = 20_000
API = "api"
PROBE = "master"  # the drill's request that does nothing but the event loop's work


@dataclass(frozen=True)
class Fit:
    """A service time: lognormal mean (s) and coefficient of variation."""

    mean_s: float
    cv: float


@dataclass(frozen=True)
class Target:
    """What the drill measured for one request type (seconds) and its route's hops."""

    hops: tuple[tuple[str, float], ...]
    p50: float
    p95: float
    count: int


def lognormal_from_quantiles(p50: float, p95: float) -> Fit:
    """The lognormal with this median and 95th percentile (its mean and cv)."""
    sigma = max(math.log(max(p95, p50 * 1.0001) / p50) / _Z95, 1e-3)
    return Fit(p50 * math.exp(sigma**2 / 2.0), math.sqrt(math.expm1(sigma**2)))


def _draws(fit: Fit, z: np.ndarray) -> np.ndarray:
    sigma = math.sqrt(math.log1p(fit.cv**2))
    return fit.mean_s * np.exp(sigma * z - sigma**2 / 2.0)


def _latency(hops: tuple[tuple[str, float], ...], fits: Mapping[str, Fit], z: dict) -> np.ndarray:
    total = np.zeros(_DRAWS)
    for hop, share in hops:
        if hop in fits:
            part = _draws(fits[hop], z[hop][0])
            total += part if share >= 1.0 else part * (z[hop][1] < share)
    return total


def _start(name: str, fits: dict[str, Fit], mine: Mapping[str, Target], z: dict) -> Fit:
    """A first guess: the busiest type's quantiles less those of its other hops."""
    tg = max(mine.values(), key=lambda t: t.count)
    others = tuple((h, s) for h, s in tg.hops if h != name)
    rest = np.percentile(_latency(others, fits, z), [50, 95]) if others else np.zeros(2)
    p50 = max(tg.p50 - rest[0], 0.1 * tg.p50)
    return lognormal_from_quantiles(p50, max(tg.p95 - rest[1], 1.5 * p50))


def _fit_one(name: str, fits: dict[str, Fit], targets: Mapping[str, Target], z: dict) -> Fit:
    from scipy.optimize import minimize

    mine = {t: tg for t, tg in targets.items() if any(h == name for h, _ in tg.hops)}
    if not mine:
        return fits[name]

    top = max(tg.p95 for tg in mine.values())
    lo, hi = np.array([math.log(1e-6), math.log(0.05)]), np.array([math.log(top), math.log(20.0)])

    def loss(x: np.ndarray) -> float:
        x = np.clip(x, lo, hi)
        trial = {**fits, name: Fit(math.exp(x[0]), math.exp(x[1]))}
        err = 0.0
        for tg in mine.values():
            got = np.percentile(_latency(tg.hops, trial, z), [50, 95])
            w = math.sqrt(tg.count)
            err += w * (math.log(got[0] / tg.p50) ** 2 + math.log(got[1] / tg.p95) ** 2)
        return err

    start = _start(name, fits, mine, z)
    x0 = np.array([math.log(start.mean_s), math.log(max(start.cv, 0.05))])
    x0 = np.clip(x0, lo, hi)
    best = minimize(loss, x0, method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-6})
    x = np.clip(best.x, lo, hi)
    return Fit(round(math.exp(x[0]), 7), round(math.exp(x[1]), 4))


def fit_services(
    fits: Mapping[str, Fit], targets: Mapping[str, Target], rng: np.random.Generator,
    *, fixed: frozenset[str] = frozenset(), sweeps: int = 2,
) -> dict[str, Fit]:  # fmt: skip
    """Every service on a target's route fitted in turn (those in `fixed` are kept)."""
    out = dict(fits)
    hops = sorted({h for tg in targets.values() for h, _ in tg.hops if h in out})
    z = {h: (rng.standard_normal(_DRAWS), rng.random(_DRAWS)) for h in hops}
    for _ in range(sweeps):
        for name in hops:
            if name not in fixed:
                out[name] = _fit_one(name, out, targets, z)
    return out


def no_wait_quantiles(
    fits: Mapping[str, Fit], targets: Mapping[str, Target], rng: np.random.Generator
) -> dict[str, tuple[float, float]]:
    """p50 and p95 of each type's latency with no queueing (the sum of its service times)."""
    hops = sorted({h for tg in targets.values() for h, _ in tg.hops})
    z = {h: (rng.standard_normal(_DRAWS), rng.random(_DRAWS)) for h in hops}
    out = {}
    for rtype, tg in targets.items():
        p50, p95 = np.percentile(_latency(tg.hops, fits, z), [50, 95])
        out[rtype] = (float(p50), float(p95))
    return out


def targets_from_summary(
    summary: Mapping[str, Any], visits: Mapping[str, list[tuple[str, float]]],
    min_count: int = 5,
) -> dict[str, Target]:  # fmt: skip
    """The measured p50/p95 (s) of every modelled request type with at least `min_count`."""
    out = {}
    for rtype, block in summary.get("requests", {}).items():
        lat = block.get("latency_ms") or {}
        if rtype not in visits or (block.get("count") or 0) < min_count or not lat.get("p50"):
            continue
        out[rtype] = Target(tuple((h, float(s)) for h, s in visits[rtype]),
                            lat["p50"] / 1e3, lat["p95"] / 1e3, int(block["count"]))  # fmt: skip
    return out


def prediction_errors(
    measured: Mapping[str, Any], predicted: Mapping[str, Any], min_count: int = 5
) -> dict[str, dict[str, float]]:
    """Per request type, (predicted - measured) / measured for p50 and p95."""
    out = {}
    for rtype, p in predicted.get("requests", {}).items():
        m = measured.get("requests", {}).get(rtype) or {}
        ml, pl = m.get("latency_ms") or {}, p.get("latency_ms") or {}
        if (m.get("count") or 0) < min_count or not ml.get("p50") or not pl.get("p50"):
            continue
        out[rtype] = {q: round((pl[q] - ml[q]) / ml[q], 4) for q in ("p50", "p95")}
    return out


_SERVICE = re.compile(r"^(\s+)service:\s*\{[^}]*\}(.*)$")


def _service_line(indent: str, fit: Fit, note: str) -> str:
    return (f"{indent}service: {{dist: lognormal, mean_s: {fit.mean_s:.6g}, cv: {fit.cv:.4g}}}"
            f"   # calibrated: {note}")  # fmt: skip


def calibrated_yaml(
    text: str, fits: Mapping[str, Fit], header: list[str], notes: Mapping[str, str]
) -> str:
    """The architecture file with each fitted service's `service:` line replaced, headed."""
    lines = [ln for ln in text.splitlines() if not ln.startswith("# CALIBRATED")]
    current = None
    for i, line in enumerate(lines):
        comp = re.match(r"^  ([A-Za-z0-9_-]+):\s*(#.*)?$", line)
        if comp:
            current = comp.group(1)
        elif re.match(r"^\S", line):
            current = None
        match = _SERVICE.match(line)
        if match and current is not None and current in fits:
            lines[i] = _service_line(match.group(1), fits[current], notes.get(current, ""))
    stamp = [f"# CALIBRATED {h}" for h in header]
    return "\n".join(stamp + lines) + "\n"


def header_lines(drill_dir: Path, summary: Mapping[str, Any]) -> list[str]:
    """Where the calibrated numbers came from: the drill, its workload, when."""
    d = summary.get("drill", {})
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"by `twin calibrate` on {when} from the drill in {drill_dir}",
        f"(scenario {summary.get('scenario')}, seed {summary.get('seed')}, scale {d.get('scale')}, "
        f"speedup {d.get('speedup')}x, {d.get('duration_s')} s, "
        f"{d.get('requests_total')} requests against {d.get('host')}).",
        "Service times marked 'calibrated' were fitted to its per-type p50/p95 (lognormal).",
    ]


def _fits_of(architecture: Any) -> dict[str, Fit]:
    out = {}
    for name, comp in architecture.services.items():
        st = comp.station.service
        cv = {"exponential": 1.0, "deterministic": 0.05}.get(st.dist, st.cv or 1.0)
        out[name] = Fit(float(st.mean_s or 0.001), float(cv))
    return out


def _exact(platform: Any, scenario: Any, seed: int) -> dict[str, Any]:
    from twin.sim.exact.platform import run_exact_platform

    return dict(run_exact_platform(platform, scenario, seed=seed, replications=3).summary)


def _with_fits(
    text: str, fits: Mapping[str, Fit], path: Path, header: list[str], fitted: set[str]
) -> Any:
    """Write the architecture with the services in `fitted` changed; load it back."""
    from twin.platform.architecture import load_architecture

    fits = {n: f for n, f in fits.items() if n in fitted}
    notes = {n: "see header" for n in fits}
    path.write_text(calibrated_yaml(text, fits, header, notes), encoding="utf-8")
    return load_architecture(path)


def _queueing(predicted: Mapping[str, Any], bare: Mapping[str, tuple[float, float]]) -> dict:
    """Each type's p50 and p95 in the model over their no-wait values (>= 1)."""
    out = {}
    for rtype, (p50, p95) in bare.items():
        lat = (predicted.get("requests", {}).get(rtype) or {}).get("latency_ms") or {}
        if lat.get("p50") and p50 > 0:
            out[rtype] = (max(1.0, lat["p50"] / 1e3 / p50), max(1.0, lat["p95"] / 1e3 / p95))
    return out


def run_calibration(
    drill_dir: Path, architecture: str, out_file: Path, *, seed: int = 0
) -> dict[str, Any]:
    """Fit, write `out_file`, and return the errors before and after and the fits."""
    import json

    from twin.drill.predict import compile_target, drill_platform, target_architecture
    from twin.drill.run import DrillOptions, compile_drill
    from twin.errors import InputError

    summary_path = Path(drill_dir) / "summary.json"
    if not summary_path.is_file():
        raise InputError(str(drill_dir), None, "no summary.json: not a drill's output folder")
    measured = json.loads(summary_path.read_text(encoding="utf-8"))
    if measured.get("engine") != "drill":
        raise InputError(str(summary_path), "engine", "not a drill's summary")
    d = measured["drill"]
    scenario_file = Path(d.get("scenario_file") or f"scenarios/{measured['scenario']}.yaml")
    options = DrillOptions(
        scenario=scenario_file, out=Path(drill_dir), target="local", scale=d["scale"],
        speedup=d["speedup"], duration=d["duration_s"],
    )  # fmt: skip
    scenario, _arch, _compiled, work = compile_drill(options)
    base = target_architecture(architecture, scenario_file)
    source = architecture_source(architecture, scenario_file)
    text = source.read_text(encoding="utf-8")
    header = header_lines(Path(drill_dir), measured)
    compiled = compile_target(scenario, base)
    before = _exact(drill_platform(compiled, work), scenario, seed)
    fits = _fits_of(base)
    fixed: frozenset[str] = frozenset()
    probe = (measured["requests"].get(PROBE) or {}).get("latency_ms") or {}
    if API in fits and probe.get("p50") and measured["requests"][PROBE]["count"] >= 5:
        fits[API] = lognormal_from_quantiles(probe["p50"] / 1e3, probe["p95"] / 1e3)
        fixed = frozenset({API})
    targets = targets_from_summary(measured, compiled.visits)
    rng = np.random.default_rng([seed, 0xCA1])
    fits = fit_services(fits, targets, rng, fixed=frozenset(fixed))
    fitted = {h for tg in targets.values() for h, _ in tg.hops if h in fits}
    arch = _with_fits(text, fits, out_file, header, fitted)
    mid = _exact(drill_platform(compile_target(scenario, arch), work), scenario, seed)
    lift = _queueing(mid, no_wait_quantiles(fits, targets, rng))
    targets = {t: Target(tg.hops, tg.p50 / lift.get(t, (1, 1))[0], tg.p95 / lift.get(t, (1, 1))[1],
                         tg.count) for t, tg in targets.items()}  # fmt: skip
    fits = fit_services(fits, targets, rng, fixed=frozenset(fixed))
    arch = _with_fits(text, fits, out_file, header, fitted)
    after = _exact(drill_platform(compile_target(scenario, arch), work), scenario, seed)
    return {
        "measured": measured, "before": before, "after": after,
        "fits": {n: f for n, f in fits.items() if n in fitted},
        "errors_before": prediction_errors(measured, before),
        "errors_after": prediction_errors(measured, after), "out": out_file,
    }  # fmt: skip


def architecture_source(name_or_path: str, scenario_path: Path) -> Path:
    """The file `target_architecture` reads for `name_or_path`."""
    from twin.platform.riders import architecture_file

    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    return Path(architecture_file(Path(scenario_path), str(name_or_path)))
