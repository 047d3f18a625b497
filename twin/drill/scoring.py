"""The recommender's scoring on a cache miss, measured from the target's own metrics.

`twin serve` caches each rider's recommendations for an hour under the model's fingerprint;
a miss scores the ALS model (`prediction_latency_seconds`, a histogram the drill saves in
`metrics.txt`), a hit does not. Which app opens miss follows from the drill's plan
(`twin.drill.predict.recommendation_misses`); how long a miss takes is measured here, over
the drills' misses: the mean is the histogram's sum over its count, exact; its spread is the
lognormal's, at that mean, most likely to put the misses in the buckets they fell in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from twin.drill.fit import Fit
from twin.drill.histogram_fit import histogram_fit
from twin.drill.lag import METRICS_NAME

__all__ = ["METRIC", "METRICS_NAME", "scoring_fit"]

METRIC = "prediction_latency_seconds"
_MIN_MISSES = 20


def scoring_fit(folders: Sequence[Path]) -> tuple[Fit, int] | None:
    """The scoring time (lognormal, seconds) over the folders' saved metrics, and the misses
    it was measured on; None with fewer than `_MIN_MISSES` misses
    (`twin.drill.histogram_fit`)."""
    return histogram_fit(folders, METRIC, _MIN_MISSES)
