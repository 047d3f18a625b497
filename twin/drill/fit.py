"""Fitting service times to what drills measured, and writing them into an architecture.

The pure half of `twin calibrate`: the run over drill folders is `twin.drill.calibration`.

A drill measures each request type end to end (latency from the intended send time, p50 and
p95). A request type crosses the services of its route, so its latency is the sum of what it
spends at each. `fit_services` fits each service not held fixed, in turn (two sweeps, so
services that share request types settle): a lognormal (mean, cv) minimising the squared log
errors of the p50 and p95 of the request types crossing it, weighted by sqrt(count), where a
type's latency is the sum of its hops' service times (Monte Carlo with common random numbers,
so the fit is smooth). `no_wait_quantiles` gives those sums' p50/p95, which the exact engine's
prediction (with queueing) is set against.

`calibrated_yaml` rewrites each fitted `service:` line in the architecture file (comments
kept) and heads it with where the numbers came from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from twin.drill.measure import pinned

__all__ = [
    "Fit",
    "FitTarget",
    "calibrated_yaml",
    "fit_services",
    "lognormal_from_quantiles",
    "no_wait_quantiles",
    "prediction_errors",
    "targets_from_summary",
]

_Z95 = 1.6448536269514722  # standard normal 95th percentile
_DRAWS = 20_000
P95_WEIGHT = 0.25  # a pinned p95 still moves more between identical drills than a p50
# A p95 the drill did not pin down still says something of a service's spread: without it, a
# service whose types' p95s are all loose (the event types of light drills) keeps the cv of its
# first guess, which is the busiest drill's p95, stampede and all.
LOOSE_P95_WEIGHT = 0.05
_MAX_CV = 2.0  # a lognormal with a larger cv is a median near 0 and a few huge values: no delay
API = "api"


@dataclass(frozen=True)
class Fit:
    """A service time: lognormal mean (s) and coefficient of variation, plus one of `atoms`
    (seconds, share) when it has them (a segment's per-MB cost at each rendition's size)."""

    mean_s: float
    cv: float
    atoms: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class FitTarget:
    """What the drill measured for one request type (seconds) and its route's hops."""

    hops: tuple[tuple[str, float], ...]
    p50: float
    p95: float
    count: int
    p95_weight: float = 1.0  # 0: the drill did not pin its p95 down (`measure.pinned`)


def lognormal_from_quantiles(p50: float, p95: float) -> Fit:
    """The lognormal with this median and 95th percentile (its mean and cv)."""
    sigma = max(math.log(max(p95, p50 * 1.0001) / p50) / _Z95, 1e-3)
    return Fit(p50 * math.exp(sigma**2 / 2.0), math.sqrt(math.expm1(sigma**2)))


def _draws(fit: Fit, z: tuple[np.ndarray, ...]) -> np.ndarray:
    sigma = math.sqrt(math.log1p(fit.cv**2))
    out = fit.mean_s * np.exp(sigma * z[0] - sigma**2 / 2.0)
    if fit.atoms:
        values = np.array([v for v, _ in fit.atoms])
        cum = np.cumsum([s for _, s in fit.atoms])
        out = out + values[np.minimum(np.searchsorted(cum / cum[-1], z[2]), len(values) - 1)]
    return out


def _latency(hops: tuple[tuple[str, float], ...], fits: Mapping[str, Fit], z: dict) -> np.ndarray:
    total = np.zeros(_DRAWS)
    for hop, share in hops:
        if hop in fits:
            part = _draws(fits[hop], z[hop])
            total += part if share >= 1.0 else part * (z[hop][1] < share)
    return total


def _start(name: str, fits: dict[str, Fit], mine: Mapping[str, FitTarget], z: dict) -> Fit:
    """A first guess: the busiest type's quantiles less those of its other hops."""
    tg = max(mine.values(), key=lambda t: t.count)
    others = tuple((h, s) for h, s in tg.hops if h != name)
    rest = np.percentile(_latency(others, fits, z), [50, 95]) if others else np.zeros(2)
    p50 = max(tg.p50 - rest[0], 0.1 * tg.p50)
    return lognormal_from_quantiles(p50, max(tg.p95 - rest[1], 1.5 * p50))


