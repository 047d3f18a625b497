"""The drill's workload: the scenario's riders and requests, scaled down and time-compressed.

Drill second `k` stands for scenario seconds `[k X, (k + 1) X)` at speedup `X`. Over it:

- users = scale x the mean active riders (dithered to whole users so that their running
  mean follows the fractional target: a 7.4-rider plan alternates 7 and 8, not always 7);
- requests a rider makes *while riding* keep their real-time pace (the player reloads every
  target duration), so their rates are scale x the scenario's rates;
- session starts and ends (`recommend`, `join`, `workout`, `feedback`, and the one playlist an
  on-demand player loads when it starts) come `X` times as often, since every session lasts
  `1/X` as long with the same riders in session (Little's law).

So that the riders' sessions last what the twin's sessions last (else they start more or
fewer of them than the twin counts), the plan also carries when each live class takes its
joiners (`live_joins`, the twin's join curve per drill second) and the on-demand session
lengths (`od_lengths`, the library's popularity-weighted length distribution).

`plan_document` puts it all in the `twin.drill.wire.Plan` the load generators read.

Pure calculation: `compress` and `drill_workload` return arrays, `plan_document` the plan;
`twin.drill.run` writes files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twin.config.vocabulary import TELEMETRY_BATCH_S
from twin.drill.wire import LiveClass, Plan, Profile
from twin.errors import InputError
from twin.platform.demand import join_cdf, od_length_pmf
from twin.platform.workload import FEEDBACK_SHARE, LEADERBOARD_LIVE_S, LEADERBOARD_OD_S

__all__ = [
    "EVENT_TYPES",
    "DrillWorkload",
    "compress",
    "dither",
    "drill_duration",
    "drill_workload",
    "live_joins",
    "od_lengths",
    "plan_document",
]

# Request types counted once per session start or end: they speed up with the clock.
EVENT_TYPES = frozenset({"recommend", "join", "workout", "feedback"})
DITHER_HOLD_S = 3  # whole users hold a level this long (see `dither`; the riders' PARK_S is 5)


@dataclass(frozen=True)
class DrillWorkload:
    """Per drill second: planned users, requested riders and request rates, live shares."""

    duration_s: int
    speedup: float
    scale: float
    users: np.ndarray  # whole users per second (what Locust is told)
    riders: np.ndarray  # the fractional target the users follow
    rates: dict[str, np.ndarray]  # requested requests/s per type
    live_start_share: np.ndarray
    active_live_share: np.ndarray
    device_share: float  # share of active riders on a bike or tread (telemetry senders)
    live_classes: tuple[Any, ...] = ()  # the scenario's live classes (`LiveClassLoad`)
    live_ends: np.ndarray | None = None  # live sessions ending per drill second (requests)

    @property
    def total_rate(self) -> np.ndarray:
        return np.sum(list(self.rates.values()), axis=0)


def drill_duration(scenario_s: float, speedup: float, duration: float | None) -> int:
    """Whole drill seconds: `--duration`, else the scenario's length over the speedup."""
    if not speedup > 0:
        raise InputError("--speedup", None, f"must be > 0, got {speedup:g}")
    longest = math.floor(scenario_s / speedup + 1e-9)
    if duration is None:
        if longest < 1:
            raise InputError("--speedup", None, "compresses the scenario to under one second")
        return longest
    if not duration >= 1:
        raise InputError("--duration", None, f"must be >= 1 second, got {duration:g}")
    if duration > longest:
        raise InputError(
            "--duration",
            None,
            f"{duration:g} s at {speedup:g}x would run past the scenario's {scenario_s:g} s "
            f"(at most {longest} s)",
        )
    return int(duration)


