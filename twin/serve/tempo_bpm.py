"""The tempo service's arithmetic: a rider's recent cadence samples -> the music's BPM.

One beat per stroke (a pedal revolution, or a running step): the music's beats per minute are
the rider's strokes per minute, folded by octaves into `BPM_RANGE` (half or double time, as DJ
software matches tempos), so 90 rpm plays at 90 BPM and 45 rpm at 90 BPM in double time.

Smoothing: the cadence is the exponentially weighted mean of the device's samples of the last
`WINDOW_S` seconds, each weighted 2^-(age / HALF_LIFE_S) by its age behind the newest sample.
A half-life of 2 s follows a sustained change within a couple of samples (a new cadence is
half the answer when it has been held one half-life) and irons out one stroke's jitter; the
window bounds what an old sample can still weigh (2^-5 at 10 s). A smoothed cadence under
`STOPPED_RPM` is a rider who stopped: no tempo (the player keeps the music's own).

Pure calculation: the backend keeps the samples, the route answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["BPM_RANGE", "HALF_LIFE_S", "STOPPED_RPM", "WINDOW_S", "Tempo", "fold_bpm", "tempo_of"]

WINDOW_S = 10.0
HALF_LIFE_S = 2.0
STOPPED_RPM = 20.0
BPM_RANGE = (60.0, 200.0)  # workout music: from a cool-down to a sprint (double time above)


@dataclass(frozen=True, slots=True)
class Tempo:
    """The answer: smoothed cadence (rpm), the music's BPM (None: stopped), samples used."""

    cadence_rpm: float
    bpm: float | None
    samples: int


def fold_bpm(strokes_per_min: float) -> float:
    """Strokes per minute as beats per minute inside `BPM_RANGE` (doubling or halving)."""
    low, high = BPM_RANGE
    bpm = float(strokes_per_min)
    while bpm < low:
        bpm *= 2.0
    while bpm > high:
        bpm /= 2.0
    return bpm


def smoothed_cadence(samples: Sequence[tuple[float, float]]) -> float:
    """The weighted mean cadence of (t, rpm) samples within `WINDOW_S` of the newest."""
    newest = max(t for t, _ in samples)
    recent = [(newest - t, rpm) for t, rpm in samples if newest - t <= WINDOW_S]
    weights = [2.0 ** (-age / HALF_LIFE_S) for age, _ in recent]
    return sum(w * rpm for w, (_, rpm) in zip(weights, recent, strict=True)) / sum(weights)


def tempo_of(samples: Sequence[tuple[float, float]]) -> Tempo:
    """The tempo of a device's recent (t, cadence rpm) samples (at least one)."""
    if not samples:
        raise ValueError("a tempo needs at least one cadence sample")
    cadence = smoothed_cadence(samples)
    bpm = None if cadence < STOPPED_RPM else round(fold_bpm(cadence), 1)
    used = sum(1 for t, _ in samples if max(s for s, _ in samples) - t <= WINDOW_S)
    return Tempo(round(cadence, 2), bpm, used)
