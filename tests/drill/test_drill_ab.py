"""A/B drills: the seed's stable assignment, the difference's interval, bad input, a real drill.

The real A/B drill (two local platforms at once, cache TTL 3600 s against 1 s, ~80 s) is
marked slow, as is one of two hosts with a known 50 ms delay on the treatment; a treatment
that never starts takes ~15 s, everything else a second.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from scipy.stats import ttest_ind

from twin.cli.app import main
from twin.drill.ab import assign_variant, compare_variants, in_variant, serve_args
from twin.drill.measure import Measured, TypeMeasure
from twin.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def test_assignment_is_the_seeds_rule_on_a_stable_hash() -> None:
    ids = [f"rider-{i}" for i in range(20_000)]
    control = [r for r in ids if assign_variant(r, 50) == "control"]
    assert abs(len(control) / len(ids) - 0.5) < 0.015
    assert abs(sum(assign_variant(r, 20) == "control" for r in ids) / len(ids) - 0.2) < 0.015
    for rider in ids[:50]:  # sha256("experiment:rider") mod 100 < split, computed here again
        h = int.from_bytes(hashlib.sha256(f"twin-drill-ab:{rider}".encode()).digest()[:8], "big")
        assert assign_variant(rider, 37) == ("control" if h % 100 < 37 else "treatment")
    pool = [{"rider_id": r} for r in ids[:200]]
    a, b = in_variant(pool, "control", 50), in_variant(pool, "treatment", 50)
    assert len(a) + len(b) == 200 and not {r["rider_id"] for r in a} & {r["rider_id"] for r in b}


def _measure(samples_ms: np.ndarray, per_window: int) -> TypeMeasure:
    m = TypeMeasure()
    for k, start in enumerate(range(0, samples_ms.size, per_window)):
        hist = HdrHistogram(1, 3_600_000_000, 3)
        for v in samples_ms[start : start + per_window]:
            hist.record_value(int(v * 1000))
            m.intended.record_value(int(v * 1000))
        m.windows[k] = hist
    m.count = int(samples_ms.size)
    return m


def _measured(samples_ms: np.ndarray) -> Measured:
    return Measured({"recommend": _measure(samples_ms, 20)}, {}, 1)


def test_the_difference_and_its_interval_against_welch() -> None:
    """Independent requests: the block bootstrap's interval of the mean difference is about
    Welch's t interval (SciPy's) on the raw samples, far from 0 (20 ms were added to B)."""
    rng = np.random.default_rng(7)
    a = 10.0 * np.exp(rng.normal(0, 0.5, 1200))
    b = 10.0 * np.exp(rng.normal(0, 0.5, 1200)) + 20.0
    result = compare_variants(_measured(a), _measured(b), np.random.default_rng(1))
    mean = result["recommend"]["latency_ms"]["mean"]
    welch = ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert mean["difference"] == pytest.approx(b.mean() - a.mean(), rel=0.03)
    lo, hi = mean["ci95"]
    width = welch.high - welch.low
    assert lo == pytest.approx(welch.low, abs=0.15 * width)
    assert hi == pytest.approx(welch.high, abs=0.15 * width)
    assert lo > 15.0
    p50 = result["recommend"]["latency_ms"]["p50"]
    assert p50["ci95"][0] < np.median(b) - np.median(a) < p50["ci95"][1]
    assert result["recommend"]["count"] == {"control": 1200, "treatment": 1200}


def test_same_law_gives_an_interval_around_zero() -> None:
    rng = np.random.default_rng(8)
    a, b = (5.0 * np.exp(rng.normal(0, 0.4, 600)) for _ in range(2))
    figures = compare_variants(_measured(a), _measured(b), np.random.default_rng(2))
    for name in ("mean", "p50", "p95"):
        lo, hi = figures["recommend"]["latency_ms"][name]["ci95"]
        assert lo < 0 < hi, name


def test_serve_options_of_a_local_variant_are_checked() -> None:
    assert serve_args("--cache-ttl 5") == ("--cache-ttl", "5")
    assert serve_args("--cache-ttl=5 --consumers 2") == ("--cache-ttl=5", "--consumers", "2")
    with pytest.raises(InputError, match="--ab"):
        serve_args("--data-dir /etc")
    with pytest.raises(InputError, match="--ab"):
        serve_args("5")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--target", "local", "--ab", "--cache-ttl 1", "--split", "0"], "--split: must be"),
        (["--target", "local", "--ab", "--cache-ttl 1", "--split", "100"], "--split: must be"),
        (["--target", "local", "--ab=--data-dir /tmp"], "--ab: with --target local"),
        (["--host", "http://127.0.0.1:9", "--ab", "http://127.0.0.1:9"], "cannot reach"),
        (["--host", "http://127.0.0.1:9", "--ab", "--cache-ttl 1"], "--ab: with --host"),
    ],
)
def test_bad_ab_input_is_one_line_and_exit_2(tmp_path, capsys, args, expected) -> None:
    code = main(["drill", str(ROOT / "scenarios/daily-peak.yaml"), *args,
                 "--out", str(tmp_path / "x")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert expected in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x" / "ab.json").exists()


def test_a_treatment_that_never_comes_up_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    """The treatment's platform refuses to start: the control, waiting to start its load with
    it, stops at once (its own platform too); ~15 s."""
    code = main(["drill", str(ROOT / "scenarios/daily-peak.yaml"), "--target", "local",
                 "--scale", "3e-4", "--speedup", "180", "--ab", "--consumers 0",
                 "--out", str(tmp_path / "x"), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("twin: the treatment variant's drill failed")
    assert "consumers" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x" / "ab.json").exists()


@pytest.mark.slow
def test_an_ab_drill_of_two_cache_ttls(tmp_path) -> None:
    out = tmp_path / "ab"
    code = main(["drill", str(ROOT / "scenarios/daily-peak.yaml"), "--target", "local",
                 "--scale", "3e-4", "--speedup", "180", "--ab", "--cache-ttl 1",
                 "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    doc = json.loads((out / "ab.json").read_text())
    assert doc["variants"]["treatment"]["serve_args"] == ["--cache-ttl", "1"]
    rec = doc["requests"]["recommend"]
    assert min(rec["count"].values()) >= 10
    for name in ("mean", "p50", "p95"):
        fig = rec["latency_ms"][name]
        assert fig["difference"] == pytest.approx(fig["treatment"] - fig["control"], abs=1e-3)
        assert fig["ci95"] is not None and fig["ci95"][0] <= fig["ci95"][1]
    # the configurations took: the 1 s cache never hits, the 1 h one does
    hits = {v: _cache(out / v / "metrics.txt") for v in ("control", "treatment")}
    assert hits["treatment"].get("hit", 0) == 0 and hits["treatment"]["miss"] > 0
    assert hits["control"].get("hit", 0) > 0
    for variant in ("control", "treatment"):
        summary = json.loads((out / variant / "summary.json").read_text())
        assert summary["drill"]["variant"] == variant and summary["drill"]["split"] == 50
    page = (out / "report.html").read_text()
    assert "recommend" in page and "95 % interval" in page and (out / "ab-difference.png").exists()
    assert "join_failures" in doc["experience"] and doc["slo"]


def _cache(metrics: Path) -> dict[str, float]:
    out = {}
    for line in metrics.read_text().splitlines():
        if line.startswith("recommendation_cache_total{"):
            result = line.split('result="', 1)[1].split('"', 1)[0]
            out[result] = float(line.rsplit(" ", 1)[1])
    return out


@pytest.mark.slow
def test_an_ab_drill_of_two_hosts_finds_a_known_delay(tmp_path, monkeypatch) -> None:
    """Two platforms signing with one secret, the treatment's `recommend` route slowed by
    50 ms (its fault-injection API): the difference's interval holds about 50 ms. ~90 s."""
    from twin.drill.target import LocalPlatform, Target
    from twin.serve.tokens import sign

    platforms = [LocalPlatform(tmp_path / f"serve-{k}", riders=40) for k in ("a", "b")]
    platforms[1].secret = platforms[0].secret  # one TWIN_SECRET signs for both hosts
    monkeypatch.setenv("TWIN_SECRET", platforms[0].secret)
    try:
        urls = [p.start() for p in platforms]
        admin = sign("admin", "ab-test", platforms[0].secret, 3600.0)
        Target(urls[1]).set_faults(admin, {"routes": {"recommend": {"latency_s": 0.05}}})
        code = main(["drill", str(ROOT / "scenarios/daily-peak.yaml"), "--host", urls[0],
                     "--ab", urls[1], "--architecture", "reference-platform", "--scale", "3e-4",
                     "--speedup", "180", "--out", str(tmp_path / "ab"), "--quiet"])  # fmt: skip
    finally:
        for p in platforms:
            p.stop()
    assert code == 0
    rec = json.loads((tmp_path / "ab" / "ab.json").read_text())["requests"]["recommend"]
    p50 = rec["latency_ms"]["p50"]
    assert 40.0 <= p50["difference"] <= 70.0
    assert p50["ci95"][0] > 25.0 and p50["ci95"][1] < 75.0


def test_experience_and_slos_per_variant() -> None:
    from twin.drill.ab import compare_experience

    a = {"experience": {"join_failures": 1, "leaderboard_lag_s": {"p99": 4.0}},
         "slo": [{"name": "lag", "metric": "experience.leaderboard_lag_s.p99",
                  "observed": 4.0, "passed": True}]}  # fmt: skip
    b = {"experience": {"join_failures": 3, "leaderboard_lag_s": {"p99": 9.5}},
         "slo": [{"name": "lag", "metric": "experience.leaderboard_lag_s.p99",
                  "observed": 9.5, "passed": False}]}  # fmt: skip
    out = compare_experience(a, b)
    assert out["experience"]["join_failures"] == {"control": 1, "treatment": 3, "difference": 2}
    assert out["experience"]["leaderboard_lag_s.p99"]["difference"] == 5.5
    assert out["slo"][0]["control"]["passed"] and not out["slo"][0]["treatment"]["passed"]
