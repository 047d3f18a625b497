"""Pollaczek-Khinchine and Allen-Cunneen against the textbook cases they must reproduce."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.analytic.erlang import mmc
from twin.analytic.pk import ALLEN_CUNNEEN, PK, mg1, mgc_allen_cunneen
from twin.errors import UnstableError


def test_md1_waits_half_as_long_as_mm1() -> None:
    # M/D/1 at rho = 0.5, E[S] = 1 s: Wq = rho E[S] / (2 (1 - rho)) = 0.5 s, half of M/M/1's 1 s.
    deterministic, exponential = mg1(0.5, 1.0, 0.0), mg1(0.5, 1.0, 1.0)
    assert deterministic.wait_mean == pytest.approx(0.5, rel=1e-12)
    assert exponential.wait_mean == pytest.approx(mmc(0.5, 1.0, 1).wait_mean, rel=1e-12)
    assert deterministic.wait_mean == pytest.approx(exponential.wait_mean / 2, rel=1e-12)
    assert deterministic.sojourn_mean == pytest.approx(1.5, rel=1e-12)
    assert deterministic.method == PK and not deterministic.approximate


def test_pk_with_a_heavy_tail_waits_longer() -> None:
    # Lognormal with cv 3 (scv 9) at rho = 0.8 and E[S] = 20 ms:
    # Wq = rho (1 + scv) / (2 (1 - rho)) E[S] = 0.8 * 10 / 0.4 * 0.02 s = 0.4 s, 10x M/D/1's.
    q = mg1(40.0, 0.02, 9.0)
    assert q.utilization == pytest.approx(0.8)
    assert q.wait_mean == pytest.approx(0.4, rel=1e-12)
    assert q.queue_mean == pytest.approx(16.0, rel=1e-12)  # Little: 40/s x 0.4 s


def test_allen_cunneen_reduces_to_exact_cases() -> None:
    # One server: it is P-K. Exponential service: it is Erlang C. Both exact.
    for lam, scv in ((0.3, 0.0), (0.7, 2.5)):
        one = mgc_allen_cunneen(lam, 1.0, scv, 1)
        assert one.wait_mean == pytest.approx(mg1(lam, 1.0, scv).wait_mean, rel=1e-12)
        assert not one.approximate
    exp = mgc_allen_cunneen(3.6, 1.0, 1.0, 4)
    assert exp.wait_mean == pytest.approx(mmc(3.6, 1.0, 4).wait_mean, rel=1e-12)
    assert not exp.approximate


def test_allen_cunneen_md4_is_labelled_and_scaled() -> None:
    q = mgc_allen_cunneen(3.6, 1.0, 0.0, 4)
    assert q.wait_mean == pytest.approx(mmc(3.6, 1.0, 4).wait_mean / 2, rel=1e-12)
    assert q.approximate and q.method == ALLEN_CUNNEEN and "approx" in q.method


def test_unstable_and_bad_inputs() -> None:
    with pytest.raises(UnstableError, match="'db'"):
        mg1(2.0, 0.5, 0.0, name="db")
    with pytest.raises(UnstableError, match="'db'"):
        mgc_allen_cunneen(8.0, 0.5, 0.3, 4, name="db")
    with pytest.raises(ValueError, match="scv"):
        mg1(0.1, 1.0, -0.5)
    with pytest.raises(ValueError, match="service_mean"):
        mg1(0.1, 0.0, 1.0)


@settings(max_examples=100, deadline=None)
@given(rho=st.floats(0.01, 0.99), scv=st.floats(0.0, 20.0), mean=st.floats(1e-3, 10.0))
def test_pk_grows_linearly_in_scv(rho: float, scv: float, mean: float) -> None:
    # Wq is affine in scv: Wq(scv) = Wq(0) (1 + scv); and it scales with the service time.
    lam = rho / mean
    base = mg1(lam, mean, 0.0).wait_mean
    assert mg1(lam, mean, scv).wait_mean == pytest.approx(base * (1 + scv), rel=1e-9)
    assert base == pytest.approx(mg1(rho, 1.0, 0.0).wait_mean * mean, rel=1e-9)
