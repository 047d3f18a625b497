"""A lognormal time measured from a Prometheus histogram the drills' targets exported.

A drill saves the target's `/metrics` page in its folder (`metrics.txt`). A histogram there
gives a time's mean exactly (its sum over its count) and its shape only by bucket; the cv is
the lognormal's, at that mean, most likely to put the observations in the buckets they fell
in (each bucket an interval: the exact times are not kept). Pooled over the drills' folders;
a folder without the page is skipped. Used for the recommender's scoring
(`twin.drill.scoring`) and the SQLite thread's calls (`twin.drill.writer`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import lognorm

from twin.drill.fit import Fit
from twin.drill.lag import METRICS_NAME
from twin.drill.saved_metrics import metric_samples

__all__ = ["MIN_CV", "histogram_fit", "lognormal_sigma", "pooled_histogram"]

MIN_CV = 0.05

Labels = Mapping[str, str]


def pooled_histogram(
    folders: Sequence[Path], metric: str, keep: Callable[[Labels], bool] = lambda _: True
) -> tuple[float, float, dict[float, float]]:
    """(sum, count, cumulative count per upper bound) of `metric` over the folders' saved
    pages, over the samples whose labels `keep` accepts."""
    total = count = 0.0
    buckets: dict[float, float] = {}
    for folder in folders:
        path = Path(folder) / METRICS_NAME
        if not path.is_file():
            continue
        for sample in metric_samples(path, metric):
            labels = {k: v for k, v in sample.labels.items() if k != "le"}
            if not keep(labels):
                continue
            if sample.name == f"{metric}_sum":
                total += sample.value
            elif sample.name == f"{metric}_count":
                count += sample.value
            elif sample.name == f"{metric}_bucket":
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
    return total, count, buckets


def lognormal_sigma(mean: float, buckets: Mapping[float, float]) -> float:
    """The lognormal sigma, at this mean, most likely to give the bucket counts."""
    bounds = sorted(buckets)
    counts = np.diff([0.0, *(buckets[b] for b in bounds)])
    edges = np.array([0.0, *bounds])

    def loss(sigma: float) -> float:
        mu = math.log(mean) - sigma**2 / 2.0
        cdf = lognorm.cdf(edges, s=sigma, scale=math.exp(mu))
        return -float(np.sum(counts * np.log(np.maximum(np.diff(cdf), 1e-300))))

    return float(minimize_scalar(loss, bounds=(0.02, 2.0), method="bounded").x)


def histogram_fit(
    folders: Sequence[Path], metric: str, min_count: int
) -> tuple[Fit, int] | None:
    """The time (lognormal, seconds) `metric` measured over the folders, and how many
    observations it rests on; None with fewer than `min_count`."""
    total, count, buckets = pooled_histogram(folders, metric)
    if count < min_count or total <= 0:
        return None
    mean = total / count
    cv = max(math.sqrt(math.expm1(lognormal_sigma(mean, buckets) ** 2)), MIN_CV)
    return Fit(round(mean, 7), round(cv, 4)), int(count)
