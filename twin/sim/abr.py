"""Adaptive bitrate under short egress: which riders step down a rendition, and who rebuffers.

The mechanism the engines apply when a CDN cannot deliver what riders ask for; the renditions
and their bitrates are the platform's vocabulary (`twin.config.vocabulary`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.config.vocabulary import BITRATE_MBPS, RENDITIONS

__all__ = ["Downshift", "downshift"]


@dataclass(frozen=True)
class Downshift:
    """What riders get when egress is short: delivered bits/s and who is degraded."""

    delivered_bps: float
    downshifted: float  # riders moved to a lower rendition than they asked for
    rebuffering: float  # riders the lowest rendition still does not fit


def downshift(
    riders_by_rendition: np.ndarray, capacity_bps: float, *, adaptive: bool = True
) -> Downshift:
    """Fit riders' video into `capacity_bps`, moving the highest renditions down first.

    Without adaptive bitrate nobody moves: riders beyond capacity (the share that does not
    fit) rebuffer. With it, riders step down one rendition at a time from the top; if even
    everyone at 720p does not fit, the excess rebuffers.
    """
    riders = np.asarray(riders_by_rendition, dtype=float).copy()
    total = riders.sum()
    bps = BITRATE_MBPS * 1e6
    wanted = float(riders @ bps)
    if wanted <= capacity_bps or total <= 0:
        return Downshift(wanted, 0.0, 0.0)
    if not adaptive:
        return Downshift(capacity_bps, 0.0, total * (1.0 - capacity_bps / wanted))
    moved = 0.0
    for r in range(len(RENDITIONS) - 1, 0, -1):
        excess = float(riders @ bps) - capacity_bps
        if excess <= 0:
            break
        step = min(riders[r], excess / (bps[r] - bps[r - 1]))
        riders[r] -= step
        riders[r - 1] += step
        moved += step
    need = float(riders @ bps)
    stalled = max(0.0, need - capacity_bps) / bps[0]
    return Downshift(min(need, capacity_bps), moved, min(stalled, total))