def _fit_one(name: str, fits: dict[str, Fit], targets: Mapping[str, FitTarget], z: dict) -> Fit:

    mine = {t: tg for t, tg in targets.items() if any(h == name for h, _ in tg.hops)}
    if not mine:
        return fits[name]

    top = max(tg.p95 for tg in mine.values())
    lo = np.array([math.log(1e-6), math.log(0.05)])
    hi = np.array([math.log(top), math.log(_MAX_CV)])

    def loss(x: np.ndarray) -> float:
        x = np.clip(x, lo, hi)
        trial = {**fits, name: Fit(math.exp(x[0]), math.exp(x[1]))}
        err = 0.0
        for tg in mine.values():
            got = np.percentile(_latency(tg.hops, trial, z), [50, 95])
            w = math.sqrt(tg.count)
            err += w * (math.log(got[0] / tg.p50) ** 2
                        + tg.p95_weight * math.log(got[1] / tg.p95) ** 2)  # fmt: skip
        return err

    start = _start(name, fits, mine, z)
    x0 = np.array([math.log(start.mean_s), math.log(max(start.cv, 0.05))])
    x0 = np.clip(x0, lo, hi)
    best = minimize(loss, x0, method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-6})
    x = np.clip(best.x, lo, hi)
    return Fit(round(math.exp(x[0]), 7), round(math.exp(x[1]), 4))


def fit_services(
    fits: Mapping[str, Fit], targets: Mapping[str, FitTarget], rng: np.random.Generator,
    *, fixed: frozenset[str] = frozenset(), sweeps: int = 2,
) -> dict[str, Fit]:  # fmt: skip
    """Every service on a target's route fitted in turn (those in `fixed` are kept)."""
    out = dict(fits)
    hops = sorted({h for tg in targets.values() for h, _ in tg.hops if h in out})
    z = {h: (rng.standard_normal(_DRAWS), rng.random(_DRAWS), rng.random(_DRAWS)) for h in hops}
    for _ in range(sweeps):
        for name in hops:
            if name not in fixed:
                out[name] = _fit_one(name, out, targets, z)
    return out


def no_wait_quantiles(
    fits: Mapping[str, Fit], targets: Mapping[str, FitTarget], rng: np.random.Generator
) -> dict[str, tuple[float, float]]:
    """p50 and p95 of each type's latency with no queueing (the sum of its service times)."""
    hops = sorted({h for tg in targets.values() for h, _ in tg.hops})
    z = {h: (rng.standard_normal(_DRAWS), rng.random(_DRAWS), rng.random(_DRAWS)) for h in hops}
    out = {}
    for rtype, tg in targets.items():
        p50, p95 = np.percentile(_latency(tg.hops, fits, z), [50, 95])
        out[rtype] = (float(p50), float(p95))
    return out


def targets_from_summary(
    summary: Mapping[str, Any], visits: Mapping[str, list[tuple[str, float]]],
    min_count: int = 5,
) -> dict[str, FitTarget]:  # fmt: skip
    """The measured p50/p95 (s) of every modelled request type with at least `min_count`."""
    out = {}
    for rtype, block in summary.get("requests", {}).items():
        lat = block.get("latency_ms") or {}
        if rtype not in visits or (block.get("count") or 0) < min_count or not lat.get("p50"):
            continue
        out[rtype] = FitTarget(tuple((h, float(s)) for h, s in visits[rtype]),
                            lat["p50"] / 1e3, lat["p95"] / 1e3, int(block["count"]),
                            P95_WEIGHT if pinned(block, "p95") else LOOSE_P95_WEIGHT)  # fmt: skip
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


