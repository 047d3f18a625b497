"""Erlang B/C and the M/M/c record against independent formulas and published figures."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from twin.analytic.erlang import erlang_b, erlang_c, mmc
from twin.errors import UnstableError


def erlang_c_exact(c: int, load: Fraction) -> Fraction:
    """The textbook Poisson-sum form of Erlang C, in exact rational arithmetic."""
    terms = [load**k / math.factorial(k) for k in range(c)]
    top = load**c / math.factorial(c) * c / (c - load)
    return top / (sum(terms) + top)


def erlang_c_log_sum(c: int, load: float) -> float:
    """The same sum in log space (for thousands of servers, where A^k/k! overflows)."""
    logs = [k * math.log(load) - math.lgamma(k + 1) for k in range(c)]
    top = c * math.log(load) - math.lgamma(c + 1) + math.log(c / (c - load))
    peak = max([*logs, top])
    below = math.fsum(math.exp(x - peak) for x in logs)
    return math.exp(top - peak) / (below + math.exp(top - peak))


# Textbook values:
# - M/M/1 at rho = 0.5, mu = 1: Wq = rho / (mu - lam) = 1 s, W = 1 / (mu - lam) = 2 s,
#   Lq = rho^2 / (1 - rho) = 0.5 (Kleinrock, Queueing Systems vol. 1, sec. 3.2).
# - M/M/2 has P(wait) = 2 rho^2 / (1 + rho) (Gross & Harris, Fundamentals of Queueing Theory,
#   M/M/c section); at A = 1.6 erlangs, rho = 0.8: 1.28 / 1.8 = 0.71111; by the sum:
#   A^2/2! * 2/(2 - A) = 6.4 over 1 + 1.6 + 6.4 = 9.0, the same 0.71111.
# - The project's own example, M/M/4 at A = 3.6: sum_{k<4} A^k/k! = 1 + 3.6 + 6.48 + 7.776
#   = 18.856, A^4/4! / (1 - 0.9) = 69.984, C = 69.984 / 88.84 = 0.787753, Wq = C / 0.4 = 1.96938 s.
# - Erlang B tables: 10 circuits carry 4.461 E at 1% and 5.084 E at 2% blocking, 5 circuits
#   1.361 E at 1%, 20 circuits 12.031 E at 1% (tables printed to 4 significant figures).


def test_mm1_at_half_load_matches_the_textbook() -> None:
    q = mmc(0.5, 1.0, 1)
    assert q.prob_wait == pytest.approx(0.5, rel=1e-12)
    assert q.wait_mean == pytest.approx(1.0, rel=1e-12)
    assert q.sojourn_mean == pytest.approx(2.0, rel=1e-12)
    assert q.queue_mean == pytest.approx(0.5, rel=1e-12)
    assert q.in_system_mean == pytest.approx(1.0, rel=1e-12)
    assert q.utilization == 0.5


def test_erlang_c_two_servers_matches_the_mm2_closed_form() -> None:
    rho = 0.8
    assert erlang_c(2, 1.6) == pytest.approx(2 * rho**2 / (1 + rho), rel=1e-12)
    assert erlang_c(2, 1.6) == pytest.approx(0.711111, abs=1e-6)


def test_mmc_example_matches_the_hand_computation() -> None:
    q = mmc(3.6, 1.0, 4)
    assert q.prob_wait == pytest.approx(69.984 / 88.84, rel=1e-12)
    assert q.wait_mean == pytest.approx(69.984 / 88.84 / 0.4, rel=1e-12)
    assert q.wait_mean == pytest.approx(1.96938, abs=1e-5)
    assert q.queue_mean == pytest.approx(3.6 * q.wait_mean, rel=1e-12)


@pytest.mark.parametrize(
    ("servers", "load", "blocking"),
    [(10, 4.461, 0.01), (10, 5.084, 0.02), (5, 1.361, 0.01), (20, 12.031, 0.01)],
)
def test_erlang_b_matches_published_tables(servers: int, load: float, blocking: float) -> None:
    assert erlang_b(servers, load) == pytest.approx(blocking, rel=2e-3)


@pytest.mark.parametrize(
    ("servers", "load"),
    [(1, Fraction(1, 2)), (2, Fraction(8, 5)), (4, Fraction(18, 5)), (7, Fraction(13, 2)),
     (30, Fraction(27)), (60, Fraction(599, 10))],
)  # fmt: skip
def test_recursion_equals_exact_poisson_sum(servers: int, load: Fraction) -> None:
    exact = float(erlang_c_exact(servers, load))
    assert erlang_c(servers, float(load)) == pytest.approx(exact, rel=1e-12)


def test_two_thousand_servers_are_numerically_stable() -> None:
    # A^2000 / 2000! overflows a float many times over; the recursion must not care.
    for load in (1500.0, 1950.0, 1990.0, 1999.0):
        c = erlang_c(2000, load)
        assert 0.0 < c < 1.0
        assert c == pytest.approx(erlang_c_log_sum(2000, load), rel=1e-9)
    q = mmc(1990.0, 1.0, 2000)
    assert q.wait_mean == pytest.approx(erlang_c_log_sum(2000, 1990.0) / 10.0, rel=1e-9)
    assert math.isfinite(q.sojourn_quantile(0.999))


def test_unstable_queue_is_refused_with_its_name() -> None:
    with pytest.raises(UnstableError, match="'checkout'") as info:
        mmc(4.0, 1.0, 4, name="checkout")
    assert info.value.utilization == pytest.approx(1.0)
    with pytest.raises(UnstableError):
        erlang_c(3, 3.5)


@pytest.mark.parametrize(
    ("args", "field"),
    [((1.0, 0.0, 2), "service_rate"), ((-1.0, 1.0, 2), "arrival_rate"),
     ((1.0, 1.0, 0), "servers"), ((math.nan, 1.0, 2), "arrival_rate"),
     ((1.0, math.inf, 2), "service_rate"), ((1.0, 1.0, 2.5), "servers")],
)  # fmt: skip
def test_bad_parameters_raise_value_error(args: tuple[float, float, int], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        mmc(*args)


def test_no_arrivals_means_no_wait() -> None:
    q = mmc(0.0, 2.0, 3)
    assert (q.prob_wait, q.wait_mean, q.sojourn_mean) == (0.0, 0.0, 0.5)


def test_mm1_wait_quantile_matches_closed_form() -> None:
    # M/M/1, rho = 0.5, mu = 1: P(Wq > t) = rho e^{-(mu - lam) t}, so the 95th percentile is
    # ln(rho / 0.05) / (mu - lam) = 2 ln 10 = 4.60517 s; the median is 0 (half never wait).
    q = mmc(0.5, 1.0, 1)
    assert q.wait_quantile(0.95) == pytest.approx(2 * math.log(10), rel=1e-12)
    assert q.wait_quantile(0.5) == 0.0
    assert q.wait_quantile(0.4) == 0.0
    assert q.wait_sf(3.0) == pytest.approx(0.5 * math.exp(-1.5), rel=1e-12)
    assert q.wait_cdf(0.0) == pytest.approx(0.5)
    assert q.wait_quantile(1.0) == math.inf


def test_mm1_sojourn_is_exponential_at_mu_minus_lambda() -> None:
    # A classic: the M/M/1 sojourn is Exp(mu - lam); its 95th percentile is ln 20 / 0.5.
    q = mmc(0.5, 1.0, 1)
    for t in (0.0, 0.3, 1.0, 4.0, 20.0):
        assert q.sojourn_sf(t) == pytest.approx(math.exp(-0.5 * t), rel=1e-12)
    assert q.sojourn_quantile(0.95) == pytest.approx(2 * math.log(20), rel=1e-10)
    assert q.sojourn_quantile(0.5) == pytest.approx(2 * math.log(2), rel=1e-10)


def _sojourn_sf_by_convolution(q: object, t: float) -> float:
    """P(Wq + S > t) integrating the wait's density against the service tail numerically."""
    c, theta, mu = q.prob_wait, q.drain_rate, q.service_rate  # type: ignore[attr-defined]
    no_wait = (1 - c) * math.exp(-mu * t)
    inner, _ = integrate.quad(lambda s: c * theta * math.exp(-theta * s - mu * (t - s)), 0, t)
    return no_wait + inner + c * math.exp(-theta * t)


