"""A real drill of the music launch: `twin drill --target local` rides `twin serve`, and half
the sessions post their rider's cadence to the tempo service every 2 s (seed 002).

The drill measures the tempo path end to end (Locust's own count beside ours), reports the
stroke-to-tempo lag from the measured answers plus the parts outside the platform, holds it to
the scenario's SLO, predicts the path's requests on the reference platform's model (a
prediction runs request streams, not riders: it has no rider experience to compare), and its
report states
the lag against the seed's and the rival's figures. One drill of 30 s serves the tests (20 s
drew 35-38 tempo posts against the 40 the first test asks for, in 2 runs of 2 on a quiet machine).
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from twin.cli.app import main
from twin.config.audio import Audio

ROOT = Path(__file__).resolve().parents[2]
SCALE, SPEEDUP, SECONDS = 1.5e-4, 180.0, 30


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("tempo-drill")
    with redirect_stdout(io.StringIO()):
        code = main([
            "drill", str(ROOT / "scenarios/music-partner-launch.yaml"), "--target", "local",
            "--scale", str(SCALE), "--speedup", str(SPEEDUP), "--duration", str(SECONDS),
            "--out", str(out),
        ])  # fmt: skip
    assert code == 0
    read = lambda name: json.loads((out / name).read_text())  # noqa: E731
    return {"out": out, "summary": read("summary.json"), "predicted": read("predicted.json")}


def test_music_sessions_post_their_cadence_at_the_planned_rate(drill):
    tempo = drill["summary"]["requests"]["tempo"]
    locust = drill["summary"]["drill"]["locust"]["tempo"]
    assert tempo["count"] >= 40 and tempo["errors"] == 0
    assert abs(tempo["count"] - locust["count"]) <= max(2, 0.02 * locust["count"])
    # half the sessions, one sample per 2 s each: the twin's rate, within the drill's noise.
    # A 30 s drill at 180x rides a handful of music sessions, so the count is noisy on both
    # sides: 1.9/s and 3.9/s were seen against 3.0 requested (`make test`, two workers)
    assert tempo["achieved_per_s"] == pytest.approx(tempo["requested_per_s"], rel=0.5)


def test_the_lag_is_the_measured_answer_plus_the_parts_outside_the_platform(drill):
    summary, audio = drill["summary"], Audio()
    lag = summary["experience"]["tempo_lag_ms"]
    answered = summary["requests"]["tempo"]["latency_ms"]
    assert lag["samples"] == summary["requests"]["tempo"]["count"]
    # at least the device's own delay plus the fastest answer, the round trip's mean near p50
    assert lag["p50"] > audio.device_ms + answered["p50"]
    rtt_ms = audio.network_rtt.mean * 1000.0
    assert lag["p50"] == pytest.approx(audio.device_ms + rtt_ms + answered["p50"]
                                       + audio.transition_ms / 2, rel=0.1)  # fmt: skip
    assert lag["p50"] < lag["p99"] <= lag["max"]
    verdict = next(v for v in summary["slo"] if v["metric"] == "experience.tempo_lag_ms.p99")
    assert verdict["observed"] == lag["p99"]


def test_the_prediction_includes_the_tempo_path(drill):
    predicted = drill["predicted"]["requests"]["tempo"]
    measured = drill["summary"]["requests"]["tempo"]
    replications = drill["predicted"]["replications"]
    # the twin sends what the drill was asked to send: the requested rate over the drill
    requested = measured["requested_per_s"] * SECONDS * replications
    assert predicted["count"] == pytest.approx(requested, rel=0.25)
    assert 0 < predicted["latency_ms"]["p50"] < 100.0  # loopback: milliseconds, not the rtt
    assert 0 < measured["latency_ms"]["p50"] < 100.0


def test_the_report_states_the_lag_against_the_seed_and_the_rival(drill):
    page = (drill["out"] / "report.html").read_text()
    assert "Music tempo: stroke to tempo change" in page
    assert "the seed&#39;s 120-180 ms in beta" in page
    assert "the rival (80-100 ms)" in page
