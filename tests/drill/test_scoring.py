"""The recommender's scoring time per cache miss, from the target's own metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from twin.drill.scoring import METRICS_NAME, scoring_fit
from twin.errors import InputError
from twin.serve.recommend.service import RecommendMetrics


def _metrics(folder, seconds):
    """A `metrics.txt` as `twin serve` exposes it, with these scoring times observed."""
    registry = CollectorRegistry()
    metrics = RecommendMetrics(registry)
    for s in seconds:
        metrics.latency.observe(float(s))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / METRICS_NAME).write_bytes(generate_latest(registry))
    return folder


def test_the_mean_is_exact_and_the_spread_the_buckets_most_likely(tmp_path):
    rng = np.random.default_rng(11)
    sigma, mean = 0.5, 0.0008
    times = mean * np.exp(sigma * rng.standard_normal(4000) - sigma**2 / 2)
    a = _metrics(tmp_path / "a", times[:3000])
    b = _metrics(tmp_path / "b", times[3000:])
    fit, misses = scoring_fit([a, b, tmp_path / "none"])
    assert misses == 4000
    assert fit.mean_s == pytest.approx(times.mean(), abs=1e-7)  # rounded to 0.1 us
    # twin serve's buckets (0.5, 1, 2.5, 5 ms...) are coarse: the cv within 15 %
    assert fit.cv == pytest.approx(math.sqrt(math.expm1(sigma**2)), rel=0.15)


def test_too_few_misses_say_nothing_and_other_text_is_named(tmp_path):
    assert scoring_fit([_metrics(tmp_path / "few", [0.001] * 19)]) is None
    assert scoring_fit([tmp_path / "empty"]) is None
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / METRICS_NAME).write_text("<html>not metrics</html>\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        scoring_fit([bad])
    assert METRICS_NAME in str(err.value)