def compress(series: np.ndarray, tick_s: float, speedup: float, seconds: int) -> np.ndarray:
    """Mean of a per-tick series over each drill second's scenario window."""
    values = np.asarray(series, dtype=float)
    out = np.empty(seconds)
    for k in range(seconds):
        lo = math.floor(k * speedup / tick_s + 1e-9)
        hi = max(lo + 1, math.ceil((k + 1) * speedup / tick_s - 1e-9))
        out[k] = values[min(lo, values.size - 1) : min(hi, values.size)].mean()
    return out


def dither(target: np.ndarray, hold: int = 1) -> np.ndarray:
    """Whole numbers whose running sum tracks the target's (error diffusion).

    With `hold` 1 the running sums stay within 1/2. A level is otherwise kept for at least
    `hold` seconds unless the running error would pass `(hold + 1) / 2`: a 7.5-rider plan
    goes 7, 7, 7, 8, 8, 8 rather than 7, 8, 7, 8, so that users are stopped and started (and
    sessions interrupted) a third as often, and a real rise or fall is still followed at once.
    """
    out = np.empty(target.size, dtype=np.int64)
    carried, level, held = 0.0, -1, hold
    for i, want in enumerate(np.asarray(target, dtype=float)):
        # the level the running error asks for, never outside the two around the target
        ideal = min(max(math.floor(want + carried + 0.5), math.floor(want)), math.ceil(want))
        if ideal != level and (held >= hold or abs(want - level) >= 1.0):
            level, held = max(0, ideal), 0
        carried += want - level
        held += 1
        out[i] = level
    return out


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    return np.clip(np.divide(part, whole, out=np.zeros_like(part), where=whole > 0), 0.0, 1.0)


def drill_workload(
    compiled: object,
    sessions: Any,
    *,
    scale: float,
    speedup: float,
    seconds: int,
    rider_factor: float = 1.0,
) -> DrillWorkload:
    """The scaled, compressed workload of a `CompiledPlatform` and the riders' `sessions`
    (`twin.platform.demand.Demand`) for `seconds` drill seconds.

    `rider_factor` multiplies on top of `scale` when the platform was compiled for fewer riders
    than the scenario names (demand is proportional to riders).
    """
    if not scale > 0:
        raise InputError("--scale", None, f"must be > 0, got {scale:g}")
    cp = compiled
    factor = scale * rider_factor
    tick = float(cp.tick_s)  # type: ignore[attr-defined]

    def squeeze(series: np.ndarray) -> np.ndarray:
        return compress(series, tick, speedup, seconds)

    active = squeeze(cp.active_riders)  # type: ignore[attr-defined]
    rates = {
        name: squeeze(rate) * factor * (speedup if name in EVENT_TYPES else 1.0)
        for name, rate in cp.demand.items()  # type: ignore[attr-defined]
    }
    if "playlist" in rates:  # an on-demand start's playlist load is a session event
        od_starts = squeeze(sessions.starts_od.sum(axis=0)) * factor
        rates["playlist"] = rates["playlist"] + od_starts * (speedup - 1.0)
    live_starts = squeeze(sessions.starts_live.sum(axis=0))
    all_starts = live_starts + squeeze(sessions.starts_od.sum(axis=0))
    live_active = squeeze(sessions.active_live.sum(axis=0))
    device_riders = squeeze(cp.telemetry_samples_per_s)  # type: ignore[attr-defined]
    riders = active * factor
    return DrillWorkload(
        duration_s=seconds,
        speedup=speedup,
        scale=scale,
        users=dither(riders, hold=DITHER_HOLD_S),
        riders=riders,
        rates=rates,
        live_start_share=_share(live_starts, all_starts),
        active_live_share=_share(live_active, active),
        device_share=float(device_riders.sum() / max(active.sum(), 1e-12)),
        live_classes=tuple(sessions.live_classes),
        live_ends=squeeze(sessions.ends_live.sum(axis=0)) * factor * speedup,
    )


