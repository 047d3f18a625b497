"""M/M/c/K against its birth-death chain solved numerically, and against its limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.analytic.erlang import erlang_b, mmc
from twin.analytic.finite import mmck


def brute_force(lam: float, mu: float, c: int, capacity: int) -> dict[str, float]:
    """Solve pi Q = 0 for the M/M/c/K generator with a linear solver: no formula involved."""
    k = c + capacity
    q = np.zeros((k + 1, k + 1))
    for n in range(k + 1):
        if n < k:
            q[n, n + 1] = lam
        if n > 0:
            q[n, n - 1] = min(n, c) * mu
        q[n, n] = -q[n].sum()
    a = np.vstack([q.T, np.ones(k + 1)])
    b = np.zeros(k + 2)
    b[-1] = 1.0
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    n = np.arange(k + 1)
    queue = float(np.sum(np.maximum(n - c, 0) * pi))
    throughput = lam * (1 - pi[k])
    return {
        "blocking": float(pi[k]),
        "queue_mean": queue,
        "in_system_mean": float(np.sum(n * pi)),
        "wait_mean": queue / throughput,
        "prob_wait": float(pi[c:k].sum() / (1 - pi[k])),
        "utilization": float(np.sum(np.minimum(n, c) * pi) / c),
    }


@pytest.mark.parametrize(
    ("lam", "mu", "c", "capacity"),
    [(0.5, 1.0, 1, 3), (3.6, 1.0, 4, 10), (8.0, 1.0, 4, 10), (4.0, 1.0, 4, 6), (20.0, 2.0, 3, 0),
     (30.0, 1.0, 25, 40), (0.2, 5.0, 2, 1)],
)  # fmt: skip
def test_matches_the_numerically_solved_chain(lam: float, mu: float, c: int, capacity: int) -> None:
    got, want = mmck(lam, mu, c, capacity), brute_force(lam, mu, c, capacity)
    for field, value in want.items():
        assert getattr(got, field) == pytest.approx(value, rel=1e-8, abs=1e-12), field
    assert got.throughput == pytest.approx(lam * (1 - want["blocking"]), rel=1e-10)
    assert got.sojourn_mean == pytest.approx(got.wait_mean + 1 / mu, rel=1e-12)


def test_mm1k_matches_its_closed_form() -> None:
    # M/M/1/K: P(full) = (1 - r) r^K / (1 - r^(K+1)) (Gross & Harris); r = 0.8, K = 5.
    r, k = 0.8, 5
    assert mmck(0.8, 1.0, 1, k - 1).blocking == pytest.approx(
        (1 - r) * r**k / (1 - r ** (k + 1)), rel=1e-12
    )
    # At r = 1 every state is equally likely: P(full) = 1 / (K + 1).
    assert mmck(1.0, 1.0, 1, k - 1).blocking == pytest.approx(1 / (k + 1), rel=1e-12)


def test_no_queue_is_erlangs_loss_system() -> None:
    for c, load in ((1, 0.5), (10, 4.461), (50, 70.0)):
        assert mmck(load, 1.0, c, 0).blocking == pytest.approx(erlang_b(c, load), rel=1e-12)
        assert mmck(load, 1.0, c, 0).wait_mean == 0.0


def test_a_long_queue_below_saturation_is_mmc() -> None:
    finite, infinite = mmck(3.6, 1.0, 4, 10_000), mmc(3.6, 1.0, 4)
    assert finite.blocking < 1e-300
    assert finite.wait_mean == pytest.approx(infinite.wait_mean, rel=1e-12)
    assert finite.prob_wait == pytest.approx(infinite.prob_wait, rel=1e-12)
    assert finite.queue_mean == pytest.approx(infinite.queue_mean, rel=1e-12)


def test_overload_with_a_huge_queue_does_not_overflow() -> None:
    # r = 2 and a queue of a million: r^K overflows a float, the answer does not.
    q = mmck(8.0, 1.0, 4, 1_000_000)
    assert q.blocking == pytest.approx(0.5, rel=1e-12)  # served at 4/s of the 8/s offered
    assert q.throughput == pytest.approx(4.0, rel=1e-12)
    assert q.queue_mean == pytest.approx(1_000_000 - 1.0, rel=1e-9)  # full but for ~1
    assert q.wait_mean == pytest.approx(q.queue_mean / 4.0, rel=1e-12)


def test_near_saturation_has_no_cancellation() -> None:
    # r within 1e-12 of 1: the geometric sums' closed forms cancel; the series must not.
    lam = 4.0 * (1 - 1e-12)
    near, at = mmck(lam, 1.0, 4, 500), mmck(4.0, 1.0, 4, 500)
    assert near.queue_mean == pytest.approx(at.queue_mean, rel=1e-9)
    assert near.blocking == pytest.approx(at.blocking, rel=1e-9)
    assert at.queue_mean == pytest.approx(brute_force(4.0, 1.0, 4, 500)["queue_mean"], rel=1e-7)


def test_no_arrivals() -> None:
    q = mmck(0.0, 1.0, 2, 5)
    assert (q.blocking, q.throughput, q.wait_mean, q.utilization) == (0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("capacity", [-1, 1.5, True])
def test_bad_capacity_is_refused(capacity: object) -> None:
    with pytest.raises(ValueError, match="queue_capacity"):
        mmck(1.0, 1.0, 1, capacity)  # type: ignore[arg-type]


@settings(max_examples=80, deadline=None)
@given(
    c=st.integers(1, 12),
    capacity=st.integers(0, 40),
    rho=st.floats(0.05, 3.0),
)
def test_any_small_queue_matches_its_chain(c: int, capacity: int, rho: float) -> None:
    got, want = mmck(rho * c, 1.0, c, capacity), brute_force(rho * c, 1.0, c, capacity)
    assert got.blocking == pytest.approx(want["blocking"], rel=1e-7, abs=1e-13)
    assert got.queue_mean == pytest.approx(want["queue_mean"], rel=1e-7, abs=1e-12)
    assert got.utilization == pytest.approx(want["utilization"], rel=1e-8)


@settings(max_examples=80, deadline=None)
@given(c=st.integers(1, 20), capacity=st.integers(0, 30), rho=st.floats(0.05, 2.5))
def test_more_room_blocks_less_and_more_load_blocks_more(c: int, capacity: int, rho: float) -> None:
    base = mmck(rho * c, 1.0, c, capacity)
    assert mmck(rho * c, 1.0, c, capacity + 1).blocking <= base.blocking
    assert mmck(rho * c * 1.05, 1.0, c, capacity).blocking >= base.blocking
    assert 0.0 <= base.utilization <= 1.0
    assert math.isclose(base.in_system_mean, base.queue_mean + base.throughput, rel_tol=1e-12)
