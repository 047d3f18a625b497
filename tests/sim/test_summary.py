"""The summary's statistics: a mean over requests, never an average of batch means."""

from __future__ import annotations

import numpy as np
import pytest

from twin.sim.summary import pooled_mean_ci


def test_a_busy_minute_weighs_more_than_a_quiet_one() -> None:
    # 20 intervals: 19 quiet ones with 10 requests of 1 s, one surge with 1,000 requests of 10 s.
    counts = np.full(20, 10.0)
    sums = np.full(20, 10.0)
    counts[7], sums[7] = 1000.0, 10_000.0
    mean, ci = pooled_mean_ci([sums], [counts], 0)
    assert mean == pytest.approx((19 * 10 + 10_000) / (19 * 10 + 1000))
    assert ci is not None and ci[0] < mean < ci[1]


def test_one_replication_of_a_platform_run_has_no_interval() -> None:
    counts, sums = np.full(20, 10.0), np.arange(20.0)
    mean, ci = pooled_mean_ci([sums], [counts], 0, batches=False)
    assert mean == pytest.approx(sums.sum() / counts.sum())
    assert ci is None


def test_replications_give_the_interval_around_the_pooled_mean() -> None:
    reps = [(np.full(10, 5.0), np.full(10, 10.0)), (np.full(10, 7.0), np.full(10, 10.0))]
    mean, ci = pooled_mean_ci([s for s, _ in reps], [c for _, c in reps], 2)
    assert mean == pytest.approx(0.6)
    assert ci is not None and ci[1] - ci[0] > 0.1
