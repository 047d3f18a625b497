"""What a report says of the music's tempo: the lag against the seed's 120-180 ms and the
rival's 80-100 ms (seed 002), sentence by sentence."""

from __future__ import annotations

import pytest

from twin.report.findings import headlines
from twin.report.tables import experience_facts
from twin.report.tempo import rival_verdict, seed_verdict, tempo_facts, tempo_sentence


def _summary(p50: float, p99: float) -> dict:
    return {
        "experience": {
            "join_failures": 0,
            "tempo_lag_ms": {"p50": p50, "p99": p99, "max": p99 + 50},
            "tempo_stale_fraction": 0.0012,
            "audio_dry_fraction": 0.05,
        }
    }


@pytest.mark.parametrize(
    ("p99", "verdict"),
    [
        (75.0, "beats the rival (80-100 ms) even at p99"),
        (80.0, "matches the rival (80-100 ms) at p99"),
        (100.0, "matches the rival (80-100 ms) at p99"),
        (177.7, "does not beat the rival (80-100 ms): p99 is 77.7 ms behind its slowest"),
    ],
)
def test_the_rival_is_beaten_only_below_its_best(p99, verdict):
    assert rival_verdict(p99) == verdict


def test_the_seed_band_is_read_from_p50_and_p99():
    assert seed_verdict(121.0, 178.0) == "within the seed's 120-180 ms in beta"
    assert seed_verdict(121.0, 181.0) == "slower than the seed's 120-180 ms in beta"
    assert seed_verdict(90.0, 110.0) == "faster than the seed's 120-180 ms in beta"


def test_the_headline_states_the_lag_against_both():
    text = tempo_sentence(_summary(120.7, 177.7))
    assert text == (
        "Music tempo: stroke to tempo change p50 121 ms, p99 178 ms, within the seed's "
        "120-180 ms in beta; the design does not beat the rival (80-100 ms): p99 is 77.7 ms "
        "behind its slowest."
    )
    assert text in headlines(_summary(120.7, 177.7))


def test_riders_facts_carry_the_tempo_and_the_silence():
    facts = dict(experience_facts(_summary(90.0, 95.0)) or [])
    assert facts["tempo lag p99"] == "95 ms"
    assert facts["tempo lag vs the rival"] == "matches the rival (80-100 ms) at p99"
    assert facts["tempo updates stale"] == "0.12%"
    assert facts["music in silence (buffer dry)"] == "5.00%"


def test_no_music_no_words():
    assert tempo_sentence({"experience": {"join_failures": 0}}) is None
    assert tempo_facts({}) == []
