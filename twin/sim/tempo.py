"""Stroke-to-tempo lag and the audio heard (seed 002), as both engines report them.

An engine measures the `tempo` route like any other request type (`requests.tempo`: each
sample's latency through ingest and the tempo service, and the samples lost). What the rider
hears adds the parts outside the platform (`twin.config.audio.Audio`): the device's own delay,
the network's round trip, and the wait for the player's next BPM transition grain; a sample
lost on the way leaves the old tempo playing until the next sample's answer, a sample period
later (so k losses in a row add k periods, k geometric with the loss share). The lags are
drawn from those laws with the run's own random stream; their percentiles are the summary's
`experience.tempo_lag_ms`.

`tempo_stale_fraction`: the share of tempo updates the rider never hears in time, lost or
answered after the next sample was already sent. `audio_dry_fraction`: the share of listening
time that was silence because the buffer ran dry (`twin.sim.audio_buffer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from twin.config.audio import Audio
from twin.config.vocabulary import BITRATE_MBPS
from twin.rng import component_rng
from twin.sim.audio_buffer import buffer_gaps, delivered_share, dry_fraction
from twin.sim.distributions import block_function
from twin.sim.platform_input import CompiledPlatform
from twin.sim.records import ReplicationRecord
from twin.sim.sketch import EDGES

__all__ = [
    "DRAWS",
    "audio_dry",
    "draw_from_histogram",
    "tempo_block",
    "tempo_experience",
    "tempo_lags_ms",
]

DRAWS = 200_000  # lags drawn: the p99's sampling error is then well under 1 ms


def draw_from_histogram(hist: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` values (s) from a `twin.sim.sketch` histogram: a bin by its weight, then log-uniform
    inside it (the sketch's own reading of a quantile)."""
    p = np.asarray(hist, dtype=float)
    bins = rng.choice(len(p), size=n, p=p / p.sum())
    top = len(EDGES) - 1
    lo = np.log10(EDGES[np.clip(bins - 1, 0, top)])  # bin b spans EDGES[b - 1]..EDGES[b]
    hi = np.log10(EDGES[np.clip(bins, 0, top)])
    values = 10.0 ** (lo + rng.random(n) * (hi - lo))
    return np.where(bins == 0, 0.0, values)


def tempo_lags_ms(
    route_s: np.ndarray, audio: Audio, lost_share: float, rng: np.random.Generator
) -> np.ndarray:
    """Stroke-to-tempo lag (ms) of each route latency in `route_s` (see the module's docstring)."""
    n = len(route_s)
    rtt = block_function(audio.network_rtt, rng)(n)
    grain = rng.random(n) * audio.transition_ms
    lost = rng.geometric(1.0 - min(lost_share, 0.999), n) - 1
    answered = (np.asarray(route_s) + rtt) * 1000.0
    return audio.device_ms + answered + grain + lost * audio.sample_every_s * 1000.0


def _stale_share(route_s: np.ndarray, audio: Audio, lost_share: float, rng: Any) -> float:
    late = np.asarray(route_s) + block_function(audio.network_rtt, rng)(len(route_s))
    return lost_share + (1.0 - lost_share) * float(np.mean(late > audio.sample_every_s))


def _pooled(records: Sequence[ReplicationRecord]) -> tuple[np.ndarray, float]:
    """The tempo route's latency histogram over every replication, and the share lost."""
    sources = [r.sources["tempo"] for r in records]
    hist = np.sum([s.latency_hist.sum(axis=0) for s in sources], axis=0)
    errors = sum(float(s.errors.sum()) for s in sources)
    arrivals = sum(float(s.arrivals.sum()) for s in sources)
    return hist, (errors / arrivals if arrivals > 0 else 0.0)


def tempo_block(
    route_s: np.ndarray, audio: Audio, lost_share: float, rng: np.random.Generator
) -> dict[str, Any]:
    """`tempo_lag_ms` and `tempo_stale_fraction` from draws of the tempo route's latency (s)
    and the share of samples lost: what engines and drills report alike."""
    if len(route_s) == 0:
        return {"tempo_lag_ms": {"p50": None, "p99": None, "max": None}}
    lags = tempo_lags_ms(route_s, audio, lost_share, rng)
    p50, p99 = np.percentile(lags, [50, 99])
    return {
        "tempo_lag_ms": {"p50": _r(p50), "p99": _r(p99), "max": _r(lags.max())},
        "tempo_stale_fraction": round(_stale_share(route_s, audio, lost_share, rng), 6),
    }


def audio_dry(
    compiled: CompiledPlatform, audio: Audio, wanted_bps: np.ndarray, listeners: np.ndarray
) -> float:
    """Share of listening time in silence: the buffer fed at the CDN's delivered share (the
    least over the CDNs), players asking for `wanted_bps` of video plus their audio."""
    asked = np.asarray(wanted_bps, dtype=float) + np.asarray(listeners) * audio.bitrate_kbps * 1e3
    shares = [
        delivered_share(spec.egress_bps, asked)
        for spec in compiled.services.values()
        if spec.egress_bps is not None
    ]
    share = np.minimum.reduce(shares) if shares else np.ones(len(asked))
    gaps = buffer_gaps(share * audio.fetch_speedup, float(compiled.tick_s), audio.buffer_s)
    return dry_fraction(gaps, listeners, float(compiled.tick_s))


def tempo_experience(
    records: Sequence[ReplicationRecord],
    compiled: CompiledPlatform,
    seed: int,
    *,
    watching: np.ndarray | None = None,
) -> dict[str, Any]:
    """The `experience` keys of the tempo path; empty when no session plays music.

    `watching` (renditions x ticks) is the riders playing video by rendition (the exact
    engine's own riders); the compile's riders by default."""
    audio = compiled.audio
    if audio is None or not records or "tempo" not in records[0].sources:
        return {}
    hist, lost = _pooled(records)
    rng = component_rng(seed, "tempo-lag")
    route = draw_from_histogram(hist, DRAWS, rng) if hist.sum() > 0 else np.zeros(0)
    block = tempo_block(route, audio, lost, rng)
    by_rendition = compiled.riders_by_rendition if watching is None else watching
    music = np.asarray(compiled.demand["tempo"]) * audio.sample_every_s
    listeners = by_rendition.sum(axis=0) * _music_share(compiled, music)
    wanted = (BITRATE_MBPS * 1e6) @ by_rendition
    block["audio_dry_fraction"] = round(audio_dry(compiled, audio, wanted, listeners), 6)
    return block


def _music_share(compiled: CompiledPlatform, music: np.ndarray) -> np.ndarray:
    """Per tick, the share of riding riders who play music (the compile's)."""
    active = np.asarray(compiled.active_riders, dtype=float)
    return np.divide(music, active, out=np.zeros_like(music), where=active > 0)


def _r(value: float) -> float:
    return round(float(value), 1)
