"""Drift statistics (`twin.results.drift`) against SciPy's own KS test and KL divergence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import entropy, ks_2samp

from twin.drill.drift import BIN_VALUES_MS
from twin.results.drift import MIN_KS_D, coarse_bins, drift_check, kl_divergence, verdict
from twin.sim.sketch import histogram_of


def _binned(samples_ms: np.ndarray) -> np.ndarray:
    return histogram_of(samples_ms / 1e3)


def _lognormal(rng: np.random.Generator, median_ms: float, n: int) -> np.ndarray:
    return median_ms * np.exp(rng.normal(0.0, 0.5, n))


def test_binned_ks_matches_scipy_on_the_raw_samples() -> None:
    rng = np.random.default_rng(1)
    a, b = _lognormal(rng, 10.0, 3000), _lognormal(rng, 12.0, 2000)
    check = drift_check(BIN_VALUES_MS, _binned(a), _binned(b))
    raw = ks_2samp(a, b)
    # bins 2.3 % wide move the CDFs by at most a bin's worth of mass
    assert check.ks_d == pytest.approx(raw.statistic, abs=0.02)
    assert (check.n_measured, check.n_reference) == (3000, 2000)
    assert check.median_measured == pytest.approx(np.median(a), rel=0.03)


def test_kl_is_scipys_entropy_of_the_smoothed_counts() -> None:
    ref, cur = np.array([10.0, 0.0, 5.0, 1.0]), np.array([3.0, 4.0, 0.0, 9.0])
    expected = entropy(ref + 0.5, cur + 0.5)  # scipy normalises both and sums p log(p/q)
    assert kl_divergence(ref, cur) == pytest.approx(expected, rel=1e-12)
    assert kl_divergence(ref, ref) == pytest.approx(0.0, abs=1e-12)


def test_same_law_agrees_and_a_doubled_median_drifts() -> None:
    rng = np.random.default_rng(2)
    ref = _binned(_lognormal(rng, 5.0, 600))
    same = drift_check(BIN_VALUES_MS, _binned(_lognormal(rng, 5.0, 200)), ref)
    slow = drift_check(BIN_VALUES_MS, _binned(_lognormal(rng, 10.0, 200)), ref)
    assert same.verdict == "agrees" and not same.drifted
    assert slow.verdict == "drift" and slow.ks_d >= MIN_KS_D and slow.ks_p < 1e-6


def test_thousands_of_samples_make_a_small_shift_significant_but_not_drift() -> None:
    """KS's power: 100,000 requests 10 % slower than predicted are significantly different,
    yet the prediction is right to within its accuracy, so no drift is declared."""
    rng = np.random.default_rng(3)
    ref = _binned(_lognormal(rng, 5.0, 100_000))
    check = drift_check(BIN_VALUES_MS, _binned(_lognormal(rng, 5.5, 100_000)), ref)
    assert check.ks_p < 1e-10
    assert check.ks_d < 0.1 and check.kl < 0.05
    assert check.verdict == "agrees"


def test_too_few_samples_say_nothing() -> None:
    rng = np.random.default_rng(4)
    check = drift_check(BIN_VALUES_MS, _binned(_lognormal(rng, 50.0, 10)),
                        _binned(_lognormal(rng, 5.0, 500)))  # fmt: skip
    assert check.verdict == "too few" and not check.drifted
    empty = drift_check(BIN_VALUES_MS, np.zeros(BIN_VALUES_MS.size), _binned(np.ones(50)))
    assert empty.verdict == "too few" and np.isnan(empty.ks_p)


def test_the_rule_needs_significance_and_size() -> None:
    assert verdict(0.01, 0.6, 0.1, 100, 100) == "drift"
    assert verdict(0.01, 0.2, 1.5, 100, 100) == "drift"  # a change of shape KL sees
    assert verdict(0.01, 0.2, 0.3, 100, 100) == "agrees"  # significant, small
    assert verdict(0.2, 0.6, 2.0, 100, 100) == "agrees"  # large, not significant
    assert verdict(0.0, 1.0, 5.0, 19, 100) == "too few"


def test_coarse_bins_are_tenths_of_a_decade() -> None:
    assert list(coarse_bins(np.array([1.0, 1.2, 1.3, 10.0, 0.1]))) == [0, 0, 1, 10, -10]


def test_telemetry_against_the_population_law() -> None:
    from twin.drill.drift import telemetry_drift
    from twin.platform.telemetry import TELEMETRY_LAWS

    rng = np.random.default_rng(5)
    same = np.round(rng.uniform(100, 170, 2000), 1)
    hot = np.round(rng.uniform(120, 190, 2000), 1)  # riders 20 bpm above the population
    checks = telemetry_drift({"heart_rate_bpm": list(same)}, TELEMETRY_LAWS)
    assert checks["heart_rate_bpm"].verdict == "agrees"
    assert checks["heart_rate_bpm"].n_reference == pytest.approx(20_000, rel=0.01)
    assert checks["cadence_rpm"].verdict == "too few"  # none sent
    drifted = telemetry_drift({"heart_rate_bpm": list(hot)}, TELEMETRY_LAWS)["heart_rate_bpm"]
    assert drifted.verdict == "drift" and drifted.ks_d == pytest.approx(20 / 70, abs=0.03)


def test_one_request_a_side_is_too_few_without_a_warning() -> None:
    one = _binned(np.array([3.0]))
    check = drift_check(BIN_VALUES_MS, one, _binned(np.array([4.0])))
    assert check.verdict == "too few" and 0.0 <= check.ks_p <= 1.0
