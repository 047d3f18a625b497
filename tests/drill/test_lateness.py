"""The load generator's timer lateness from request logs (`twin.drill.lateness`)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from twin.drill.lateness import lateness_ms, timer_fit
from twin.drill.request_log import LOG_NAME, REQUEST_LOG_COLUMNS
from twin.errors import InputError


def _log(folder, late_ms, rtype="telemetry", extra=()):
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOG_NAME).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow((*REQUEST_LOG_COLUMNS, "process"))
        for i, late in enumerate(late_ms):
            w.writerow((i * 0.01, rtype, 2.0 + late, 2.0, 200, 1, 100, f"rider-{i}", 1))
        for row in extra:
            w.writerow(row)
    return folder


def test_the_timer_is_the_lognormal_through_the_lateness_lower_half(tmp_path):
    rng = np.random.default_rng(3)
    sigma = 0.4
    late = np.exp(math.log(1.0) + sigma * rng.standard_normal(20_000))  # median 1 ms
    # a busy loop's wait adds to the upper tail only: the fit does not see it
    late[late > 1.5] += rng.exponential(5.0, int((late > 1.5).sum()))
    a = _log(tmp_path / "a", late[:10_000])
    b = _log(tmp_path / "b", late[10_000:], rtype="leaderboard")
    fit, rows = timer_fit([a, b, tmp_path / "no-log"])
    assert rows == 20_000
    assert fit.mean_s == pytest.approx(1e-3 * math.exp(sigma**2 / 2), rel=0.03)
    assert fit.cv == pytest.approx(math.sqrt(math.expm1(sigma**2)), rel=0.05)


def test_only_requests_sent_on_a_timer_alone_count(tmp_path):
    # a playlist may follow its master playlist at once, and its service ~ latency; a
    # recommend is never timed: neither is read
    folder = _log(tmp_path / "d", [1.0] * 60, extra=[
        (1.0, "playlist", 9.0, 1.0, 200, 1, 10, "rider-1", 1),
        (1.0, "recommend", 9.0, 1.0, 200, 1, 10, "rider-1", 1),
    ])  # fmt: skip
    assert lateness_ms(folder / LOG_NAME).tolist() == [1.0] * 60
    assert timer_fit([_log(tmp_path / "few", [1.0] * 49)]) is None  # too few to say
    assert timer_fit([tmp_path / "nothing"]) is None


def test_a_log_that_is_not_a_request_log_is_named(tmp_path):
    folder = _log(tmp_path / "bad", [1.0] * 60, extra=[(1.0, "telemetry", "x", 1.0)])
    with pytest.raises(InputError) as err:
        timer_fit([folder])
    assert LOG_NAME in str(err.value) and "line 62" in str(err.value)