@pytest.mark.parametrize(("lam", "mu", "c"), [(1.0, 1.0, 2), (3.6, 1.0, 4), (2.0, 1.0, 3)])
def test_sojourn_tail_equals_numerical_convolution(lam: float, mu: float, c: int) -> None:
    # (1.0, 1.0, 2) has c*mu - lam == mu: the closed form's special case.
    q = mmc(lam, mu, c)
    for t in (0.1, 1.0, 2.5, 7.0, 15.0):
        assert q.sojourn_sf(t) == pytest.approx(_sojourn_sf_by_convolution(q, t), rel=1e-9)


def test_special_case_is_continuous() -> None:
    # theta = mu exactly versus theta a hair away from mu: no cancellation blow-up.
    exact, near = mmc(1.0, 1.0, 2), mmc(1.0 - 1e-9, 1.0, 2)
    for t in (0.5, 3.0, 12.0):
        assert near.sojourn_sf(t) == pytest.approx(exact.sojourn_sf(t), rel=1e-7)


@pytest.mark.parametrize(("lam", "mu", "c"), [(3.6, 1.0, 4), (0.9, 1.0, 1), (1.0, 1.0, 2)])
def test_mean_sojourn_is_the_integral_of_its_tail(lam: float, mu: float, c: int) -> None:
    q = mmc(lam, mu, c)
    area, _ = integrate.quad(q.sojourn_sf, 0, np.inf, limit=200)
    assert area == pytest.approx(q.sojourn_mean, rel=1e-8)
    wait_area, _ = integrate.quad(q.wait_sf, 0, np.inf, limit=200)
    assert wait_area == pytest.approx(q.wait_mean, rel=1e-8)


