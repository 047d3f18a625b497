"""The audio player's buffer (seed 002: 30 s audio segments pre-buffered), as both engines run it.

A player keeps `buffer_s` of audio ahead and plays one second per second. While the CDN
delivers all that players ask for, it refills `fetch_speedup` seconds of audio per second (its
share of the rider's link over the audio's bitrate); when the CDN's egress is short it
delivers that share of every stream (fair share: a player gets what the CDN can give over
what all players ask), and the refill slows in proportion. When the refill is slower than
playback the buffer drains; empty, the player plays only what arrives: the rest is a gap,
and while the buffer is dry no tempo change can be heard.

The buffer is followed as one representative player (every listener's share of the CDN is
alike) in closed form within each tick, so a tick's length does not bias it; segments are not
fetched one at a time but as the flow they average to (a 30 s segment at 25x speed takes
1.2 s). Pure calculation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["buffer_gaps", "delivered_share", "dry_fraction"]


def delivered_share(egress_bps: np.ndarray, wanted_bps: np.ndarray) -> np.ndarray:
    """Share of what players ask for that the CDN's egress carries, per tick (1 when it fits,
    0 when the CDN is down)."""
    egress = np.maximum(np.asarray(egress_bps, dtype=float), 0.0)
    wanted = np.asarray(wanted_bps, dtype=float)
    share = np.divide(egress, wanted, out=np.ones_like(wanted), where=wanted > 0)
    return np.minimum(share, 1.0)


def buffer_gaps(
    supply: np.ndarray, tick_s: float, buffer_s: float, start_s: float | None = None
) -> np.ndarray:
    """Seconds of silence per tick for a player whose refill is `supply[k]` seconds of audio
    per second, starting with `start_s` buffered (full by default)."""
    level = buffer_s if start_s is None else start_s
    gaps = np.zeros(len(supply))
    for k, rate in enumerate(np.asarray(supply, dtype=float)):
        level, gaps[k] = _tick(level, float(rate), tick_s, buffer_s)
    return gaps


def _tick(level: float, rate: float, tick_s: float, buffer_s: float) -> tuple[float, float]:
    """(level at the tick's end, silence in it): draining at 1 - rate until empty, then
    playing only the `rate` that arrives."""
    if rate >= 1.0:
        return min(buffer_s, level + (rate - 1.0) * tick_s), 0.0
    drain = 1.0 - rate
    empty_after = level / drain
    if empty_after >= tick_s:
        return level - drain * tick_s, 0.0
    return 0.0, (tick_s - empty_after) * drain


def dry_fraction(gaps: np.ndarray, listeners: np.ndarray, tick_s: float) -> float:
    """Share of listening time that was silence: gaps weighted by the listeners at each tick."""
    listening = float(np.sum(listeners) * tick_s)
    if listening <= 0:
        return 0.0
    return float(np.dot(gaps, listeners)) / listening
