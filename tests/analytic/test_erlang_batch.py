"""The array form of Erlang C against the scalar recursion, value by value."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.analytic.erlang import erlang_c, mmc
from twin.analytic.erlang_batch import erlang_c_many, mmc_many


def test_agrees_with_the_recursion_across_loads_and_servers() -> None:
    for c in (1, 2, 4, 17, 250, 2000, 5000):
        loads = np.linspace(0.0, 0.9995, 41) * c
        batch = erlang_c_many(c, loads)
        scalar = np.array([erlang_c(c, float(a)) for a in loads])
        np.testing.assert_allclose(batch, scalar, rtol=1e-9, atol=1e-300)


def test_overloaded_ticks_are_flagged_not_raised() -> None:
    q = mmc_many(np.array([0.0, 2.0, 3.999, 4.0, 9.0]), 1.0, 4)
    assert q.stable.tolist() == [True, True, True, False, False]
    assert q.prob_wait[3:].tolist() == [1.0, 1.0]
    assert np.isinf(q.wait_mean[3:]).all() and np.isinf(q.queue_mean[3:]).all()
    assert q.wait_mean[0] == 0.0 and q.sojourn_mean[0] == 1.0
    assert q.utilization.tolist() == pytest.approx([0.0, 0.5, 0.99975, 1.0, 2.25])
    assert np.isinf(q.sojourn_quantile(0.99)[3:]).all()


def test_server_counts_may_vary_per_tick() -> None:
    lam = np.array([3.0, 30.0, 300.0])
    c = np.array([4, 40, 310])
    q = mmc_many(lam, 1.0, c)
    for i in range(3):
        one = mmc(float(lam[i]), 1.0, int(c[i]))
        assert q.wait_mean[i] == pytest.approx(one.wait_mean, rel=1e-9)
        assert q.sojourn_quantile(0.99)[i] == pytest.approx(one.sojourn_quantile(0.99), rel=1e-9)
        assert q.wait_quantile(0.99)[i] == pytest.approx(one.wait_quantile(0.99), rel=1e-12)


def test_thousands_of_ticks_with_thousands_of_servers_are_fast() -> None:
    lam = np.random.default_rng(7).uniform(1000.0, 2990.0, size=10_000)
    start = time.perf_counter()
    q = mmc_many(lam, 1.0, 3000)
    p99 = q.sojourn_quantile(0.99)
    elapsed = time.perf_counter() - start
    assert np.isfinite(p99).all() and (p99 >= 0).all()
    assert elapsed < 2.0, f"{elapsed:.2f} s for 10,000 ticks"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"servers": 0, "load": 1.0}, "server counts"), ({"servers": 2.5, "load": 1.0}, "server"),
     ({"servers": 2, "load": -1.0}, "loads"), ({"servers": 2, "load": np.nan}, "loads")],
)  # fmt: skip
def test_bad_arrays_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        erlang_c_many(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(c=st.integers(1, 3000), rho=st.floats(0.0, 0.999))
def test_closed_form_equals_recursion(c: int, rho: float) -> None:
    want = erlang_c(c, rho * c)
    got = float(erlang_c_many(c, rho * c))
    assert got == pytest.approx(want, rel=1e-8, abs=1e-290)