servers = st.integers(min_value=1, max_value=300)
_UNDERFLOW = 1e-280  # near the smallest normal float, where ratios lose their digits
per_server = st.floats(min_value=0.01, max_value=0.99)


@settings(max_examples=150, deadline=None)
@given(c=servers, rho=per_server)
def test_pooling_more_servers_at_the_same_load_waits_less(c: int, rho: float) -> None:
    # Economies of scale: at a fixed load per server, adding servers (and the load they
    # carry) lowers both the chance of waiting and the mean wait in service times.
    small, large = mmc(rho * c, 1.0, c), mmc(rho * (c + 1), 1.0, c + 1)
    assert large.prob_wait <= small.prob_wait
    assert large.wait_mean <= small.wait_mean
    if small.wait_mean > _UNDERFLOW:  # below it both are 0 or subnormal: no order to see
        assert large.prob_wait < small.prob_wait
        assert large.wait_mean < small.wait_mean


@settings(max_examples=150, deadline=None)
@given(c=servers, rho=per_server)
def test_waiting_is_likelier_than_blocking_and_grows_with_load(c: int, rho: float) -> None:
    load = rho * c
    b, wait = erlang_b(c, load), erlang_c(c, load)
    assert 0.0 <= b <= wait < 1.0
    assert wait <= erlang_c(c, min(load * 1.01, c * 0.999))
    if b > _UNDERFLOW:
        assert b < wait < erlang_c(c, min(load * 1.01, c * 0.999))


@settings(max_examples=100, deadline=None)
@given(c=st.integers(1, 50), rho=per_server, p=st.floats(0.001, 0.999))
def test_quantiles_invert_their_distributions(c: int, rho: float, p: float) -> None:
    q = mmc(rho * c, 2.0, c)
    t = q.sojourn_quantile(p)
    assert q.sojourn_cdf(t) == pytest.approx(p, abs=1e-9)
    w = q.wait_quantile(p)
    if p > 1 - q.prob_wait:
        assert q.wait_cdf(w) == pytest.approx(p, abs=1e-9)
    else:
        assert w == 0.0
    assert w <= t
