"""Drift: does a measured distribution still follow the one it is compared with?

The seed's drift monitor (seed 000) compares a current distribution with a reference one by a
two-sample Kolmogorov-Smirnov test (`scipy.stats.ks_2samp`) and the Kullback-Leibler divergence,
and flags drift "at p < 0.05 or KL above a threshold". The twin runs the same two statistics
on two histograms on shared bins (a drill's measured latency against the twin's predicted one,
a drill's telemetry against the population's law): each bin stands for its count of samples at
the bin's value, the "histogram-equivalent" samples, which is what KS on binned data is.

The verdict is not the seed's rule as it stands. With thousands of samples KS finds a
difference of a few per cent significant (its power grows with sqrt(n)), so a prediction that
is right to within the 10-25 % the twin's calibration promises would be flagged at every
drill. A distribution has drifted only when the difference is both significant AND large:

    drift  <=>  ks_p < ALPHA (0.05)  and  (ks_d >= MIN_KS_D (0.5)  or  kl >= MAX_KL (1.0))

`ks_d`, the largest gap between the two cumulative distributions, is the effect size: 0.5
is what moving the median by 1.35 times the spread (sd of the log) makes, a factor of about
2 for latencies with a log-sd of 0.5, which a prediction within 25 % (ks_d about 0.2) stays
well under. Drills of the reference platform a minute apart on a busy 2-core machine
differed by ks_d 0.11-0.50 per type (the light ones, join and playlist, most: their median
moved 2x between drills; `tests/drill/test_drill_drift.py` drills its pair again when a type
other than the slowed one crosses the line); a route slowed by 50 ms gave 0.95-1.0.
`kl` (nats, in the seed's direction: the reference against the current, on bins a tenth of
a decade wide, half a count added to every bin either side uses so that an empty bin is not
infinitely surprising) catches a change of shape the cumulative gap misses; between drills
a minute apart it stayed under 1 (0.91 at most, with that join).
Fewer than `MIN_SAMPLES` on either side is `too few`: nothing is said. Pure calculation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import ks_2samp

__all__ = [
    "ALPHA",
    "MAX_KL",
    "MIN_KS_D",
    "MIN_SAMPLES",
    "DriftCheck",
    "coarse_bins",
    "drift_check",
    "kl_divergence",
    "verdict",
]

ALPHA = 0.05  # the seed's significance level
MIN_KS_D = 0.5  # effect size: the largest gap between the two CDFs
MAX_KL = 1.0  # nats, KL(reference || current) on shared coarse bins
MIN_SAMPLES = 20
_SMOOTH = 0.5  # counts added to each bin either side uses (Jeffreys' prior)


@dataclass(frozen=True)
class DriftCheck:
    """One distribution against its reference: sizes, KS, KL, medians and the verdict."""

    n_measured: int
    n_reference: int
    ks_d: float
    ks_p: float
    kl: float
    median_measured: float
    median_reference: float
    verdict: str  # "drift", "agrees" or "too few"

    @property
    def drifted(self) -> bool:
        return self.verdict == "drift"


def verdict(ks_p: float, ks_d: float, kl: float, n: int, m: int) -> str:
    """`drift`, `agrees` or `too few` (the rule in the module's docstring)."""
    if min(n, m) < MIN_SAMPLES:
        return "too few"
    large = ks_d >= MIN_KS_D or kl >= MAX_KL
    return "drift" if ks_p < ALPHA and large else "agrees"


def coarse_bins(values: np.ndarray, per_decade: int = 10) -> np.ndarray:
    """The coarse bin of each positive value: `per_decade` bins per decade (log10)."""
    safe = np.maximum(np.asarray(values, dtype=float), 1e-12)
    return np.floor(np.log10(safe) * per_decade).astype(np.int64)


def kl_divergence(reference: np.ndarray, current: np.ndarray) -> float:
    """KL(reference || current) in nats, counts on the same bins; half a count is added to
    every bin either side uses (a bin empty on one side would make it infinite)."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    used = (ref > 0) | (cur > 0)
    p = ref[used] + _SMOOTH
    q = cur[used] + _SMOOTH
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))


def _samples(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The histogram-equivalent samples: each value repeated its (rounded) count times."""
    return np.repeat(values, np.rint(counts).astype(np.int64))


def _median(values: np.ndarray, counts: np.ndarray) -> float:
    cum = np.cumsum(counts)
    if cum.size == 0 or cum[-1] <= 0:
        return float("nan")
    return float(values[int(np.searchsorted(cum, 0.5 * cum[-1]))])


def drift_check(
    values: np.ndarray, measured: np.ndarray, reference: np.ndarray,
    coarse: np.ndarray | None = None,
) -> DriftCheck:  # fmt: skip
    """KS and KL of the `measured` counts against the `reference` counts, both over the same
    ascending bin `values`. KL is taken on `coarse` bins (each value's coarse bin key; by
    default `coarse_bins`, a tenth of a decade: latencies)."""
    values = np.asarray(values, dtype=float)
    measured = np.asarray(measured, dtype=float)
    reference = np.asarray(reference, dtype=float)
    a, b = _samples(values, measured), _samples(values, reference)
    n, m = a.size, b.size
    if n == 0 or m == 0:
        return DriftCheck(n, m, float("nan"), float("nan"), float("nan"), float("nan"),
                          float("nan"), "too few")  # fmt: skip
    # the asymptotic p-value for thousands of requests; a handful (its n m / (n + m) can round
    # to 0, which the asymptotic form divides by) gets the exact one, cheap at that size
    result = ks_2samp(a, b, method="exact" if min(n, m) < MIN_SAMPLES else "asymp")
    coarse = coarse_bins(values) if coarse is None else np.asarray(coarse)
    keys, index = np.unique(coarse, return_inverse=True)
    kl = kl_divergence(np.bincount(index, weights=reference, minlength=keys.size),
                       np.bincount(index, weights=measured, minlength=keys.size))  # fmt: skip
    d, p = float(result.statistic), float(result.pvalue)
    return DriftCheck(n, m, d, p, kl, _median(values, measured), _median(values, reference),
                      verdict(p, d, kl, n, m))  # fmt: skip
