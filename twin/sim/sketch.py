"""A streaming latency histogram: log-spaced bins, so memory stays flat however long a run is.

Bins are 1/100 of a decade wide (about 2.3 %), from 1 microsecond to 100,000 seconds, with one
bin for zero (below a microsecond) and one for overflow. A quantile is read by interpolating
inside its bin on the log scale, so its relative error is well under 1.2 %. Counts may be
integers (the exact engine) or real weights (the fluid engine's per-tick distributions).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["BINS", "EDGES", "LOW_S", "bin_index", "hist_mean", "hist_quantile", "histogram_of"]

LOW_S = 1e-6
HIGH_S = 1e5
BINS_PER_DECADE = 100
_DECADES = round(np.log10(HIGH_S / LOW_S))
# EDGES[i]..EDGES[i+1] is bin i+1; bin 0 is below LOW_S, the last bin above HIGH_S.
EDGES = LOW_S * 10.0 ** (np.arange(_DECADES * BINS_PER_DECADE + 1) / BINS_PER_DECADE)
BINS = len(EDGES) + 1


def bin_index(values: ArrayLike) -> np.ndarray:
    """The bin of each value in seconds (vectorized)."""
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.floor(np.log10(np.maximum(values, LOW_S * 0.5) / LOW_S) * BINS_PER_DECADE) + 1
    idx = np.where(values < LOW_S, 0, raw)
    return np.clip(idx, 0, BINS - 1).astype(np.int64)


def histogram_of(values: ArrayLike, weights: ArrayLike | None = None) -> np.ndarray:
    """A histogram (length BINS) of `values` in seconds."""
    return np.bincount(bin_index(values), weights=weights, minlength=BINS).astype(float)


def hist_quantile(counts: np.ndarray, q: float) -> float:
    """The q-quantile (0..1) in seconds of a histogram, NaN when it is empty."""
    total = float(counts.sum())
    if total <= 0:
        return float("nan")
    cum = np.cumsum(counts)
    target = q * total
    i = int(np.searchsorted(cum, target, side="left"))
    i = min(i, BINS - 1)
    if i == 0:
        return 0.0
    if i == BINS - 1:
        return float(EDGES[-1])
    below = cum[i - 1]
    frac = (target - below) / counts[i] if counts[i] > 0 else 0.5
    lo, hi = np.log10(EDGES[i - 1]), np.log10(EDGES[i])
    return float(10.0 ** (lo + min(max(frac, 0.0), 1.0) * (hi - lo)))


def hist_mean(counts: np.ndarray) -> float:
    """Approximate mean in seconds from bin midpoints (geometric); exact sums are better."""
    total = float(counts.sum())
    if total <= 0:
        return float("nan")
    mids = np.concatenate(([0.0], np.sqrt(EDGES[:-1] * EDGES[1:]), [EDGES[-1]]))
    return float((counts * mids).sum() / total)