def _wait(load_cpu: Any) -> str:
    ratio = getattr(load_cpu, "wait_per_cpu", None)
    return "" if ratio is None else f", wait_per_cpu: {ratio:.6g}"


def _after_flow(lines: list[str], at: int) -> list[str]:
    """The lines after the flow mapping that starts at `lines[at]` (it may span lines)."""
    depth, i = 0, at
    while i < len(lines):
        text = lines[i].split("#", 1)[0]
        depth += text.count("{") - text.count("}")
        i += 1
        if depth <= 0:
            break
    return lines[i:]


def calibrated_yaml(
    text: str, fits: Mapping[str, Fit], header: list[str], notes: Mapping[str, str],
    per_mb: Mapping[str, float] | None = None, load_cpu: Any = None,
    wake: Mapping[str, tuple[float, float] | None] | None = None, target_cpu: Any = None,
) -> str:  # fmt: skip
    """The architecture file with each fitted service's `service:` line replaced (and, for the
    services in `per_mb`, a `service_per_mb_s:` line after it; for those in `wake`, its
    `wake:` line, or none when it is None), headed by `header`."""
    per_mb, wake = per_mb or {}, wake or {}
    # An editor's schema line stays the first line; the previous calibration's header goes.
    modeline = [ln for ln in text.splitlines()[:1] if ln.startswith("# yaml-language-server:")]
    lines = [ln for ln in text.splitlines()[len(modeline) :] if not ln.startswith("# CALIBRATED")]
    out: list[str] = []
    current = None
    for line in lines:
        comp = re.match(r"^  ([A-Za-z0-9_-]+):\s*(#.*)?$", line)
        if comp:
            current = comp.group(1)
        elif re.match(r"^\S", line):
            current = None
        if current in per_mb and re.match(r"^\s+service_per_mb_s:", line):
            continue  # written again after the service line
        if current in wake and re.match(r"^\s+wake:", line):
            continue  # written again after the service line (or gone)
        match = _SERVICE.match(line)
        if match and current is not None and current in fits:
            line = _service_line(match.group(1), fits[current], notes.get(current, ""))
        out.append(line)
        if match and current is not None and current in per_mb:
            out.append(f"{match.group(1)}service_per_mb_s: {per_mb[current]:.6g}"
                       "   # calibrated: CPU per MB moved, see header")  # fmt: skip
        if match and current is not None and wake.get(current) is not None:
            penalty, tau = wake[current]  # type: ignore[misc]
            out.append(f"{match.group(1)}wake: {{penalty_s: {penalty:.6g}, tau_s: {tau:.6g}}}"
                       "   # calibrated: waking from idle, see header")  # fmt: skip
    if load_cpu is not None:
        out = [ln for ln in out if not ln.startswith("load_cpu:")]
        while out and not out[-1].strip():
            out.pop()
        out += [
            "",
            f"load_cpu: {{per_request_s: {load_cpu.per_request_s:.6g}, "
            f"per_mb_s: {load_cpu.per_mb_s:.6g}, per_s: {load_cpu.per_s:.6g}{_wait(load_cpu)}}}"
            "   # calibrated: the drills' Locust CPU, a drill's speed reference",
        ]
    if target_cpu is not None and target_cpu.per_request_s is not None:
        line = (f"target_cpu: {{components: [{', '.join(target_cpu.components)}],\n"
                f"             per_request_s: {target_cpu.per_request_s:.6g}, per_mb_s: "
                f"{target_cpu.per_mb_s:.6g}, per_s: {target_cpu.per_s:.6g}}}"
                "   # calibrated: the target's CPU, its speed reference")  # fmt: skip
        at = [i for i, ln in enumerate(out) if ln.startswith("target_cpu:")]
        out = ([*out[: at[0]], line, *_after_flow(out, at[0])] if at else [*out, line])
    stamp = [f"# CALIBRATED {h}" for h in header]
    return "\n".join(modeline + stamp + out) + "\n"
