"""The tempo path (seed 002): the audio buffer, the stroke-to-tempo lag, and both engines on it.

The buffer is checked against its closed form (a CDN down for a minute silences a 30 s buffer
for 30 s, whatever the tick); the lag against SciPy's own distributions (the convolution of a
lognormal round trip, a uniform transition wait and a constant, integrated numerically); the
engines against each other on the music-partner launch at a reduced scale.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from twin.cli.app import main
from twin.config.audio import Audio
from twin.config.loader import load_scenario
from twin.config.network import ServiceTime
from twin.errors import InputError
from twin.runs.run import run_file
from twin.sim.audio_buffer import buffer_gaps, delivered_share, dry_fraction
from twin.sim.sketch import histogram_of
from twin.sim.tempo import draw_from_histogram, tempo_lags_ms

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.parametrize("tick_s", [1.0, 4.0, 20.0])
def test_a_cdn_down_for_a_minute_silences_a_30_s_buffer_for_30_s(tick_s):
    t = np.arange(0.0, 600.0, tick_s)
    supply = np.where((t >= 140) & (t < 200), 0.0, 25.0)  # down from 140 s to 200 s
    gaps = buffer_gaps(supply, tick_s, buffer_s=30.0)
    assert gaps.sum() == pytest.approx(30.0)
    assert t[gaps > 0].min() == pytest.approx(np.floor(170.0 / tick_s) * tick_s)
    assert gaps[t >= 200].sum() == 0.0  # refilled at 25x: no gap after


def test_a_half_supply_drains_at_half_speed_then_plays_what_arrives():
    supply = np.full(100, 0.5)  # 100 s at half the refill playback needs
    gaps = buffer_gaps(supply, 1.0, buffer_s=30.0)
    # empty after 30 / 0.5 = 60 s; then half of each second is silence
    assert gaps[:60].sum() == 0.0
    assert gaps.sum() == pytest.approx(40 * 0.5)


def test_delivered_share_is_egress_over_asked_capped_at_one():
    share = delivered_share(np.array([10.0, 10.0, 0.0]), np.array([5.0, 40.0, 3.0]))
    assert share.tolist() == [1.0, 0.25, 0.0]


def test_dry_fraction_weights_gaps_by_listeners():
    gaps = np.array([0.0, 1.0, 0.5])
    listeners = np.array([10.0, 30.0, 20.0])
    assert dry_fraction(gaps, listeners, 1.0) == pytest.approx((30 + 10) / 60)
    assert dry_fraction(gaps, np.zeros(3), 1.0) == 0.0


def test_draws_from_a_sketch_keep_its_quantiles():
    rng = np.random.default_rng(5)
    law = stats.lognorm(s=0.6, scale=0.004)
    hist = histogram_of(law.rvs(400_000, random_state=rng))
    draws = draw_from_histogram(hist, 400_000, np.random.default_rng(6))
    for q in (0.5, 0.9, 0.99):
        assert np.quantile(draws, q) == pytest.approx(law.ppf(q), rel=0.02)


def _lag_quantile(audio: Audio, route_ms: float, q: float) -> float:
    """The lag's q-quantile by numerical convolution: constant + lognormal + uniform."""
    rtt = audio.network_rtt
    sigma = math.sqrt(math.log1p(rtt.cv**2))
    law = stats.lognorm(s=sigma, scale=rtt.mean_s * 1000.0 * math.exp(-(sigma**2) / 2))
    g, c = audio.transition_ms, audio.device_ms + route_ms

    def cdf(x: float) -> float:
        return integrate.quad(lambda u: law.cdf(x - c - u), 0.0, g)[0] / g

    return optimize.brentq(lambda x: cdf(x) - q, c, c + 2000.0)


def test_lag_percentiles_match_the_convolution_of_its_parts():
    audio = Audio()
    route = np.full(300_000, 0.002)  # a 2 ms tempo route
    lags = tempo_lags_ms(route, audio, 0.0, np.random.default_rng(1))
    for q in (0.5, 0.99):
        assert np.quantile(lags, q) == pytest.approx(_lag_quantile(audio, 2.0, q), abs=0.6)


