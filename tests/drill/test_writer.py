"""The SQLite thread's time per call, from `twin serve`'s own metrics page
(`twin_sqlite_call_seconds{kind}`, written by the server's own `Metrics`)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from prometheus_client import generate_latest

from twin.drill.lag import METRICS_NAME
from twin.drill.writer import sqlite_fit
from twin.serve.metrics import Metrics


def _drill(folder, by_kind, writes):
    """A drill folder: `metrics.txt` as `twin serve` exposes it with these call times
    observed, and a `summary.json` with `writes` joins and `writes` telemetry batches."""
    metrics = Metrics()
    for kind, seconds in by_kind.items():
        for s in seconds:
            metrics.sqlite.labels(kind).observe(float(s))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / METRICS_NAME).write_bytes(generate_latest(metrics.registry))
    requests = {"join": {"count": writes}, "telemetry": {"count": writes},
                "leaderboard": {"count": 10 * writes}}  # fmt: skip
    (folder / "summary.json").write_text(json.dumps({"requests": requests}), encoding="utf-8")
    return folder


def test_the_threads_time_per_writing_request_and_the_commits_spread(tmp_path):
    rng = np.random.default_rng(5)
    sigma = 0.8  # a commit's fsync on a shared disk: a long tail (cv 0.95)
    commits = 0.0006 * np.exp(sigma * rng.standard_normal(6000) - sigma**2 / 2)
    statements = np.full(1500, 0.00005)  # reads and single writes: tens of microseconds
    a = _drill(tmp_path / "a", {"group_commit": commits[:2000], "transaction": commits[2000:3000],
                                "statement": statements[:500]}, writes=1500)  # fmt: skip
    b = _drill(tmp_path / "b", {"transaction": commits[3000:], "statement": statements[500:]},
               writes=1500)  # fmt: skip
    # an older twin serve's drill: metrics without the family, its requests not counted
    older = _drill(tmp_path / "older", {}, writes=5000)
    fit, calls = sqlite_fit([a, b, older, tmp_path / "no-metrics"])
    assert calls == 7500
    # the thread's busy seconds over the 6,000 writing requests (a workout's two calls: one)
    assert fit.mean_s == pytest.approx((commits.sum() + statements.sum()) / 6000, abs=1e-7)
    # the spread is the commits': the statements would make it bimodal
    assert fit.cv == pytest.approx(math.sqrt(math.expm1(sigma**2)), rel=0.15)


def test_a_target_without_the_metric_measures_nothing(tmp_path):
    # the Redis backend, an older twin serve, another platform: no calls observed
    assert sqlite_fit([_drill(tmp_path / "none", {}, writes=100)]) is None
    few = _drill(tmp_path / "few", {"transaction": [0.001] * 99, "statement": [1e-4] * 500}, 99)
    assert sqlite_fit([few]) is None
