"""The token bucket: nginx's `rate=10r/s burst=20 nodelay` from the seeds, exactly."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from twin.serve.ratelimit import RateLimiter, retry_after_header


def test_a_burst_of_20_passes_then_one_every_tenth_of_a_second() -> None:
    limiter = RateLimiter(10.0, 20.0)
    assert [limiter.take("k", 0.0) for _ in range(20)] == [0.0] * 20
    assert limiter.take("k", 0.0) == 0.1  # wait for one token at 10/s
    assert limiter.take("k", 0.05) == 0.05
    assert limiter.take("k", 0.1) == 0.0
    assert limiter.take("other", 0.1) == 0.0  # buckets are per key


def test_a_refused_request_costs_nothing_and_a_cost_over_the_burst_never_passes() -> None:
    limiter = RateLimiter(10.0, 20.0)
    limiter.take("k", 0.0, cost=15)
    assert limiter.take("k", 0.0, cost=10) == 0.5  # 5 held, 10 wanted: 0.5 s at 10/s
    assert limiter.level("k", 0.0) == 5.0
    assert limiter.take("k", 0.0, cost=21) == math.inf


def test_idle_full_buckets_are_forgotten_when_the_table_is_full() -> None:
    limiter = RateLimiter(10.0, 20.0, max_keys=100)
    for i in range(100):
        limiter.take(f"k{i}", 0.0)
    limiter.take("late", 10.0)  # every k* has refilled by t = 10 s: they carry no information
    assert len(limiter) == 1


def test_a_table_full_of_busy_buckets_drops_its_oldest_half() -> None:
    limiter = RateLimiter(10.0, 20.0, max_keys=100)
    for i in range(100):
        limiter.take(f"k{i}", 0.0)
    limiter.take("busy", 0.0)  # nobody has refilled: fail open on the oldest 50
    assert len(limiter) == 51
    assert limiter.level("k0", 0.0) == 20.0 and limiter.level("k99", 0.0) == 19.0


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after_header(w) for w in (0.01, 1.0, 1.2, 59.5)] == ["1", "1", "2", "60"]


@given(
    gaps=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=200),
    costs=st.lists(st.integers(1, 5), min_size=1, max_size=200),
)
def test_no_window_lets_through_more_than_burst_plus_rate_times_its_length(
    gaps: list[float], costs: list[int]
) -> None:
    limiter = RateLimiter(10.0, 20.0)
    now, passed = 0.0, []
    for gap, cost in zip(gaps, costs, strict=False):
        now += gap
        if limiter.take("k", now, cost) == 0.0:
            passed.append((now, cost))
        assert limiter.level("k", now) >= 0.0
    for i, (start, _) in enumerate(passed):
        for j in range(i, len(passed)):
            end = passed[j][0]
            spent = sum(c for _, c in passed[i : j + 1])
            assert spent <= 20.0 + 10.0 * (end - start) + 1e-9
