"""The worst moment of degraded video, as a share that means the same at any scale (both engines).

"Degraded video under 5 % at every moment" asks for the worst tick's share of watching riders
degraded. On the whole platform a tick holds tens of thousands of viewers and that share is a
statistic; at `--scale 0.002` a tick may hold one viewer, and one stalled segment makes it
100 %. So the peak is taken over the shortest spans that hold at least `PEAK_SPAN_RIDER_S` of
viewing (rider-seconds: a minute of 100 riders' video): the share of those rider-seconds that
were degraded, for the span starting at each tick, and the worst of them. Where a tick alone
holds that much viewing (any run of the full platform) the span is the tick and the peak is
the worst tick's share as before; a small run's peak is over a few seconds or minutes, and a
run that never holds that much is one span, its overall share.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PEAK_SPAN_RIDER_S", "peak_share"]

# A share of 6,000 rider-seconds moves by 1 / 6,000 per degraded rider-second: a single
# stalled 6 s segment is 0.1 %, far under a 5 % target, while a real outage still reads whole.
PEAK_SPAN_RIDER_S = 6000.0


def peak_share(watching: np.ndarray, degraded: np.ndarray, tick_s: float) -> float:
    """The worst share of viewing degraded over the spans holding PEAK_SPAN_RIDER_S of it
    (riders watching and degraded per tick; 0 when nobody watched)."""
    watched = np.concatenate(([0.0], np.cumsum(np.asarray(watching, float)) * tick_s))
    bad = np.concatenate(([0.0], np.cumsum(np.asarray(degraded, float)) * tick_s))
    if watched[-1] <= 0:
        return 0.0
    if watched[-1] < PEAK_SPAN_RIDER_S:
        return float(bad[-1] / watched[-1])
    start = np.arange(len(watched) - 1)
    end = np.searchsorted(watched, watched[start] + PEAK_SPAN_RIDER_S, side="left")
    ok = end < len(watched)
    start, end = start[ok], end[ok]
    share = (bad[end] - bad[start]) / (watched[end] - watched[start])
    return float(min(share.max(initial=0.0), 1.0))
