"""The recommender's scoring on a cache miss, measured from the target's own metrics.

`twin serve` caches each rider's recommendations for an hour under the model's fingerprint;
a miss scores the ALS model (`prediction_latency_seconds`, a histogram the drill saves in
`metrics.txt`), a hit does not. Which app opens miss follows from the drill's plan
(`twin.drill.predict.recommendation_misses`); how long a miss takes is measured here, over
the drills' misses: the mean is the histogram's sum over its count, exact; its spread is the
lognormal's, at that mean, most likely to put the misses in the buckets they fell in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import lognorm

from twin.drill.fit import Fit
from twin.drill.lag import METRICS_NAME
from twin.drill.saved_metrics import metric_samples

__all__ = ["METRIC", "METRICS_NAME", "scoring_fit"]

METRIC = "prediction_latency_seconds"
_MIN_MISSES = 20
_MIN_CV = 0.05


def _histogram(path: Path) -> tuple[float, float, dict[float, float]]:
    """(sum, count, cumulative count per upper bound) of the file's `METRIC`."""
    total = count = 0.0
    buckets: dict[float, float] = {}
    for sample in metric_samples(path, METRIC):
        if sample.name == f"{METRIC}_sum":
            total += sample.value
        elif sample.name == f"{METRIC}_count":
            count += sample.value
        elif sample.name == f"{METRIC}_bucket":
            le = float(sample.labels["le"])
            buckets[le] = buckets.get(le, 0.0) + sample.value
    return total, count, buckets


def _sigma(mean: float, buckets: dict[float, float]) -> float:
    """The lognormal sigma, at this mean, most likely to give the bucket counts (each an
    interval: the exact times are not kept)."""
    bounds = sorted(buckets)
    counts = np.diff([0.0, *(buckets[b] for b in bounds)])
    edges = np.array([0.0, *bounds])

    def loss(sigma: float) -> float:
        mu = math.log(mean) - sigma**2 / 2.0
        cdf = lognorm.cdf(edges, s=sigma, scale=math.exp(mu))
        return -float(np.sum(counts * np.log(np.maximum(np.diff(cdf), 1e-300))))

    best = minimize_scalar(loss, bounds=(0.02, 2.0), method="bounded")
    return float(best.x)


def scoring_fit(folders: Sequence[Path]) -> tuple[Fit, int] | None:
    """The scoring time (lognormal, seconds) over the folders' saved metrics, and the misses
    it was measured on; None with fewer than `_MIN_MISSES` misses."""
    total = count = 0.0
    buckets: dict[float, float] = {}
    for folder in folders:
        path = Path(folder) / METRICS_NAME
        if not path.is_file():
            continue
        s, c, b = _histogram(path)
        total, count = total + s, count + c
        for le, n in b.items():
            buckets[le] = buckets.get(le, 0.0) + n
    if count < _MIN_MISSES or total <= 0:
        return None
    mean = total / count
    cv = max(math.sqrt(math.expm1(_sigma(mean, buckets) ** 2)), _MIN_CV)
    return Fit(round(mean, 7), round(cv, 4)), int(count)