def test_each_lost_update_waits_a_sample_period():
    audio = Audio(
        network_rtt=ServiceTime(dist="deterministic", mean_s=0.05), transition_ms=0.0
    )
    lost = 0.2
    lags = tempo_lags_ms(np.zeros(400_000), audio, lost, np.random.default_rng(2))
    base = audio.device_ms + 50.0
    assert lags.min() == pytest.approx(base)
    # geometric losses in a row: mean lost / (1 - lost) periods, P(none) = 1 - lost
    assert lags.mean() - base == pytest.approx(2000.0 * lost / (1 - lost), rel=0.02)
    assert np.mean(np.isclose(lags, base)) == pytest.approx(1 - lost, abs=0.005)


def test_music_needs_a_tempo_route(scenarios_dir):
    with pytest.raises(InputError) as err:
        load_scenario(
            scenarios_dir / "music-partner-launch.yaml", ["architecture=phase1-monolith"]
        )
    assert err.value.field == "demand.music_share"
    assert "tempo" in str(err.value)



def test_music_without_a_tempo_route_is_one_line_and_exit_2(scenarios_dir, capsys):
    code = main(["run", str(scenarios_dir / "music-partner-launch.yaml"),
                 "--set", "architecture=phase1-monolith"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "demand.music_share" in err and "routes.tempo" in err


@pytest.fixture(scope="module")
def both_engines():
    overrides = ["duration_s=1800"]
    path = SCENARIOS / "music-partner-launch.yaml"
    return {
        engine: run_file(path, overrides, engine=engine, scale=0.002).summary
        for engine in ("exact", "fluid")
    }


def test_both_engines_report_the_tempo_path_alike(both_engines):
    exact, fluid = both_engines["exact"], both_engines["fluid"]
    for summary in (exact, fluid):
        lag = summary["experience"]["tempo_lag_ms"]
        assert 110.0 < lag["p50"] < lag["p99"] < 190.0  # the seed's 120-180 ms, as it happened
        assert summary["experience"]["audio_dry_fraction"] == 0.0  # 30 s outlast the shortfall
    e, f = (s["experience"]["tempo_lag_ms"] for s in (exact, fluid))
    assert e["p99"] == pytest.approx(f["p99"], rel=0.03)
    e, f = (s["requests"]["tempo"] for s in (exact, fluid))
    # which sessions play music is a coin per session (music_share 0.5): the exact engine's
    # count varies by its binomial spread, sqrt((1 - p) / (p n)) over n sessions; 3 sd of it
    sessions = exact["sessions"]
    assert e["count"] == pytest.approx(f["count"], rel=3.0 * math.sqrt(1.0 / sessions))
    assert e["latency_ms"]["p99"] == pytest.approx(f["latency_ms"]["p99"], rel=0.25)
    verdict = next(v for v in exact["slo"] if v["metric"] == "experience.tempo_lag_ms.p99")
    assert verdict["target"] == 180.0


def test_a_cdn_outage_longer_than_the_buffer_silences_the_music_on_both_engines():
    down = "incidents=[{type: component_down, component: cdn, start_s: 600, end_s: 720}]"
    path = SCENARIOS / "music-partner-launch.yaml"
    runs = {
        engine: run_file(path, ["duration_s=1800", down], engine=engine, scale=0.0005).summary
        for engine in ("exact", "fluid")
    }
    dry = {e: s["experience"]["audio_dry_fraction"] for e, s in runs.items()}
    # 120 s down, 30 s buffered: 90 s of silence for the listeners of those minutes, out of
    # half an hour of listening (riders vary little over it): about 90 / 1800
    for value in dry.values():
        assert value == pytest.approx(90.0 / 1800.0, rel=0.25)
    assert dry["exact"] == pytest.approx(dry["fluid"], rel=0.15)
