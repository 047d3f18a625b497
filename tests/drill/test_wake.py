"""The wake-up of requests sent on their own, from request logs and metrics (`twin.drill.wake`)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from twin.drill.lag import METRICS_NAME
from twin.drill.request_log import LOG_NAME, REQUEST_LOG_COLUMNS
from twin.drill.wake import HANDLER_METRIC, handler_means_ms, wake_fit
from twin.errors import InputError

HANDLER_MS = {"leaderboard": 0.2, "playlist": 0.6}
BASE_MS = 0.3  # outside the handler for every request (the loopback, the parsing)


def _metrics(folder, counts):
    registry = CollectorRegistry()
    hist = Histogram(HANDLER_METRIC, "handler", ["route", "status"], registry=registry)
    for route, n in counts.items():
        for _ in range(n):
            hist.labels(route=route, status="200").observe(HANDLER_MS[route] / 1e3)
    hist.labels(route="leaderboard", status="503").observe(1.0)  # not an answer: not counted
    (folder / METRICS_NAME).write_bytes(generate_latest(registry))


def _drill(folder, rng, *, offset_ms, penalty_ms, tau_ms, mean_gap_ms, n=6_000, cycle=()):
    """A drill's log in which each leaderboard sent on its own spends `offset + penalty * (1 -
    exp(-g / tau))` more outside the handler than a playlist sent right behind a response."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, busy_until, t = [], (0.0 if cycle else -1e9), 0.0
    sigma = math.sqrt(math.log(1.25))  # the offset's cv: 0.5
    for i in range(n):
        # `cycle`: each request after exactly that idle
        t = busy_until + cycle[i % len(cycle)] if cycle else t + rng.exponential(mean_gap_ms)
        gap = max(t - busy_until, 0.0)
        wake = offset_ms * rng.lognormal(-(sigma**2) / 2, sigma)
        wake += penalty_ms * -math.expm1(-gap / tau_ms)
        svc = HANDLER_MS["leaderboard"] + BASE_MS + wake + rng.normal(0, 0.02)
        rider = f"rider-{i % 50}"
        rows.append((t / 1e3, "leaderboard", svc + 1.0, svc, 200, 1, 80, rider, 1))  # 1 ms late
        end = t + svc
        busy_until = max(busy_until, end)
        if rng.random() < 0.3:  # an on-demand playlist right behind it
            go = end + 0.3
            svc = HANDLER_MS["playlist"] + BASE_MS + rng.normal(0, 0.02)
            rows.append((go / 1e3, "playlist", svc, svc, 200, 1, 900, rider, 1))
            busy_until = max(busy_until, go + svc)
            t = max(t, go + svc)
    with (folder / LOG_NAME).open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow((*REQUEST_LOG_COLUMNS, "process"))
        out.writerows(sorted(rows))
    _metrics(folder, {r: sum(1 for x in rows if x[1] == r) for r in HANDLER_MS})
    return folder


def test_the_handler_means_are_the_answers_sum_over_count(tmp_path):
    _metrics(tmp_path, {"leaderboard": 3, "playlist": 2})
    assert handler_means_ms(tmp_path / METRICS_NAME) == pytest.approx(HANDLER_MS)


def test_the_wake_up_is_recovered_from_drills_at_two_loads(tmp_path):
    rng = np.random.default_rng(11)
    truth = {"offset_ms": 0.5, "penalty_ms": 1.2, "tau_ms": 20.0}
    light = _drill(tmp_path / "light", rng, mean_gap_ms=40.0, **truth)
    busy = _drill(tmp_path / "busy", rng, mean_gap_ms=6.0, **truth)
    got = wake_fit([light, busy, tmp_path / "no-log"])
    assert got is not None
    assert got.offset.mean_s == pytest.approx(0.5e-3, rel=0.1)
    assert got.penalty_s == pytest.approx(1.2e-3, rel=0.15)
    assert got.tau_s == pytest.approx(0.02, rel=0.3)
    assert got.offset.cv == pytest.approx(0.5, rel=0.35)
    # the requests that found the target busy (gap under 0.5 ms) queued: not counted
    assert 0.8 * 12_000 < got.rows < 12_000


def test_no_rise_with_the_idle_gap_is_no_wake_up(tmp_path):
    rng = np.random.default_rng(5)
    flat = _drill(tmp_path / "flat", rng, offset_ms=0.5, penalty_ms=0.0, tau_ms=20.0,
                  mean_gap_ms=20.0)  # fmt: skip
    assert wake_fit([flat]) is None
    assert wake_fit([tmp_path / "nothing"]) is None
    # requests after one of two idle gaps only: two points cannot place a curve of three
    steady = _drill(tmp_path / "steady", rng, offset_ms=0.5, penalty_ms=1.0, tau_ms=20.0,
                    mean_gap_ms=0.0, n=600, cycle=(4.0, 60.0))  # fmt: skip
    assert wake_fit([steady]) is None


def test_a_broken_log_or_metrics_page_is_named(tmp_path):
    rng = np.random.default_rng(1)
    folder = _drill(tmp_path / "d", rng, offset_ms=0.5, penalty_ms=1.0, tau_ms=20.0,
                    mean_gap_ms=20.0, n=200)  # fmt: skip
    with (folder / LOG_NAME).open("a", encoding="utf-8") as fh:
        fh.write("1.0,leaderboard,x,1.0,200,1,80,rider-1,1\n")
    with pytest.raises(InputError) as err:
        wake_fit([folder])
    assert LOG_NAME in str(err.value) and "line" in str(err.value)
    (folder / METRICS_NAME).write_text("twin_http_request_duration_seconds_sum{ 1\n")
    with pytest.raises(InputError) as err:
        wake_fit([folder])
    assert METRICS_NAME in str(err.value)
