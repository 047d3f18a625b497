"""The tempo service (seed 002): cadence samples in, the music's BPM out, on both backends.

The arithmetic is checked against NumPy's weighted average and by hand (octave folding); the
route over real HTTP on the embedded and the Redis backend: the answer is the arithmetic of
the samples of the last 10 s, older ones dropped, bad input a 400 naming the field, another
device's token a 403.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from twin.serve.tempo_bpm import HALF_LIFE_S, WINDOW_S, fold_bpm, tempo_of


@pytest.mark.parametrize(
    ("strokes", "bpm"), [(90.0, 90.0), (45.0, 90.0), (25.0, 100.0), (170.0, 170.0), (240.0, 120.0)]
)
def test_one_beat_per_stroke_folded_by_octaves(strokes, bpm):
    assert fold_bpm(strokes) == bpm


def test_the_cadence_is_the_half_life_weighted_mean_of_the_window():
    samples = [(100.0 + 2 * k, 60.0) for k in range(8)] + [(116.0, 90.0)]
    ages = np.array([116.0 - t for t, _ in samples])
    inside = ages <= WINDOW_S
    expected = np.average(
        np.array([rpm for _, rpm in samples])[inside], weights=0.5 ** (ages[inside] / HALF_LIFE_S)
    )
    tempo = tempo_of(samples)
    assert tempo.cadence_rpm == pytest.approx(expected, abs=0.005)
    assert tempo.samples == int(inside.sum()) == 6
    assert tempo.bpm == pytest.approx(fold_bpm(expected), abs=0.05)


def test_a_held_change_is_half_the_answer_after_one_half_life():
    samples = [(float(t), 60.0) for t in range(0, 9)] + [(9.0, 100.0), (10.0, 100.0)]
    # the 100 rpm samples weigh 1 + 2^-0.5; the 60 rpm ones the rest of the window
    held = 1 + 2**-0.5
    rest = sum(2 ** (-(10 - t) / HALF_LIFE_S) for t in range(0, 9))
    assert tempo_of(samples).cadence_rpm == pytest.approx(
        (100 * held + 60 * rest) / (held + rest), abs=0.005
    )


def test_a_rider_who_stopped_has_no_tempo():
    assert tempo_of([(0.0, 0.0), (1.0, 5.0)]).bpm is None


def _post(client: Any, device: str, body: Any, token: str | None = None) -> Any:
    token = token or client.token("device", device)
    return client.post(f"/v1/devices/{device}/tempo", token=token, json=body)


def test_the_route_answers_the_tempo_of_the_last_ten_seconds(client, uid):
    device, now = f"d-{uid}", time.time()
    sent = [(now - 14.0 + 2 * k, 60.0 + 5 * k) for k in range(8)]  # the last at now
    for t, rpm in sent:
        answer = _post(client, device, {"t": t, "cadence_rpm": rpm})
        assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = tempo_of([s for s in sent if sent[-1][0] - s[0] <= WINDOW_S])
    assert body["samples"] == expected.samples == 6
    assert body["cadence_rpm"] == pytest.approx(expected.cadence_rpm, abs=0.01)
    assert body["bpm"] == pytest.approx(expected.bpm, abs=0.05)
    assert body == {**body, "device_id": device, "window_s": WINDOW_S}


def test_devices_keep_their_own_cadence(client, uid):
    now = time.time()
    fast = _post(client, f"a-{uid}", {"t": now, "cadence_rpm": 100.0}).json()
    slow = _post(client, f"b-{uid}", {"t": now, "cadence_rpm": 70.0}).json()
    assert (fast["bpm"], slow["bpm"]) == (100.0, 70.0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"t": "now", "cadence_rpm": 90}, "t"),
        ({"cadence_rpm": 90}, "t"),
        ({"t": 0.0, "cadence_rpm": 90}, "t"),  # 1970: older than max_age_s
        ({"t": None, "cadence_rpm": 90}, "t"),
        ({"cadence_rpm": 250, "t": "later"}, "t"),
        ({"t": "TIME", "cadence_rpm": -1}, "t"),
        ({"t": "NOW", "cadence_rpm": 90, "bpm": 120}, "unknown field 'bpm'"),
        ([90], "must be a JSON object"),
    ],
)
def test_bad_samples_are_a_400_naming_the_field(client, uid, body, field):
    answer = _post(client, f"d-{uid}", body)
    assert answer.status_code == 400
    assert field in answer.json()["error"]


def test_cadence_out_of_bounds_and_the_clock_are_checked(client, uid):
    now = time.time()
    high = _post(client, f"d-{uid}", {"t": now, "cadence_rpm": 250})
    assert (high.status_code, high.json()["error"]) == (400, "cadence_rpm: 250 is above 200")
    future = _post(client, f"d-{uid}", {"t": now + 3600, "cadence_rpm": 90})
    assert future.status_code == 400 and future.json()["error"].startswith("t: ")


def test_another_devices_token_is_refused(client, uid):
    answer = _post(client, f"d-{uid}", {"t": time.time(), "cadence_rpm": 90},
                   token=client.token("device", f"other-{uid}"))  # fmt: skip
    assert answer.status_code == 403
    unsigned = client.post(f"/v1/devices/d-{uid}/tempo", json={"t": time.time(), "cadence_rpm": 9})
    assert unsigned.status_code == 401