def live_joins(
    classes: Sequence[Any], speedup: float, seconds: int
) -> list[list[tuple[int, float]]]:
    """Per drill second, `(class index, joiners)` of the live classes taking joiners then.

    Joiners follow the twin's join curve (`twin.platform.demand.join_cdf`, normalised at the
    class end) over the second's scenario window; a rider starting a live session picks its
    class with these weights, so it rides from when the twin's riders join to the class end.
    """
    out: list[list[tuple[int, float]]] = [[] for _ in range(seconds)]
    edges = np.arange(seconds + 1) * speedup
    for i, c in enumerate(classes):
        norm = float(join_cdf(np.array([float(c.duration_s)]))[0])
        cdf = join_cdf(np.minimum(edges - c.start_s, c.duration_s)) / max(norm, 1e-12)
        joined = np.diff(cdf) * float(c.riders)
        for k in np.flatnonzero(joined > 1e-9 * max(float(c.riders), 1.0)):
            out[int(k)].append((i, round(float(joined[k]), 6)))
    return out


def od_lengths(catalog: Any, longest_min: int = 120) -> list[tuple[float, float]]:
    """`(seconds, probability)` of on-demand session lengths, as the twin's demand counts them.

    The library's lengths weighted by popularity, in whole minutes (a session started in a
    minute is active for that many minutes: `twin.platform.demand`).
    """
    pmf = od_length_pmf(catalog, longest_min)
    return [(60.0 * k, round(float(p), 8)) for k, p in enumerate(pmf) if p > 0 and k > 0]


def plan_document(
    work: DrillWorkload, *, t0: float, pool: Sequence[Mapping[str, Any]],
    live: Sequence[Mapping[str, Any]], on_demand: Mapping[str, float], out_dir: Path, seed: int,
    segment_s: float, od: Sequence[tuple[float, float]], profile: Profile,
    tempo_s: float = 2.0, music_share: float = 0.0,
) -> Plan:  # fmt: skip
    """The plan of a drill starting at epoch second `t0`: `work` on the drill's clock with the
    scenario's live classes (`work.live_classes`) compressed to it, the target's own classes
    (`live`, epoch seconds, as `twin.drill.target.Target.classes` lists them; `on_demand`
    lengths), the rider pool, the workload model's constants the riders pace themselves by, and
    the target's `profile` (how every request is made); `music_share` of the sessions send a
    cadence sample every `tempo_s` (none when the profile does not drive `tempo`)."""
    x = work.speedup
    scenario_live = tuple(
        LiveClass(str(c.class_id), float(c.start_s) / x, float(c.start_s + c.duration_s) / x,
                  float(c.riders))
        for c in work.live_classes
    )  # fmt: skip
    target_live = tuple(LiveClass.from_json(dict(c), "the target's class list",
                                            field=f"target_live.{i}")
                        for i, c in enumerate(live))  # fmt: skip
    joins = live_joins(work.live_classes, x, work.duration_s)
    return Plan(
        t0=float(t0),
        duration_s=int(work.duration_s),
        speedup=float(x),
        users=tuple(int(u) for u in work.users),
        spawn_rate=float(max(10.0, 2 * work.users.max())),
        live_start_share=tuple(round(float(v), 4) for v in work.live_start_share),
        active_live_share=tuple(round(float(v), 4) for v in work.active_live_share),
        scenario_live=scenario_live,
        live_joins=tuple(tuple(second) for second in joins),
        od_lengths=tuple((float(s), float(p)) for s, p in od),
        target_live=target_live,
        on_demand={str(k): float(v) for k, v in on_demand.items()},
        riders=tuple(dict(r) for r in pool),
        out_dir=str(out_dir),
        seed=int(seed),
        segment_s=float(segment_s),
        telemetry_batch_s=float(TELEMETRY_BATCH_S),
        leaderboard_live_s=float(LEADERBOARD_LIVE_S),
        leaderboard_od_s=float(LEADERBOARD_OD_S),
        feedback_share=float(FEEDBACK_SHARE),
        profile=profile,
        tempo_s=float(tempo_s),
        music_share=float(music_share) if "tempo" in work.rates else 0.0,
    )
