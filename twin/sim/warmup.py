"""Warm-up deletion: MSER-5 picks where the initial transient ends, as JMT does.

White's MSER-5: group the output series into batches of 5, and choose the truncation point d
(in batches, at most half of them) that minimises the squared standard error of the mean of
what remains, sum((Z_j - mean)^2) / (n - d)^2. Pure function on a series; the engines decide
which series to give it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mser5"]

_BATCH = 5


def mser5(series: np.ndarray) -> int:
    """Number of leading observations to delete from `series` (NaNs are skipped over)."""
    values = np.asarray(series, dtype=float)
    positions = np.flatnonzero(~np.isnan(values))
    observed = values[positions]
    n_batches = len(observed) // _BATCH
    if n_batches < 4:
        return 0
    batches = observed[: n_batches * _BATCH].reshape(n_batches, _BATCH).mean(axis=1)
    best_d, best = 0, np.inf
    for d in range(n_batches // 2 + 1):
        rest = batches[d:]
        stat = float(((rest - rest.mean()) ** 2).sum()) / (len(rest) ** 2)
        if stat < best:
            best_d, best = d, stat
    if best_d == 0:
        return 0
    # Delete up to (and including) the last observation of the truncated batches.
    return int(positions[best_d * _BATCH - 1]) + 1
